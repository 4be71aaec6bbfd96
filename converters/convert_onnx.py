"""`edgepose convert FILE.onnx --card-fields FIELDS.json`: a user's own ONNX model → verified ONNX, NCNN and
TFLite artifacts.

The ONNX file says nothing about colour order, normalization, what each output means or how to decode it,
so the user supplies those card fields in a small JSON (documented in README, "Your own ONNX model"):

    {"task": "detection", "input": {"color": "BGR", "mean": [103.53, 116.28, 123.675], "std": [57.375, 57.12, 58.395]},
     "outputs": [{"role": "cls_box", "stride": 8, "layout": "NHWC"}, ...],
     "decoder": {"type": "rtmdet", "strides": [8, 16, 32], ...}, "classes": ["person"]}

Pose models may write `"keypoints": "coco17"` for COCO-17 names, skeleton, flip pairs and OKS sigmas.
Everything the file does say (tensor names, shapes, layout) is filled in by the converter. Every artifact is
verified against onnxruntime running the source model, like zoo conversions are against PyTorch.
"""
from __future__ import annotations

import json
import logging
import re
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edgepose.runtimes.card import SCHEMA_VERSION, ModelCard
from edgepose.runtimes.errors import ConfigError, ExportError
from edgepose.runtimes.keypoints import COCO17_FLIP_PAIRS, COCO17_NAMES, COCO17_SIGMAS, COCO17_SKELETON
from edgepose.runtimes.version import __version__

from .convert import ConversionReport, ConvertOptions, check_output, write_plan
from .download import sha256_of
from .ncnn_export import export_ncnn
from .onnx_export import cast_weights_fp16
from .onnx_to_torch import OnnxModule, load_static_onnx
from .quiet import quiet
from .tflite_export import export_tflite
from .verify import ProbeInput, verify_artifact

log = logging.getLogger(__name__)

USER_FIELDS = {"task", "input", "outputs", "decoder", "keypoints", "skeleton", "flip_pairs", "sigmas",
               "bbox_padding", "classes", "input_shape", "name"}


def read_card_fields(fields: str | Path | dict[str, Any]) -> dict[str, Any]:
    """The user's card fields from a JSON file (or a dict), with unknown keys rejected."""
    if not isinstance(fields, dict):
        path = Path(fields)
        try:
            fields = json.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"--card-fields {path}: cannot read ({exc.strerror})") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--card-fields {path}: not valid JSON ({exc})") from exc
    if not isinstance(fields, dict):
        raise ConfigError("card fields: the top level must be a JSON object")
    unknown = sorted(set(fields) - USER_FIELDS)
    if unknown:
        raise ConfigError(f"card fields: unknown key(s) {unknown}; known: {sorted(USER_FIELDS)}")
    for key in ("task", "input", "outputs", "decoder"):
        if key not in fields:
            raise ConfigError(f"card fields: '{key}' is required (see README, 'Your own ONNX model')")
    if not isinstance(fields["outputs"], list) or not all(isinstance(o, dict) for o in fields["outputs"]):
        raise ConfigError("card fields: 'outputs' must be a list of objects, one per ONNX output, in order")
    if fields.get("keypoints") == "coco17":
        fields = {**fields, "keypoints": list(COCO17_NAMES), "skeleton": [list(p) for p in COCO17_SKELETON],
                  "flip_pairs": [list(p) for p in COCO17_FLIP_PAIRS], "sigmas": list(COCO17_SIGMAS)}
    return fields


def convert_onnx(path: str | Path, output: str | Path, card_fields: str | Path | dict[str, Any],
                 options: ConvertOptions = ConvertOptions(),  # noqa: B008 (frozen)
                 report: ConversionReport | None = None) -> list[Path]:
    """Convert the ONNX model at `path` to every requested target × precision under `output`; returns the
    artifact directories `output/<name>-<target>-<precision>` in the order written."""
    import onnx
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    fields = read_card_fields(card_fields)
    stem = fields.get("name") or path.stem
    plan = [(t, p) for t in options.targets for p in options.precisions]
    check_output(Path(output), [Path(output) / f"{stem}-{t}-{p}" for t, p in plan], options.overwrite)
    model, input_name, shape = load_static_onnx(path, fields.get("input_shape"))
    if len(fields["outputs"]) != len(model.graph.output):
        raise ConfigError(f"{path.name} has {len(model.graph.output)} outputs "
                          f"({', '.join(o.name for o in model.graph.output)}); the card fields describe "
                          f"{len(fields['outputs'])}")
    inp = fields["input"]
    probe = ProbeInput.create(fields["task"], shape[2:], inp.get("color", "RGB"), inp.get("mean"), inp.get("std"),
                              options.verify_image, options.verify_box)
    with tempfile.TemporaryDirectory(prefix="edgepose-onnx-") as scratch:
        static = Path(scratch) / f"{stem}.onnx"
        onnx.save(model, str(static))
        session = ort.InferenceSession(str(static), providers=["CPUExecutionProvider"])

        def reference(nchw: np.ndarray) -> list[np.ndarray]:
            return session.run(None, {input_name: nchw})

        output_shapes = [o.shape for o in reference(np.zeros(shape, np.float32))]
        source = {"model": stem, "onnx": path.name, "sha256": sha256_of(path), "origin": "user ONNX"}

        def write(target: str, precision: str, directory: Path) -> None:
            _write_verified(fields, model, static, target, shape, output_shapes, source, reference, probe, options,
                            precision, directory, f"{stem}-{target}-{precision}")

        return write_plan(plan, lambda t, p: Path(output) / f"{stem}-{t}-{p}", fields["task"], options, write,
                          Path(scratch), report)


