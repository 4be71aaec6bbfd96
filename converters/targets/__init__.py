"""Conversion targets: one module per artifact format, each a `Target` (export + capabilities). Everything
that lists targets — `TARGETS`, the CLI's --target choices, the plan of a conversion — derives from here.
To add a target: a module with a Target subclass, one line in `_ALL`, and a backend for its format in
runtimes/backends.py `BACKENDS` (which also makes the model card accept the format); docs/architecture.md."""
from __future__ import annotations

from .base import Exported, Target
from .ncnn import NcnnTarget
from .onnx import OnnxTarget
from .tflite import TFLiteTarget

_ALL: tuple[Target, ...] = (OnnxTarget(), NcnnTarget(), TFLiteTarget())
TARGETS: dict[str, Target] = {target.name: target for target in _ALL}

__all__ = ["Exported", "TARGETS", "Target"]
