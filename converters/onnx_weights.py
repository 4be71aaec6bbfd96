"""Import weights from an ONNX export whose BatchNorms were folded into the convolutions.

MMDeploy-style exports (e.g. the public RTMDet-nano ONNX) keep the PyTorch module path in every node name,
such as `/model/backbone/stage1/stage1.1/blocks/blocks.0/conv1/depthwise_conv/conv/Conv`. Each Conv node is
mapped back to its module; a folded ConvModule gets the folded kernel in `conv` and a BatchNorm that only
adds the folded bias (weight 1, bias b, mean 0, var 1 - eps), so the PyTorch model computes what the ONNX
computes.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from edgepose.runtimes.errors import CheckpointError


def module_path(node_name: str, root_prefixes: tuple[str, ...], default_prefix: str) -> str:
    """`/model/backbone/stage1/stage1.1/conv/Conv` → `backbone.stage1.1.conv` (exporter scope → module name)."""
    parts = [p for p in node_name.split("/") if p][:-1]  # drop the op name
    if parts and parts[0] == "model":
        parts = parts[1:]
    names: list[str] = []
    for part in parts:
        if names and part.startswith(names[-1] + "."):
            names[-1] = part  # "stage1" then "stage1.1": the second is the qualified child name
        else:
            names.append(part)
    path = ".".join(names)
    if not path.startswith(root_prefixes):
        path = f"{default_prefix}.{path}"
    return path


def import_folded_onnx(model: nn.Module, onnx_path: str | Path, root_prefixes: tuple[str, ...],
                       default_prefix: str) -> int:
    """Copy every Conv of `onnx_path` into `model`; return the number of convs imported.

    Raises CheckpointError when a conv has no counterpart, shapes differ, or a model conv is left unset.
    """
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(onnx_path)).graph
    except Exception as exc:  # onnx raises DecodeError and others, with no common base
        raise CheckpointError(f"{onnx_path} is not a readable ONNX file ({type(exc).__name__}: {exc})") from exc
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    modules = dict(model.named_modules())
    state = {k: v.clone() for k, v in model.state_dict().items()}
    done: set[str] = set()
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        path = module_path(node.name, root_prefixes, default_prefix)
        conv = modules.get(path)
        if not isinstance(conv, nn.Conv2d):
            raise CheckpointError(f"{onnx_path}: Conv node {node.name!r} maps to {path!r}, which is not a "
                                  "conv of this model; is this an export of the same architecture?")
        weight = torch.from_numpy(inits[node.input[1]].copy())
        bias = torch.from_numpy(inits[node.input[2]].copy()) if len(node.input) > 2 else None
        if weight.shape != conv.weight.shape:
            raise CheckpointError(f"{onnx_path}: {path} has weight {tuple(weight.shape)}, the model expects "
                                  f"{tuple(conv.weight.shape)}")
        state[f"{path}.weight"] = weight
        done.add(path)
        if conv.bias is not None:
            state[f"{path}.bias"] = bias if bias is not None else torch.zeros_like(conv.bias)
            continue
        bn_path = path.rsplit(".", 1)[0] + ".bn"
        bn = modules.get(bn_path)
        if not isinstance(bn, nn.BatchNorm2d):
            raise CheckpointError(f"{onnx_path}: {path} has no bias in the model and no BatchNorm at {bn_path}")
        state[f"{bn_path}.weight"] = torch.ones_like(bn.weight)
        state[f"{bn_path}.bias"] = bias if bias is not None else torch.zeros_like(bn.bias)
        state[f"{bn_path}.running_mean"] = torch.zeros_like(bn.running_mean)
        state[f"{bn_path}.running_var"] = torch.full_like(bn.running_var, 1.0 - bn.eps)
    left = [name for name, m in modules.items() if isinstance(m, nn.Conv2d) and name not in done]
    if left:
        raise CheckpointError(f"{onnx_path} has no weights for {len(left)} convs of the model "
                              f"(first: {left[0]}); is this an export of the same architecture?")
    model.load_state_dict(state)
    return len(done)
