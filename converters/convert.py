"""`edgepose convert`: zoo model + checkpoint → verified artifact directory (model files + edgepose.json).

Everything is written into a hidden temporary directory beside the destination and renamed into place at
the end, so a failed run leaves nothing behind.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgepose.runtimes.atomic import atomic_directory
from edgepose.runtimes.card import InputSpec, ModelCard, OutputSpec
from edgepose.runtimes.errors import ConfigError, ExportError
from edgepose.runtimes.version import __version__

from .checkpoint import load_weights, read_state_dict
from .download import download, is_url, sha256_of
from .onnx_export import OPSET, export_onnx, run_onnx
from .onnx_weights import import_folded_onnx
from .zoo import ModelSpec, card_metadata, get_spec

log = logging.getLogger(__name__)

TARGETS = ("onnx",)
PRECISIONS = ("fp32",)
FP32_TOLERANCE = 1e-3  # max|diff| ≤ tol · max(1, max|ref|) between the artifact and PyTorch


@dataclass(frozen=True)
class ConvertOptions:
    target: str = "onnx"        # artifact format; see TARGETS
    precision: str = "fp32"     # see PRECISIONS
    opset: int = OPSET          # ONNX opset (13..17)
    verify: bool = True         # run the artifact and compare with PyTorch; a mismatch is an error
    overwrite: bool = False     # replace an existing artifact directory
    progress: bool = True       # show download progress bars

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ConfigError(f"target {self.target!r} is not supported yet (supported: {', '.join(TARGETS)})")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r} is not supported for target {self.target!r} "
                              f"(supported: {', '.join(PRECISIONS)})")
        if not 13 <= self.opset <= OPSET:
            raise ConfigError(f"opset {self.opset} is out of range; use 13..{OPSET}")


def artifact_name(spec: ModelSpec, options: ConvertOptions) -> str:
    return f"{spec.name}-{options.target}-{options.precision}"


def resolve_weights(spec: ModelSpec, weights: str | None, progress: bool = True) -> Path:
    """A local checkpoint for `spec`: the given path, a downloaded URL, or the official checkpoint."""
    if weights is None:
        log.info("no --weights given; fetching the official %s checkpoint", spec.name)
        return download(spec.url, spec.sha256_prefix, progress=progress)
    if is_url(weights):
        return download(weights, spec.sha256_prefix if weights == spec.url else None, progress=progress)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ConfigError(f"--weights {weights}: no such file")
    return path


def load_model(spec: ModelSpec, weights: Path) -> nn.Module:
    """Build the zoo model and load `weights` strictly (an ONNX file for models that allow ONNX import)."""
    model = spec.build()
    if weights.suffix.lower() == ".onnx":
        if not spec.onnx_import:
            raise ConfigError(f"{spec.name} cannot take weights from an ONNX file; pass its MMPose .pth checkpoint")
        import_folded_onnx(model, weights, ("backbone.", "neck."), "bbox_head")
    else:
        load_weights(model, read_state_dict(weights), spec.name)
    return model.eval()


def convert(model_name: str, output: str | Path, weights: str | None = None,
            options: ConvertOptions = ConvertOptions()) -> Path:
    """Convert a zoo model; return the artifact directory `output/<model>-<target>-<precision>`."""
    spec = get_spec(model_name)
    final = Path(output) / artifact_name(spec, options)
    if final.exists() and not options.overwrite:  # checked before any download or export
        raise ConfigError(f"{final} already exists; pass --overwrite to replace it or choose another --output")
    weights_path = resolve_weights(spec, weights, options.progress)
    model = load_model(spec, weights_path)
    start = time.perf_counter()
    with atomic_directory(final, options.overwrite) as tmp:
        card = _export(spec, model, tmp, options, source={
            "model": spec.name, "family": spec.family, "config": spec.config,
            "checkpoint": weights or spec.url, "sha256": sha256_of(weights_path), "official_url": spec.url,
            "reported_coco_ap": spec.ap})
        card.save(tmp)
    log.info("wrote %s in %.1f s", final, time.perf_counter() - start)
    return final


def _export(spec: ModelSpec, model: nn.Module, directory: Path, options: ConvertOptions,
            source: dict[str, Any]) -> ModelCard:
    h, w = spec.input_hw
    output_names = tuple(model.output_names)
    onnx_path = directory / f"{spec.name}.onnx"
    dynamic = spec.task == "pose"
    export_onnx(model, onnx_path, (1, 3, h, w), output_names, dynamic_batch=dynamic, opset=options.opset)

    x = _probe_input(spec, batch=2 if dynamic else 1)
    with torch.no_grad():
        ref = [t.numpy() for t in _as_tuple(model(torch.from_numpy(x)))]
    got = run_onnx(onnx_path, x)
    verification = _compare(ref, got, output_names) if options.verify else None
    if verification is not None and not verification["passed"]:
        raise ExportError(f"the exported ONNX disagrees with PyTorch: {verification['summary']}; "
                          "re-run with --no-verify to keep it anyway")

    outputs = []
    for name, arr in zip(output_names, ref):
        shape = [-1 if dynamic else arr.shape[0], *arr.shape[1:]]
        stride = int(name.rsplit("_s", 1)[1]) if spec.task == "detection" else None
        role = name.split("_")[0] if spec.task == "detection" else name
        outputs.append(OutputSpec(name=name, role=role, shape=shape, stride=stride))
    return ModelCard(
        task=spec.task, format="onnx", files={"model": onnx_path.name},
        input=InputSpec(name="input", shape=[-1 if dynamic else 1, 3, h, w], layout="NCHW", dtype="float32",
                        color=spec.color, mean=list(spec.mean), std=list(spec.std)),
        outputs=outputs, decoder=dict(spec.decoder), precision=options.precision, source=source,
        edgepose_version=__version__, verification=verification, **card_metadata(spec))


def _probe_input(spec: ModelSpec, batch: int) -> np.ndarray:
    """Deterministic input in the network's normalized range (seeded standard normal)."""
    h, w = spec.input_hw
    return np.random.default_rng(0).standard_normal((batch, 3, h, w)).astype(np.float32)


def _compare(ref: list[np.ndarray], got: list[np.ndarray], names: tuple[str, ...]) -> dict[str, Any]:
    per_output = {}
    passed = True
    for name, r, g in zip(names, ref, got):
        diff = float(np.abs(r - g).max())
        bound = FP32_TOLERANCE * max(1.0, float(np.abs(r).max()))
        cos = float(np.dot(r.ravel(), g.ravel()) / (np.linalg.norm(r) * np.linalg.norm(g) + 1e-12))
        per_output[name] = {"max_abs_diff": diff, "tolerance": bound, "cosine": cos}
        passed &= diff <= bound
    worst = max(per_output, key=lambda n: per_output[n]["max_abs_diff"] / per_output[n]["tolerance"])
    summary = f"{worst}: max|diff| {per_output[worst]['max_abs_diff']:.3g} (tolerance {per_output[worst]['tolerance']:.3g})"
    return {"against": "pytorch", "input": "seeded standard normal", "outputs": per_output, "passed": passed,
            "summary": summary}


def _as_tuple(out: Any) -> tuple:
    return out if isinstance(out, tuple) else (out,)
