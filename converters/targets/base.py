"""The interface every conversion target implements: an export, its capabilities and an optional INT8 writer."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

FP16_MIN_ELEMENTS = 4096   # fp16 artifacts store weights of at least this many elements as float16, on every target

if TYPE_CHECKING:
    from edgepose.calibration.observers import TensorObserver
    from edgepose.runtimes.card import ModelCard

    from ..model_source import ModelSource


@dataclass(frozen=True)
class Exported:
    """What an export wrote into the artifact folder, in the terms of the model card."""
    files: dict[str, str]           # card role → file name ("model", or "param" + "bin")
    input_name: str
    output_names: list[str]         # tensor names, in the source's output order
    input_shape: list[int]          # in the target's layout; -1 = dynamic batch
    source_extra: dict[str, Any] = field(default_factory=dict)   # facts for the card's `source` block


@dataclass(frozen=True)
class Calibration:
    """What calibration observed, handed to every `Int8Writer.write` (writers keep no state between calls)."""
    observers: dict[str, "TensorObserver"]   # quantizable layer (or its output key) → observed activations
    method: str                              # how observers turn into ranges: minmax | percentile | entropy
    sample: np.ndarray                       # one calibration input, (1, 3, H, W) float32


@dataclass(frozen=True)
class Int8Model:
    """What an INT8 writer wrote: card file roles, and the tensor names when writing renamed them."""
    files: dict[str, str]
    input_name: str | None = None
    output_names: list[str] | None = None   # in the card's output order


class Int8Writer:
    """One target's INT8 writer for one fp32 artifact. `layers`: the quantizable layers in graph order (the
    names the search and the card use); `int16_layers`: those written with 16-bit activations when int8.
    Calibrating and writing are separate calls with everything passed in, so a writer can write any number
    of trial mixes from one calibration."""

    layers: list[str]
    int16_layers: list[str] = []

    def __init__(self, fp32: Path, card: "ModelCard") -> None:
        raise NotImplementedError

    def collect(self, inputs: np.ndarray, progress: Any) -> dict[str, "TensorObserver"]:
        """Observe the quantizable layers' activations over `inputs` (N, 3, H, W) on the fp32 model."""
        raise NotImplementedError

    def write(self, directory: Path, calibration: Calibration, int8_layers: list[str]) -> Int8Model:
        """Write into `directory` the model with exactly `int8_layers` in int8 (the rest float)."""
        raise NotImplementedError


class Target:
    """A format edgepose writes. Subclasses set the capabilities and implement `export` and `cast_fp16`."""

    name: str = ""                  # CLI / card format name
    layout: str = "NCHW"            # input layout of the artifact
    dynamic_batch: bool = False     # whether pose artifacts keep a dynamic batch dimension
    int8_writer: type[Int8Writer] | None = None

    @property
    def precisions(self) -> tuple[str, ...]:
        return ("fp32", "fp16", "int8") if self.int8_writer else ("fp32", "fp16")

    def export(self, source: "ModelSource", directory: Path) -> Exported:
        """Write the model files of the fp32 artifact of `source` into `directory`."""
        raise NotImplementedError

    def cast_fp16(self, directory: Path, exported: Exported) -> Exported:
        """Store the large weights of the exported files in `directory` as float16, in place; returns what
        the folder now holds (the same, unless the cast also re-arranged the files)."""
        raise NotImplementedError
