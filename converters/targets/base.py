"""The interface every conversion target implements."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model_source import ModelSource


@dataclass(frozen=True)
class Exported:
    """What an export wrote into the artifact folder, in the terms of the model card."""
    files: dict[str, str]           # card role → file name ("model", or "param" + "bin")
    input_name: str
    output_names: list[str]         # tensor names, in the source's output order
    input_shape: list[int]          # in the target's layout; -1 = dynamic batch
    source_extra: dict[str, Any] = field(default_factory=dict)   # facts for the card's `source` block


class Target:
    """A format edgepose writes. Subclasses set the capabilities and implement `export`."""

    name: str = ""                  # CLI / card format name
    layout: str = "NCHW"            # input layout of the artifact
    dynamic_batch: bool = False     # whether pose artifacts keep a dynamic batch dimension
    precisions: tuple[str, ...] = ("fp32", "fp16", "int8")

    def export(self, source: "ModelSource", directory: Path, fp16: bool) -> Exported:
        """Write the model files of one fp32 (or fp16-weight) artifact of `source` into `directory`."""
        raise NotImplementedError