def _write_verified(fields: dict[str, Any], model, static: Path, target: str, shape: tuple[int, ...],
                    output_shapes: list[tuple[int, ...]], source: dict[str, Any], reference, probe: ProbeInput,
                    options: ConvertOptions, precision: str, directory: Path, name: str) -> ModelCard:
    """Write one fp32/fp16 artifact and verify it against onnxruntime on the source (unless told not to)."""
    card = _build(fields, model, static, target, precision, directory, shape, output_shapes, source)
    card.save(directory)
    if options.verify:
        with quiet("runtime"):
            result = verify_artifact(directory, reference, probe, precision, against="onnxruntime (source)")
        card = replace(card, verification=result)
        card.save(directory)
        if not result["passed"]:
            raise ExportError(f"{name} disagrees with the source ONNX: {result['summary']}; "
                              "re-run with --no-verify to keep it anyway")
    return card


def _build(fields: dict[str, Any], model, static: Path, target: str, precision: str, directory: Path,
           shape: tuple[int, ...], output_shapes: list[tuple[int, ...]], source: dict[str, Any]) -> ModelCard:
    """Write one artifact's model files into `directory`; return its card (validated, not yet verified)."""
    import shutil

    fp16 = precision == "fp16"
    stem = static.stem
    onnx_names = [o.name for o in model.graph.output]
    if target == "onnx":
        dest = directory / static.name
        cast_weights_fp16(static, dest) if fp16 else shutil.copyfile(static, dest)
        files, input_name, names = {"model": dest.name}, model.graph.input[0].name, onnx_names
        input_shape, layout = list(shape), "NCHW"
    elif target == "ncnn":
        with quiet("pnnx"):
            ncnn = export_ncnn(static, directory, stem, shape, fp16)
        if len(ncnn.output_names) != len(onnx_names):
            raise ExportError(f"pnnx produced {len(ncnn.output_names)} outputs, expected {len(onnx_names)}")
        files, input_name, names = {"param": ncnn.param, "bin": ncnn.bin}, ncnn.input_name, ncnn.output_names
        input_shape, layout = list(shape), "NCHW"
        source = {**source, "ncnn_fp32_layers": ncnn.fp32_layers}
    else:
        module = OnnxModule(model).eval()
        signature_names = tuple(_identifier(n, i) for i, n in enumerate(onnx_names))
        with quiet("litert-torch"):
            tfl = export_tflite(module, directory, stem, (1, shape[2], shape[3], 3), signature_names, fp16)
        files, input_name, names = {"model": tfl.model}, tfl.input_name, tfl.output_names
        input_shape, layout = [1, shape[2], shape[3], 3], "NHWC"
    outputs = [{**spec, "name": name, "shape": [int(d) for d in out_shape]}
               for spec, name, out_shape in zip(fields["outputs"], names, output_shapes)]
    inp = fields["input"]
    data = {"version": SCHEMA_VERSION, "task": fields["task"], "format": target,
            "files": files,
            "input": {"name": input_name, "shape": input_shape, "layout": layout, "dtype": "float32",
                      "color": inp.get("color", "RGB"), "mean": inp.get("mean"), "std": inp.get("std")},
            "outputs": outputs, "decoder": fields["decoder"], "keypoints": fields.get("keypoints", []),
            "skeleton": fields.get("skeleton", []), "flip_pairs": fields.get("flip_pairs", []),
            "sigmas": fields.get("sigmas", []),
            "bbox_padding": fields.get("bbox_padding", 1.25 if fields["task"] == "pose" else None),
            "classes": fields.get("classes", []), "precision": precision, "source": source,
            "edgepose_version": __version__}
    return ModelCard.from_dict(data)


def _identifier(name: str, index: int) -> str:
    """A TFLite signature output name from an ONNX output name ('1211' → 'output_1211')."""
    clean = re.sub(r"\W", "_", name)
    return clean if clean[:1].isalpha() else f"output_{clean or index}"
