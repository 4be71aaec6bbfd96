"""A static-shape ONNX graph as a PyTorch module, so that litert-torch can turn a user's ONNX into TFLite
without TensorFlow.

Covers the operators of CNN pose models and detectors exported by MMPose/MMDet/Ultralytics-style exporters
(convolutions, pooling, resize, elementwise, concat/split/slice/reshape, Gemm/MatMul, softmax, reductions).
Shape arithmetic must be constant: `load_static_onnx` fixes the input shape and lets onnxslim fold it.
Anything else raises `ExportError` naming the operator and node, before any file is written.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgepose.runtimes.errors import ConfigError, ExportError

from .options import MIN_OPSET

_UNARY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Relu": torch.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "Exp": torch.exp, "Sqrt": torch.sqrt,
    "Neg": torch.neg, "Abs": torch.abs, "Erf": torch.erf, "Identity": lambda x: x, "Floor": torch.floor,
    "Reciprocal": torch.reciprocal, "Log": torch.log, "HardSwish": F.hardswish, "Softplus": F.softplus,
}
_BINARY: dict[str, Callable[[Any, Any], torch.Tensor]] = {
    "Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div, "Pow": torch.pow,
    "Max": torch.maximum, "Min": torch.minimum,
}
_REDUCE = {"ReduceMean": torch.mean, "ReduceSum": torch.sum, "ReduceMax": torch.amax, "ReduceMin": torch.amin}
_STRUCTURAL = {"Conv", "ConvTranspose", "BatchNormalization", "LeakyRelu", "HardSigmoid", "Clip", "Softmax",
               "Concat", "Split", "Slice", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "MaxPool",
               "AveragePool", "GlobalAveragePool", "Resize", "Gemm", "MatMul", "Gather", "Pad", "Constant"}
SUPPORTED_OPS = frozenset(_UNARY) | frozenset(_BINARY) | frozenset(_REDUCE) | _STRUCTURAL


def load_static_onnx(path: Path, input_shape: tuple[int, ...] | None = None):
    """Read `path`, give its single input a static shape (batch 1 unless `input_shape` says otherwise), fold
    shape arithmetic; return (model proto, input name, (N, C, H, W))."""
    import onnx
    import onnx.version_converter
    from onnx import TensorProto

    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # protobuf DecodeError, ValidationError, OSError
        raise ConfigError(f"{path}: not a readable ONNX model ({str(exc).splitlines()[0][:160]})") from exc
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ConfigError(f"{path.name}: edgepose converts models with one image input; this one has "
                          f"{len(inputs)} ({', '.join(i.name for i in inputs)})")
    tensor = inputs[0].type.tensor_type
    if tensor.elem_type != TensorProto.FLOAT:
        raise ConfigError(f"{path.name}: input {inputs[0].name} must be float32 (got ONNX type {tensor.elem_type})")
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
    shape = _resolve_shape(path.name, inputs[0].name, dims, input_shape)
    for dim, value in zip(tensor.shape.dim, shape):
        dim.Clear()
        dim.dim_value = value
    for output in model.graph.output:  # let shape inference recompute them from the fixed input
        output.type.tensor_type.ClearField("shape")
    # pnnx embeds an older onnxruntime (IR ≤ 13); files from newer onnx writers declare more than their ops need
    model.ir_version = min(model.ir_version, onnx.helper.find_min_ir_version_for(list(model.opset_import)))
    from .onnx_export import simplify
    model = simplify(model)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < MIN_OPSET:  # per-channel QDQ (INT8) needs 13; Split/Squeeze/Unsqueeze change form, so convert
        try:
            model = onnx.version_converter.convert_version(model, MIN_OPSET)
        except Exception as exc:  # the converter raises RuntimeError / ValidationError
            raise ConfigError(f"{path.name}: opset {opset} could not be upgraded to {MIN_OPSET}: {exc}") from exc
    return model, inputs[0].name, shape


def _resolve_shape(file: str, name: str, dims: list[int], wanted: tuple[int, ...] | None) -> tuple[int, ...]:
    if len(dims) != 4:
        raise ConfigError(f"{file}: input {name} has shape {dims}; edgepose needs a 4-D NCHW image input")
    if wanted is not None:
        wanted = tuple(int(v) for v in wanted)
        if len(wanted) != 4 or wanted[0] != 1 or min(wanted) < 1:
            raise ConfigError(f"input shape {list(wanted)} must be [1, 3, H, W]")
        clash = [i for i, (d, w) in enumerate(zip(dims, wanted)) if d > 0 and d != w and i > 0]
        if clash:
            raise ConfigError(f"{file}: input {name} is {dims} but the card asks for {list(wanted)}")
        dims = list(wanted)
    dims[0] = 1
    if dims[1] != 3:
        raise ConfigError(f"{file}: input {name} has {dims[1]} channels; edgepose feeds 3-channel images (NCHW)")
    if min(dims) < 1:
        raise ConfigError(f"{file}: input {name} has dynamic height/width {dims}; give \"input_shape\": "
                          "[1, 3, H, W] in the card JSON")
    return tuple(dims)


class OnnxModule(nn.Module):
    """Runs the ONNX graph node by node with torch ops; float initializers become buffers."""

    def __init__(self, model) -> None:
        super().__init__()
        from onnx import numpy_helper

        graph = model.graph
        unsupported = sorted({f"{n.op_type} (node {n.name or '?'})" for n in graph.node
                              if n.op_type not in SUPPORTED_OPS or n.domain not in ("", "ai.onnx")})
        if unsupported:
            raise ExportError(f"ONNX operator(s) not supported by the TFLite route: {', '.join(unsupported[:5])}"
                              f"{' …' if len(unsupported) > 5 else ''}")
        self.nodes = list(graph.node)
        self.consts: dict[str, np.ndarray] = {}
        self._buffer_of: dict[str, str] = {}
        for i, init in enumerate(graph.initializer):
            self._add_const(init.name, numpy_helper.to_array(init), i)
        for i, node in enumerate(self.nodes):
            if node.op_type == "Constant":
                attr = {a.name: a for a in node.attribute}
                if "value" not in attr:
                    raise ExportError(f"Constant node {node.name}: only tensor 'value' constants are supported")
                self._add_const(node.output[0], numpy_helper.to_array(attr["value"].t), len(self.consts) + i)
        initializers = {i.name for i in graph.initializer}
        self.input_name = next(i.name for i in graph.input if i.name not in initializers)
        self.output_names = [o.name for o in graph.output]

    def _add_const(self, name: str, value: np.ndarray, index: int) -> None:
        self.consts[name] = value
        if value.dtype.kind == "f":
            self._buffer_of[name] = f"c{index}"
            self.register_buffer(f"c{index}", torch.from_numpy(value.astype(np.float32).copy()))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        env: dict[str, Any] = {self.input_name: x}
        for name, attr in self._buffer_of.items():
            env[name] = getattr(self, attr)
        for node in self.nodes:
            if node.op_type == "Constant":
                continue
            args = [env[i] if i in env else (self.consts.get(i) if i else None) for i in node.input]
            try:
                result = self._run(node, args)
            except ExportError:
                raise
            except Exception as exc:
                raise ExportError(f"ONNX node {node.name} ({node.op_type}) failed in PyTorch: {exc}") from exc
            for out, value in zip(node.output, result if isinstance(result, (list, tuple)) else (result,)):
                env[out] = value
        return tuple(env[name] for name in self.output_names)

    def _static(self, node, index: int) -> np.ndarray | None:
        """A constant input (shape, axes, scales…) as numpy; None when the input is absent."""
        if index >= len(node.input) or not node.input[index]:
            return None
        if node.input[index] not in self.consts:
            raise ExportError(f"ONNX node {node.name} ({node.op_type}): input {node.input[index]} must be a constant "
                              "for the TFLite route (shape arithmetic that onnxslim could not fold)")
        return self.consts[node.input[index]]

    def _run(self, node, args: list[Any]) -> Any:  # noqa: C901 (one dispatch table)
        from onnx import helper

        op = node.op_type
        a = {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}
        x = args[0]
        if op in _UNARY:
            return _UNARY[op](x)
        if op in _BINARY:
            return _BINARY[op](_tensor(x), _tensor(args[1]))
        if op in _REDUCE:
            axes = a.get("axes")
            if axes is None and len(node.input) > 1:
                axes = self._static(node, 1)
            dims = [int(v) for v in axes] if axes is not None else list(range(x.dim()))
            return _REDUCE[op](x, dim=dims, keepdim=bool(a.get("keepdims", 1)))
        if op in ("Conv", "ConvTranspose"):
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                raise ExportError(f"{op} node {node.name}: auto_pad is not supported; re-export with explicit pads")
            pads = list(a.get("pads", [0] * 4))
            stride, dilation, group = a.get("strides", [1, 1]), a.get("dilations", [1, 1]), a.get("group", 1)
            bias = args[2] if len(args) > 2 else None
            if op == "ConvTranspose":
                if pads[:2] != pads[2:]:
                    raise ExportError(f"ConvTranspose node {node.name}: asymmetric pads are not supported")
                return F.conv_transpose2d(x, args[1], bias, stride, pads[:2], a.get("output_padding", [0, 0]),
                                          group, dilation)
            if pads[:2] != pads[2:]:
                x, pads = F.pad(x, (pads[1], pads[3], pads[0], pads[2])), [0, 0, 0, 0]
            return F.conv2d(x, args[1], bias, stride, pads[:2], dilation, group)
        if op == "BatchNormalization":
            scale, bias, mean, var = args[1:5]
            return F.batch_norm(x, mean, var, scale, bias, False, 0.0, a.get("epsilon", 1e-5))
        if op == "LeakyRelu":
            return F.leaky_relu(x, a.get("alpha", 0.01))
        if op == "HardSigmoid":
            return torch.clamp(x * a.get("alpha", 0.2) + a.get("beta", 0.5), 0.0, 1.0)
        if op == "Clip":
            low, high = self._static(node, 1), self._static(node, 2)
            low = a.get("min", -np.inf) if low is None else float(low)
            high = a.get("max", np.inf) if high is None else float(high)
            return torch.clamp(x, None if np.isinf(low) else low, None if np.isinf(high) else high)
        if op == "Softmax":
            return torch.softmax(x, a.get("axis", -1))
        if op == "Concat":
            return torch.cat([_tensor(t) for t in args], a["axis"])
        if op == "Split":
            axis = a.get("axis", 0)
            sizes = a.get("split") or self._static(node, 1)
            if sizes is None:
                n = len(node.output)
                sizes = [x.shape[axis] // n] * n
            return torch.split(x, [int(s) for s in sizes], axis)
        if op == "Slice":
            starts, ends = self._static(node, 1), self._static(node, 2)
            axes = self._static(node, 3)
            steps = self._static(node, 4)
            axes = range(len(starts)) if axes is None else axes
            steps = [1] * len(starts) if steps is None else steps
            index = [slice(None)] * x.dim()
            for s, e, ax, st in zip(starts, ends, axes, steps):
                if st != 1:
                    raise ExportError(f"Slice node {node.name}: steps other than 1 are not supported")
                size = x.shape[int(ax)]
                index[int(ax)] = slice(int(max(s, -size)), int(min(e, size)) if e < 2**62 else None)
            return x[tuple(index)]
        if op == "Reshape":
            shape = [int(v) for v in self._static(node, 1)]
            shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
            return x.reshape(shape)
        if op == "Flatten":
            return x.flatten(a.get("axis", 1)) if a.get("axis", 1) == 0 else x.reshape(
                int(np.prod(x.shape[:a.get("axis", 1)])), -1)
        if op == "Transpose":
            return x.permute(*a.get("perm", list(range(x.dim()))[::-1]))
        if op in ("Squeeze", "Unsqueeze"):
            axes = a.get("axes")
            axes = [int(v) for v in (axes if axes is not None else self._static(node, 1))]
            if op == "Squeeze":
                return x.squeeze(tuple(axes))
            for axis in sorted(v % (x.dim() + len(axes)) for v in axes):
                x = x.unsqueeze(axis)
            return x
        if op in ("MaxPool", "AveragePool"):
            pads = list(a.get("pads", [0] * 4))
            kernel, stride = a["kernel_shape"], a.get("strides", [1, 1])
            if pads[:2] != pads[2:]:
                fill = -float("inf") if op == "MaxPool" else 0.0
                x, pads = F.pad(x, (pads[1], pads[3], pads[0], pads[2]), value=fill), [0, 0, 0, 0]
            ceil = bool(a.get("ceil_mode", 0))
            if op == "MaxPool":
                return F.max_pool2d(x, kernel, stride, pads[:2], a.get("dilations", [1, 1]), ceil)
            return F.avg_pool2d(x, kernel, stride, pads[:2], ceil, bool(a.get("count_include_pad", 0)))
        if op == "GlobalAveragePool":
            return x.mean(dim=(2, 3), keepdim=True)
        if op == "Resize":
            return self._resize(node, a, x)
        if op == "Gemm":
            left = x.t() if a.get("transA", 0) else x
            right = args[1].t() if a.get("transB", 0) else args[1]
            out = a.get("alpha", 1.0) * (left @ right)
            return out + a.get("beta", 1.0) * args[2] if len(args) > 2 and args[2] is not None else out
        if op == "MatMul":
            return torch.matmul(_tensor(x), _tensor(args[1]))
        if op == "Gather":
            index = self._static(node, 1)
            return torch.index_select(x, a.get("axis", 0), torch.as_tensor(index.reshape(-1))).reshape(
                *x.shape[:a.get("axis", 0)], *index.shape, *x.shape[a.get("axis", 0) + 1:])
        if op == "Pad":
            pads = [int(v) for v in (a.get("pads") or self._static(node, 1))]
            if a.get("mode", b"constant") not in (b"constant", "constant") or x.dim() != 4 or any(pads[:2] + pads[4:6]):
                raise ExportError(f"Pad node {node.name}: only constant spatial padding is supported")
            value = self._static(node, 2)
            return F.pad(x, (pads[3], pads[7], pads[2], pads[6]), value=0.0 if value is None else float(value))
        raise ExportError(f"ONNX operator {op} (node {node.name}) is not supported by the TFLite route")

    def _resize(self, node, a: dict, x: torch.Tensor) -> torch.Tensor:
        mode = _text(a.get("mode", "nearest"))
        transform = _text(a.get("coordinate_transformation_mode", "half_pixel"))
        sizes = self._static(node, 3)
        scales = self._static(node, 2)
        if sizes is not None and sizes.size:
            out_hw = [int(v) for v in sizes[-2:]]
        elif scales is not None and scales.size:
            if list(scales[:2]) != [1.0, 1.0]:
                raise ExportError(f"Resize node {node.name}: only spatial resizing is supported")
            out_hw = [int(np.floor(s * f)) for s, f in zip(x.shape[2:], scales[2:])]
        else:
            raise ExportError(f"Resize node {node.name}: needs constant scales or sizes")
        if mode == "nearest":
            nearest = _text(a.get("nearest_mode", "round_prefer_floor"))
            factors = {o / i for o, i in zip(out_hw, x.shape[2:])}
            if transform == "asymmetric" and (nearest == "floor" or (nearest == "round_prefer_floor"
                                                                      and factors <= {1.0, 2.0})):
                return F.interpolate(x, size=out_hw, mode="nearest")
            raise ExportError(f"Resize node {node.name}: nearest with {transform}/{nearest} is not supported")
        if mode == "linear" and transform in ("half_pixel", "pytorch_half_pixel", "align_corners"):
            return F.interpolate(x, size=out_hw, mode="bilinear", align_corners=transform == "align_corners")
        raise ExportError(f"Resize node {node.name}: mode {mode} with {transform} is not supported")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _tensor(value: Any) -> Any:
    """numpy constants (non-float initializers) enter arithmetic as tensors."""
    return torch.from_numpy(np.asarray(value, np.float32)) if isinstance(value, np.ndarray) else value
