"""Where an ONNX INT8 artifact's error comes from: its int8 weights, its 8-bit activations, or both — and what
empirical bias correction and quantization-aware fine-tuning do to it. The numbers behind docs/int8.md's "why
RTMDet-nano stays partly float".

    python benchmarks/int8_error_sources.py FP32_ARTIFACT INT8_ARTIFACT --holdout PATH [PATH ...]
        [--calib PATH [PATH ...] [--samples 128] [--bias-correction] [--finetune STEPS --lr 1e-4]]

Rows, each measured against the fp32 artifact on the held-out samples with the converter's own fidelity
report (detectors: persons, IoU, score drop; pose: keypoint shift, OKS):
- `as written`: the INT8 artifact;
- `int8 weights only`: the same graph with every activation Q/DQ pair taken out (weights still rounded);
- `8-bit activations only`: the same graph with the fp32 weights in place of the rounded ones;
- `--bias-correction`: `+ bias correction (SCOPE)`: the artifact's int8 layers written again after the bias of
  each int8 Conv (in graph order, one at a time) has absorbed the per-channel mean shift between its fp32 output
  and its output in the quantized model, over the calibration inputs; SCOPE is the backbone only, or every Conv;
- `--finetune STEPS`: `+ fine-tuned`: the fp32 weights of the int8 layers trained (Adam, batches of 8 of
  `--finetune-samples` calibration inputs) so that the model with those layers fake-quantized as the ONNX
  writer quantizes them (uint8 inputs and outputs with the converter's ranges, int8 per-channel weights,
  straight-through rounding) reproduces the fp32 model's outputs; then written with the same int8 layers.
  The tuned model is also measured in fp32 (`fine-tuned, fp32`): how far the tuning moved the model itself.
The calibration ranges come from `--samples` of the `--calib` sources. A measurement, not a test; ONNX
artifacts written by `edgepose convert --int8` only.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

SHOWN = ("persons", "missed", "lost", "matched_iou_mean", "matched_iou_median", "matched_iou_min", "score_drop_mean",
         "box_corner_px_p95", "crops", "keypoint_px_mean", "keypoint_px_p95", "oks_mean")


def without(int8: Path, fp32_model, dst: Path, drop: str) -> None:
    """Copy of the QDQ artifact `int8` into `dst` with its activation Q/DQ pairs (`drop="activations"`) or its
    rounded weights (`drop="weights"`, replaced by the fp32 weights of the same node) taken out."""
    import onnx

    shutil.copytree(int8, dst)
    path = next(dst.glob("*.onnx"))
    model = onnx.load(str(path))
    graph = model.graph
    constants = {i.name for i in graph.initializer}
    quantize = {n.output[0]: n for n in graph.node if n.op_type == "QuantizeLinear"}
    fp32_weight = {n.name: n.input[1] for n in fp32_model.graph.node if len(n.input) > 1}
    rename: dict[str, str] = {}
    if drop == "activations":
        rename = {n.output[0]: quantize[n.input[0]].input[0] for n in graph.node
                  if n.op_type == "DequantizeLinear" and n.input[0] in quantize}
    else:
        wanted = set(fp32_weight.values()) - constants
        graph.initializer.extend(i for i in fp32_model.graph.initializer if i.name in wanted)
        rename = {n.input[1]: fp32_weight[n.name] for n in graph.node
                  if n.name in fp32_weight and n.input[1].endswith("_int8_dq")}
    for node in graph.node:
        for k, name in enumerate(node.input):
            node.input[k] = rename.get(name, name)
    kept = [n for n in graph.node if not set(n.output) & set(rename)]
    used = {i for n in kept for i in n.input}
    kept = [n for n in kept if n.op_type != "QuantizeLinear" or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(kept)
    used = {i for n in kept for i in n.input}
    keep = [i for i in graph.initializer if i.name in used or i.name not in constants]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    onnx.save(model, str(path))


def channel_means(model, tensors: list[str], inputs: np.ndarray) -> list[np.ndarray]:
    """Per-channel means of `tensors` (N, C, H, W) over `inputs`, run through onnxruntime."""
    import onnx
    import onnxruntime as ort

    model = onnx.ModelProto.FromString(model.SerializeToString())
    present = {o.name for o in model.graph.output}
    model.graph.output.extend(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None)
                              for t in tensors if t not in present)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    sums = [0.0] * len(tensors)
    for x in inputs:
        sums = [s + v.mean(axis=(0, 2, 3)) for s, v in zip(sums, session.run(tensors, {name: x[None]}))]
    return [s / len(inputs) for s in sums]


def bias_corrected(card, writer, calibration, int8_layers: list[str], inputs: np.ndarray,
                   scope: str, dst: Path) -> None:
    """Write `int8_layers` into `dst` after sequential empirical bias correction of the int8 Convs in `scope`."""
    import onnx
    from onnx import numpy_helper

    from edgepose.converters.convert_int8 import int8_card

    source = onnx.load(str(writer.model))
    nodes = {n.name: n for n in source.graph.node}
    biases = {i.name: i for i in source.graph.initializer}
    convs = [n for n in int8_layers if nodes[n].op_type == "Conv" and len(nodes[n].input) > 2 and scope in n]
    reference = channel_means(source, [nodes[n].output[0] for n in convs], inputs)
    work = dst.parent / "bias-source"
    work.mkdir()
    writer.model = work / writer.model.name
    for conv, want in zip(convs, reference):
        onnx.save(source, str(writer.model))
        writer.write(dst, calibration, int8_layers)
        got, = channel_means(onnx.load(str(dst / writer.model.name)), [nodes[conv].output[0]], inputs)
        bias = biases[nodes[conv].input[2]]
        bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + (want - got).astype(np.float32), bias.name))
    onnx.save(source, str(writer.model))
    int8_card(card, writer.write(dst, calibration, int8_layers)).save(dst)
    shutil.rmtree(work)


def finetuned(fp32: Path, card, int8_card, calibration, int8_layers: list[str], train: np.ndarray, steps: int,
              lr: float, scratch: Path, batch: int = 8) -> tuple[Path, Path]:
    """Quantization-aware fine-tuning by distillation from the fp32 model (see the module docstring); returns
    (INT8 artifact, tuned fp32 artifact) written under `scratch`."""
    import onnx
    import torch
    from onnx import numpy_helper

    from edgepose.converters.convert_int8 import int8_card as card_for
    from edgepose.converters.targets.onnx.qdq import activation_qparams, output_key
    from edgepose.converters.onnx_to_torch import OnnxModule, load_static_onnx
    from edgepose.converters.targets.onnx import OnnxInt8

    def rounded(x: torch.Tensor) -> torch.Tensor:          # straight-through rounding
        return x + (torch.round(x) - x).detach()

    def activation(x: torch.Tensor, scale: float, zero: int) -> torch.Tensor:   # uint8, the writer's qparams
        return (torch.clamp(rounded(x / scale) + zero, 0, 255) - zero) * scale

    def weight(w: torch.Tensor) -> torch.Tensor:          # int8, symmetric per output channel
        scale = w.detach().abs().amax(dim=tuple(range(1, w.dim())), keepdim=True).clamp_min(1e-12) / 127
        return torch.clamp(rounded(w / scale), -127, 127) * scale

    observers, method = calibration.observers, calibration.method
    qparams = {n: (activation_qparams(*observers[n].range(method)),
                   activation_qparams(*observers[output_key(n)].range(method)) if output_key(n) in observers else None)
               for n in int8_layers}

    class FakeQuantized(OnnxModule):
        """The ONNX graph with the int8 layers fake-quantized and their weights / biases trainable."""

        def __init__(self, model) -> None:
            super().__init__(model)
            self.trained: dict[str, str] = {}        # initializer name → parameter attribute
            for node in self.nodes:
                for name in node.input[1:3] if node.name in qparams else ():
                    if name in self._buffer_of:
                        attr = self._buffer_of[name]
                        value = getattr(self, attr)
                        delattr(self, attr)
                        self.register_parameter(attr, torch.nn.Parameter(value.clone()))
                        self.trained[name] = attr

        def _run(self, node, args):
            if node.name not in qparams:
                return super()._run(node, args)
            inputs, out = qparams[node.name]
            y = super()._run(node, [activation(args[0], *inputs), weight(args[1]), *args[2:]])
            return y if out is None else activation(y, *out)

    torch.manual_seed(0)
    path = fp32 / card.files["model"]
    proto, _, _ = load_static_onnx(path, (1, 3, card.input.height, card.input.width))
    teacher, student = OnnxModule(proto).eval(), FakeQuantized(proto)
    x = torch.from_numpy(train)
    with torch.no_grad():
        targets = [teacher(x[i:i + 1]) for i in range(len(x))]
    optimizer = torch.optim.Adam([p for p in student.parameters() if p.requires_grad], lr=lr)
    order = np.random.default_rng(0).permutation(steps * batch) % len(x)
    for step in range(steps):
        optimizer.zero_grad()
        total = 0.0
        for i in order[step * batch:(step + 1) * batch]:
            loss = sum(((o - t) ** 2).mean() / (t.var() + 1e-6) for o, t in zip(student(x[i:i + 1]), targets[i]))
            (loss / batch).backward()
            total += loss.item() / batch
        optimizer.step()
        if step % 25 == 0 or step == steps - 1:
            print(f"fine-tune step {step}: loss {total:.3f}", file=sys.stderr)
    model = onnx.load(str(path))
    for init in model.graph.initializer:
        if init.name in student.trained:
            value = getattr(student, student.trained[init.name]).detach().numpy().astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(value, init.name))
    tuned, quantized = scratch / "tuned-fp32", scratch / "tuned-int8"
    tuned.mkdir()
    quantized.mkdir()
    onnx.save(model, str(tuned / path.name))
    card.save(tuned)
    writer = OnnxInt8(tuned, card)
    card_for(int8_card, writer.write(quantized, calibration, int8_layers)).save(quantized)
    return quantized, tuned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fp32", type=Path)
    parser.add_argument("int8", type=Path)
    parser.add_argument("--holdout", nargs="+", required=True)
    parser.add_argument("--calib", nargs="+", default=[], help="calibration sources (ranges, bias correction, tuning)")
    parser.add_argument("--samples", type=int, default=128, help="calibration samples for the ranges")
    parser.add_argument("--bias-correction", action="store_true", help="add the two bias-correction rows")
    parser.add_argument("--finetune", type=int, default=0, metavar="STEPS", help="add the fine-tuned rows")
    parser.add_argument("--finetune-samples", type=int, default=400)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--samples-holdout", type=int, default=100)
    args = parser.parse_args()
    import onnx

    from edgepose.calibration.sources import load_samples
    from edgepose.converters.convert_int8 import measure, network_inputs
    from edgepose.converters.targets.base import Calibration
    from edgepose.converters.targets.onnx import OnnxInt8
    from edgepose.runtimes.card import load_card

    card, int8_card = load_card(args.fp32), load_card(args.int8)
    if card.format != "onnx" or int8_card.precision != "int8":
        sys.exit("int8_error_sources: give an ONNX fp32 artifact and the ONNX INT8 artifact made from it")
    holdout = load_samples(args.holdout, card.task, args.samples_holdout)
    fp32_model = onnx.load(str(args.fp32 / card.files["model"]))
    rows = {"as written": args.int8}
    with tempfile.TemporaryDirectory(prefix="edgepose-error-sources-") as scratch:
        for label, drop in (("int8 weights only", "activations"), ("8-bit activations only", "weights")):
            rows[label] = Path(scratch) / drop
            without(args.int8, fp32_model, rows[label], drop)
        if (args.bias_correction or args.finetune) and not args.calib:
            sys.exit("int8_error_sources: --bias-correction and --finetune need --calib")
        if args.calib:
            inputs = network_inputs(load_samples(args.calib, card.task, args.samples), card)
            writer = OnnxInt8(args.fp32, card)
            int8_layers = [n for n in writer.layers if n not in int8_card.calibration["float_layers"]]
            calibration = Calibration(writer.collect(inputs, None), int8_card.calibration["method"], inputs[:1])
        for scope in ("/backbone/", "/") if args.bias_correction else ():
            label = f"+ bias correction ({'backbone' if scope != '/' else 'every Conv'})"
            rows[label] = Path(scratch) / f"bias{len(rows)}"
            rows[label].mkdir()
            writer = OnnxInt8(args.fp32, card)     # bias_corrected points it at its own copy of the model
            bias_corrected(int8_card, writer, calibration, int8_layers, inputs, scope, rows[label])
        if args.finetune:
            train = network_inputs(load_samples(args.calib, card.task, args.finetune_samples), card)
            label = f"+ fine-tuned ({args.finetune} steps, lr {args.lr:g})"
            rows[label], rows["fine-tuned, fp32"] = finetuned(args.fp32, card, int8_card, calibration, int8_layers,
                                                              train, args.finetune, args.lr, Path(scratch))
        print(f"{args.int8.name} vs {args.fp32.name}, {len(holdout)} held-out samples")
        for label, directory in rows.items():
            report = measure(args.fp32, directory, holdout)
            cells = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in report.items() if k in SHOWN)
            print(f"| {label} | {cells} |")


if __name__ == "__main__":
    main()
