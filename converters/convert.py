"""`edgepose convert`: zoo model + checkpoint → one verified artifact directory per target and precision.

Each artifact (model files + edgepose.json) is built in a hidden temporary directory, run through
`edgepose.runtimes` — the code that will run it on the device — compared with PyTorch, and only then
renamed into place, so a failed run leaves nothing behind.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from torch import nn

from edgepose.runtimes.atomic import atomic_directory, check_replaceable, check_writable
from edgepose.runtimes.card import SCHEMA_VERSION, ModelCard
from edgepose.runtimes.errors import (ConfigError, ConversionIncomplete, ConversionInterrupted, EdgeposeError,
                                      ExportError)
from edgepose.runtimes.quiet import quiet
from edgepose.runtimes.version import __version__

from .checkpoint import load_weights, read_state_dict
from .convert_int8 import calibration_sets, quantize_artifact
from .download import download, is_url, sha256_of
from .model_source import ModelSource, zoo_source
from .onnx_weights import import_folded_onnx
from .options import ConvertOptions, Int8Options
from .targets import TARGETS, Exported, Target
from .verify import ProbeInput, verify_artifact
from .zoo import ModelSpec, get_spec

log = logging.getLogger(__name__)


def plan_of(options: ConvertOptions) -> list[tuple[str, str]]:
    """Every (target, precision) the options ask for, refused before any work when a target cannot write one."""
    for target in options.targets:
        unsupported = [p for p in options.precisions if p not in TARGETS[target].precisions]
        if unsupported:
            raise ConfigError(f"target {target} does not write {', '.join(unsupported)} artifacts")
    return [(t, p) for t in options.targets for p in options.precisions]


def artifact_name(name: str, target: str, precision: str) -> str:
    return f"{name}-{target}-{precision}"


def resolve_weights(spec: ModelSpec, weights: str | None, progress: bool = True) -> Path:
    """A local checkpoint for `spec`: the given path, a downloaded URL, or the official checkpoint."""
    if weights is None:
        log.info("no --weights given; fetching the official %s checkpoint", spec.name)
        return download(spec.url, spec.sha256_prefix, progress=progress)
    if is_url(weights):
        return download(weights, spec.sha256_prefix if weights == spec.url else None, progress=progress)
    path = Path(weights).expanduser()
    if path.is_dir():
        raise ConfigError(f"--weights {weights} is a folder; give the checkpoint file inside it (.pth)")
    if not path.is_file():
        raise ConfigError(f"--weights {weights}: no such file")
    return path


def load_model(spec: ModelSpec, weights: Path) -> nn.Module:
    """Build the zoo model and load `weights` strictly (an ONNX file for models that allow ONNX import)."""
    model = spec.build()
    if weights.suffix.lower() == ".onnx":
        if not spec.onnx_import:
            raise ConfigError(f"{spec.name} cannot take weights from an ONNX file; pass its MMPose .pth checkpoint")
        import_folded_onnx(model, weights, *spec.onnx_import)
    else:
        load_weights(model, read_state_dict(weights), spec.name)
    return model.eval()


def convert(model_name: str, output: str | Path, weights: str | None = None,
            options: ConvertOptions = ConvertOptions(), report: "ConversionReport | None" = None) -> list[Path]:
    """Convert a zoo model to every requested target × precision; return the artifact directories
    `output/<model>-<target>-<precision>` in the order written. See `write_plan` for failures."""
    spec = get_spec(model_name)
    output = Path(output)
    plan = plan_of(options)
    check_output(output, [output / artifact_name(spec.name, t, p) for t, p in plan], options.overwrite)
    probe = ProbeInput.create(spec.task, spec.input_hw, options.verify_image, options.verify_box)
    weights_path = resolve_weights(spec, weights, options.progress)
    model = load_model(spec, weights_path)
    checkpoint = {"checkpoint": weights or spec.url, "sha256": sha256_of(weights_path)}
    with tempfile.TemporaryDirectory(prefix="edgepose-onnx-") as scratch:
        source = zoo_source(spec, model, checkpoint, Path(scratch), options.opset)
        return convert_source(source, output, plan, options, probe, Path(scratch), report)


def convert_source(source: ModelSource, output: Path, plan: list[tuple[str, str]], options: ConvertOptions,
                   probe: ProbeInput, scratch: Path, report: "ConversionReport | None" = None) -> list[Path]:
    """Every (target, precision) of `plan` for one source, each written and verified atomically. Each target
    exports once into `scratch`; its fp32 and fp16 artifacts are copies of that export (fp16 then cast)."""
    exports: dict[str, tuple[Path, Exported] | Exception] = {}

    def write(target: str, precision: str, directory: Path) -> None:
        if target not in exports:
            folder = Path(tempfile.mkdtemp(prefix=f"export-{target}-", dir=scratch))
            try:
                exports[target] = (folder, TARGETS[target].export(source, folder))
            except Exception as exc:  # noqa: BLE001 (remembered: the next precision of this target fails alike)
                exports[target] = exc
        export = exports[target]
        if isinstance(export, Exception):
            raise export
        write_verified(source, target, precision, directory, options, probe, export)

    return write_plan(plan, lambda t, p: output / artifact_name(source.name, t, p), source.task, options, write,
                      scratch, report)


def check_output(output: Path, finals: list[Path], overwrite: bool) -> None:
    """Before any work: `output` is a folder we can write in and no artifact of the plan is in the way."""
    check_writable(output)
    for final in finals:
        check_replaceable(final, overwrite)


@dataclass
class ConversionReport:
    """What a conversion has written and what not (and why), kept current while it runs. With `path` set it
    is mirrored there as JSON after every change, so a supervising process can report after stopping it."""
    planned: list[Path]
    path: Path | None = None
    written: list[Path] = field(default_factory=list)
    not_written: dict[Path, str] = field(default_factory=dict)

    def record(self, artifact: Path, reason: str | None = None) -> None:
        if reason is None:
            self.written.append(artifact)
        else:
            self.not_written[artifact] = reason
        self.save()

    def close(self, reason: str) -> None:
        """Give every artifact not yet accounted for `reason` (e.g. interrupted before it started)."""
        for artifact in self.planned:
            if artifact not in self.written and artifact not in self.not_written:
                self.not_written[artifact] = reason
        self.save()

    def save(self) -> None:
        if self.path is not None:
            data = {"planned": [str(p) for p in self.planned], "written": [str(p) for p in self.written],
                    "not_written": {str(k): v for k, v in self.not_written.items()}}
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(self.path)


def write_plan(plan: list[tuple[str, str]], final_of: Callable[[str, str], Path], task: str,
               options: ConvertOptions, write: Callable[[str, str, Path], None], scratch: Path,
               report: ConversionReport | None = None) -> list[Path]:
    """Write each (target, precision) of `plan` atomically at `final_of(target, precision)`. `write` makes an
    fp32/fp16 artifact; INT8 ones are quantized from the fp32 artifact of the same target (the one written in
    this run, or one built in `scratch`).

    An artifact that fails leaves nothing and the others are still written: a one-artifact plan re-raises
    its error, a longer one raises `ConversionIncomplete` naming what was written and what not and why.
    Ctrl-C stops at once with `ConversionInterrupted` (a KeyboardInterrupt) carrying the same lists."""
    report = report or ConversionReport([])
    report.planned = [final_of(t, p) for t, p in plan]
    report.save()
    fp32_dirs: dict[str, Path] = {}
    first_error: BaseException | None = None
    try:
        calibration = calibration_sets(task, options) if any(p == "int8" for _, p in plan) else None
        for target, precision in plan:
            final = final_of(target, precision)
            start = time.perf_counter()
            try:
                with atomic_directory(final, options.overwrite) as tmp:
                    if precision == "int8":
                        fp32 = fp32_dirs.get(target) or scratch / f"{target}-fp32"
                        if not fp32.exists():
                            fp32.mkdir()
                            write(target, "fp32", fp32)
                        calib, holdout, sources = calibration
                        quantize_artifact(fp32, tmp, calib, holdout, int8_options(options), sources)
                    else:
                        write(target, precision, tmp)
            except Exception as exc:  # noqa: BLE001 (reported with its type; the other artifacts go on)
                log.debug("%s failed", final, exc_info=True)
                if isinstance(exc, OSError):  # a full disk, a folder removed under us
                    exc = ExportError(f"could not write {final}: {exc.strerror or exc}")
                first_error = first_error or exc
                detail = str(exc) if isinstance(exc, EdgeposeError) else f"{type(exc).__name__}: {exc}"
                report.record(final, detail)
                continue
            if precision == "fp32":
                fp32_dirs[target] = final  # the INT8 artifact of this target is measured against it
            size = sum(f.stat().st_size for f in final.iterdir()) / 1e6
            log.info("wrote %s (%.1f MB) in %.1f s", final, size, time.perf_counter() - start)
            report.record(final)
    except KeyboardInterrupt:
        report.close("interrupted before it was complete")
        raise ConversionInterrupted(list(report.written), dict(report.not_written)) from None
    if first_error is not None:
        if len(plan) == 1:
            raise first_error
        reasons = "; ".join(f"{p.name}: {why}" for p, why in report.not_written.items())
        raise ConversionIncomplete(f"{len(report.not_written)} of {len(plan)} artifacts not written ({reasons})",
                                   list(report.written), dict(report.not_written))
    return list(report.written)


def int8_options(options: ConvertOptions) -> Int8Options:
    coco = (options.eval_coco, options.eval_images) if options.eval_coco else None
    return Int8Options(method=options.method, max_error=options.max_error, progress=options.progress, eval_coco=coco)


def write_verified(source: ModelSource, target: str, precision: str, directory: Path, options: ConvertOptions,
                   probe: ProbeInput, export: tuple[Path, Exported]) -> ModelCard:
    """Write one fp32/fp16 artifact of `source` into `directory` from `export` (the folder a target's export
    wrote and what it wrote) and verify it against the source's reference (unless told not to); a
    disagreement is an error."""
    folder, exported = export
    for name in exported.files.values():
        shutil.copyfile(folder / name, directory / name)
    if precision == "fp16":
        exported = TARGETS[target].cast_fp16(directory, exported)
    card = build_card(source, TARGETS[target], exported, precision)
    card.save(directory)
    if options.verify:
        with quiet("runtime"):
            result = verify_artifact(directory, source.reference, probe, precision, against=source.against)
        card = replace(card, verification=result)
        card.save(directory)
        if not result["passed"]:
            what = "PyTorch" if source.against == "pytorch" else "the source ONNX"
            raise ExportError(f"{artifact_name(source.name, target, precision)} disagrees with {what}: "
                              f"{result['summary']}; re-run with --no-verify to keep it anyway")
    return card


def build_card(source: ModelSource, target: Target, exported: Exported, precision: str) -> ModelCard:
    """The model card of an exported artifact: the source's fields plus what the export wrote. Goes through
    `ModelCard.from_dict`, so user-given fields get the same checks as a card read from disk."""
    batch = exported.input_shape[0]
    fields = dict(source.card)
    data = {"version": SCHEMA_VERSION, "task": source.task, "format": target.name, "files": exported.files,
            "input": {"name": exported.input_name, "shape": exported.input_shape, "layout": target.layout,
                      "dtype": "float32", "color": fields.pop("color"), "mean": fields.pop("mean"),
                      "std": fields.pop("std")},
            "outputs": [{"name": name, "role": o.role, "shape": [batch, *o.shape[1:]], "stride": o.stride,
                         "layout": o.layout} for o, name in zip(source.outputs, exported.output_names)],
            **fields, "source": {**fields["source"], **exported.source_extra}, "precision": precision,
            "edgepose_version": __version__}
    return ModelCard.from_dict(data)
