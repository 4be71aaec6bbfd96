"""A TFLite file as the converters need to see it: its ops in graph order, its tensors, its signature.

The fp16 cast, the INT8 quantizer and the export's tensor naming all ask the same questions of a model; one
`TFLiteModel` opens the LiteRT interpreter once and keeps LiteRT's one private call in one place.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TFLiteOp:
    type: str                       # builtin op name, e.g. "CONV_2D"
    inputs: tuple[int, ...]         # tensor indices; absent optional inputs (-1) left out
    outputs: tuple[int, ...]
    weight_elements: int | None     # element count of the second input (conv / FC weight); None with < 2 inputs


class TFLiteModel:
    """One interpreter over `path`; `preserve_all_tensors` keeps every intermediate tensor readable after a run
    (what calibration observes; LiteRT calls the option experimental and warns about it)."""

    def __init__(self, path: Path, preserve_all_tensors: bool = False) -> None:
        from ai_edge_litert.interpreter import Interpreter

        with warnings.catch_warnings():  # "intended for debugging": keeping every tensor is what calibration needs
            warnings.simplefilter("ignore")
            self.interpreter = Interpreter(model_path=str(path), experimental_preserve_all_tensors=preserve_all_tensors)
        self.tensors: dict[int, dict] = {t["index"]: t for t in self.interpreter.get_tensor_details()}
        self.index: dict[str, int] = {t["name"]: i for i, t in self.tensors.items()}

    def name(self, index: int) -> str:
        return self.tensors[index]["name"]

    @cached_property
    def ops(self) -> list[TFLiteOp]:
        """Every op in graph (execution) order."""
        ops = []
        # private: LiteRT has no public op-level listing, and the quantizer recipes and units need one
        for op in self.interpreter._get_ops_details():  # noqa: SLF001
            inputs = tuple(int(i) for i in op["inputs"] if i >= 0)
            weight = self.tensors.get(inputs[1]) if len(inputs) >= 2 else None
            ops.append(TFLiteOp(op["op_name"], inputs, tuple(int(i) for i in op["outputs"] if i >= 0),
                                None if weight is None else int(np.prod(weight["shape"]))))
        return ops

    def signature(self) -> tuple[dict[str, str], dict[str, str]]:
        """({input key: tensor name}, {output key: tensor name}) of the model's one signature."""
        runner = self.interpreter.get_signature_runner()
        inputs, outputs = runner.get_input_details(), runner.get_output_details()
        return ({key: self.name(d["index"]) for key, d in inputs.items()},
                {key: self.name(d["index"]) for key, d in outputs.items()})
