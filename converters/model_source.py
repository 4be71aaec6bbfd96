"""What a conversion starts from, whatever it is: a zoo model with its checkpoint, or a user's ONNX file with
the card fields the user gives. Both become one `ModelSource` — a static fp32 ONNX, a PyTorch module (for
litert-torch), the reference that every artifact is verified against, and the card fields the file cannot
say — so the targets, the verification and the card builder never ask which kind it was."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from edgepose.runtimes.card import OutputSpec
from edgepose.runtimes.errors import ConfigError
from edgepose.runtimes.quiet import quiet
from edgepose.runtimes.tasks import task_of
from torch import nn

from .download import sha256_of
from .models.base import ZooModel
from .onnx_export import export_onnx
from .verify import Reference
from .zoo import ModelSpec, card_metadata


@dataclass(frozen=True, kw_only=True)
class ModelSource:
    name: str                           # artifact stem: <name>-<target>-<precision>
    task: str                           # "pose" | "detection"
    onnx: Path                          # static fp32 ONNX (a scratch file)
    onnx_input_name: str
    onnx_output_names: tuple[str, ...]
    make_module: Callable[[], nn.Module]  # the same network in PyTorch, for litert-torch (built when needed:
                                          # rebuilding a user's ONNX may refuse ops only the TFLite route lacks)
    signature_names: tuple[str, ...]    # TFLite signature output names (identifiers)
    input_shape: tuple[int, int, int, int]  # (1, 3, H, W)
    dynamic_batch: bool                 # an ONNX artifact keeps a dynamic batch (zoo pose models)
    outputs: tuple[OutputSpec, ...]     # role, stride, layout and batch-1 shape of each output, in order
    reference: Reference                # what each artifact must reproduce
    against: str                        # what `reference` is, for the card: "pytorch" | "onnxruntime (source)"
    card: dict[str, Any]                # card fields the model file cannot say: colour, mean/std, decoder, ...
    head_split_onnx: Path | None = None  # models with `fp32_head`: the same ONNX with the head's inputs as
                                         # extra outputs after the model's own (where ncnn cuts the head off)

    @property
    def input_hw(self) -> tuple[int, int]:
        return self.input_shape[2], self.input_shape[3]


def zoo_source(spec: ModelSpec, model: ZooModel, checkpoint: dict[str, Any], scratch: Path,
               opset: int) -> ModelSource:
    """A zoo model with loaded weights; `checkpoint` is the card's record of where they came from."""
    shape = (1, 3, *spec.input_hw)
    names = tuple(o.name for o in model.outputs)
    with torch.no_grad():
        outs = model(torch.zeros(shape))
    shapes = [tuple(t.shape) for t in (outs if isinstance(outs, tuple) else (outs,))]
    path = scratch / f"{spec.name}.onnx"
    batched = task_of(spec.task).batched
    with quiet("torch.onnx.export"):
        export_onnx(model, path, shape, names, dynamic_batch=batched, opset=opset, fp16_safe=model.fp16_safe)
    outputs = tuple(OutputSpec(o.name, o.role, list(s), o.stride, o.layout) for o, s in zip(model.outputs, shapes))
    card = {"task": spec.task, "color": spec.color, "mean": list(spec.mean), "std": list(spec.std),
            "decoder": dict(spec.decoder), **card_metadata(spec),
            "source": {"model": spec.name, "family": spec.family, "config": spec.config, **checkpoint,
                       "official_url": spec.url, "reported_coco_ap": spec.ap, "opset": opset}}
    split = None
    if model.fp32_head:
        split = scratch / f"{spec.name}.head-split.onnx"
        with quiet("torch.onnx.export"):
            export_onnx(_WithHeadInputs(model), split, shape, (*names, "head_input"), dynamic_batch=False,
                        opset=opset, fp16_safe=model.fp16_safe)
    return ModelSource(name=spec.name, task=spec.task, onnx=path, onnx_input_name="input", onnx_output_names=names,
                       make_module=lambda: model, signature_names=names, input_shape=shape, dynamic_batch=batched,
                       outputs=outputs, reference=torch_reference(model), against="pytorch", card=card,
                       head_split_onnx=split)


class _WithHeadInputs(nn.Module):
    """The model's outputs, then the head's input (`forward_features`), as one more output."""

    def __init__(self, model: ZooModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = self.model.forward_features(x)
        return (*self.model.forward_head(features), features)


def onnx_source(path: Path, fields: dict[str, Any], scratch: Path) -> ModelSource:
    """A user's ONNX file (fixed to batch 1, shapes folded) described by `fields` (convert_onnx.py)."""
    import onnx
    import onnxruntime as ort

    from .onnx_to_torch import OnnxModule, load_static_onnx

    model, input_name, shape = load_static_onnx(path, fields.get("input_shape"))
    names = tuple(o.name for o in model.graph.output)
    if len(fields["outputs"]) != len(names):
        raise ConfigError(f"{path.name} has {len(names)} outputs ({', '.join(names)}); the card fields describe "
                          f"{len(fields['outputs'])}")
    stem = fields.get("name") or path.stem
    static = scratch / f"{stem}.onnx"
    onnx.save(model, str(static))
    session = ort.InferenceSession(str(static), providers=["CPUExecutionProvider"])

    def reference(nchw: np.ndarray) -> list[np.ndarray]:
        return session.run(None, {input_name: nchw})

    shapes = [o.shape for o in reference(np.zeros(shape, np.float32))]
    outputs = tuple(OutputSpec(name, spec.get("role", ""), [int(d) for d in s], spec.get("stride"),
                               spec.get("layout", "NCHW"))
                    for name, spec, s in zip(names, fields["outputs"], shapes))
    inp = fields["input"]
    task = fields["task"]
    padding = task_of(task).bbox_padding
    card = {"task": task, "color": inp.get("color", "RGB"), "mean": inp.get("mean"), "std": inp.get("std"),
            "decoder": fields["decoder"], "keypoints": fields.get("keypoints", []),
            "skeleton": fields.get("skeleton", []), "flip_pairs": fields.get("flip_pairs", []),
            "sigmas": fields.get("sigmas", []),
            "bbox_padding": fields.get("bbox_padding", padding),
            "classes": fields.get("classes", []),
            "source": {"model": stem, "onnx": path.name, "sha256": sha256_of(path), "origin": "user ONNX"}}
    signature = tuple(_identifier(n, i) for i, n in enumerate(names))
    return ModelSource(name=stem, task=task, onnx=static, onnx_input_name=input_name, onnx_output_names=names,
                       make_module=lambda: OnnxModule(model).eval(), signature_names=signature,
                       input_shape=tuple(shape), dynamic_batch=False, outputs=outputs, reference=reference,
                       against="onnxruntime (source)", card=card)


def torch_reference(model: nn.Module) -> Reference:
    def run(nchw: np.ndarray) -> list[np.ndarray]:
        with torch.no_grad():
            out = model(torch.from_numpy(nchw))
        return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]
    return run


def _identifier(name: str, index: int) -> str:
    """A TFLite signature output name from an ONNX output name ('1211' → 'output_1211')."""
    clean = re.sub(r"\W", "_", name)
    return clean if clean[:1].isalpha() else f"output_{clean or index}"
