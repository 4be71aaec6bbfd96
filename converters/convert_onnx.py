"""`edgepose convert FILE.onnx --card-fields FIELDS.json`: a user's own ONNX model → verified ONNX, NCNN and
TFLite artifacts.

The ONNX file says nothing about colour order, normalization, what each output means or how to decode it,
so the user supplies those card fields in a small JSON (documented in docs/own-onnx.md):

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
import tempfile
from pathlib import Path
from typing import Any

from edgepose.runtimes.errors import ConfigError
from edgepose.runtimes.keypoints import COCO17

from .convert import ConversionReport, ConvertOptions, artifact_name, check_output, convert_source, plan_of
from .model_source import onnx_source
from .verify import ProbeInput

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
            raise ConfigError(f"card fields: '{key}' is required (see docs/own-onnx.md)")
    if not isinstance(fields["outputs"], list) or not all(isinstance(o, dict) for o in fields["outputs"]):
        raise ConfigError("card fields: 'outputs' must be a list of objects, one per ONNX output, in order")
    if fields.get("keypoints") == "coco17":
        fields = {**fields, **COCO17.card_fields()}
    return fields


def convert_onnx(path: str | Path, output: str | Path, card_fields: str | Path | dict[str, Any],
                 options: ConvertOptions = ConvertOptions(),  # noqa: B008 (frozen)
                 report: ConversionReport | None = None) -> list[Path]:
    """Convert the ONNX model at `path` to every requested target × precision under `output`; returns the
    artifact directories `output/<name>-<target>-<precision>` in the order written."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    fields = read_card_fields(card_fields)
    stem = fields.get("name") or path.stem
    plan = plan_of(options)
    check_output(Path(output), [Path(output) / artifact_name(stem, t, p) for t, p in plan], options.overwrite)
    with tempfile.TemporaryDirectory(prefix="edgepose-onnx-") as scratch:
        source = onnx_source(path, fields, Path(scratch))
        probe = ProbeInput.create(source.task, source.input_hw, options.verify_image, options.verify_box)
        return convert_source(source, Path(output), plan, options, probe, Path(scratch), report)
