"""Conversion targets: one package per artifact format (`onnx/`, `ncnn/`, `tflite/`), each holding its export,
fp16 handling, file parser and INT8 writer behind a `Target` (export + capabilities). Everything that lists
targets — `TARGETS`, the CLI's --target choices, the plan of a conversion — derives from here. To add a
target: a package with a Target subclass (and, for INT8, its Int8Writer), one line in `_ALL`, the format's
name in runtimes/card.py `FORMATS` and its backend in runtimes/backends.py `BACKENDS`; docs/architecture.md."""
from __future__ import annotations

from .base import Calibration, Exported, Int8Model, Int8Writer, Target
from .ncnn import NcnnTarget
from .onnx import OnnxTarget
from .tflite import TFLiteTarget

_ALL: tuple[Target, ...] = (OnnxTarget(), NcnnTarget(), TFLiteTarget())
TARGETS: dict[str, Target] = {target.name: target for target in _ALL}
INT8_WRITERS: dict[str, type[Int8Writer]] = {t.name: t.int8_writer for t in _ALL if t.int8_writer is not None}

__all__ = ["Calibration", "Exported", "Int8Model", "INT8_WRITERS", "Int8Writer", "TARGETS", "Target"]
