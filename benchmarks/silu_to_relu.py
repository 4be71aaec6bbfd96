"""A timing-only variant of an ONNX model: every SiLU (`x * Sigmoid(x)`) replaced by ReLU. Convert it like the
original and time both to see what the SiLUs cost in fp32 and INT8 (the RTMDet-nano TFLite rows of docs/int8.md):

    python benchmarks/silu_to_relu.py rtmdet-nano.onnx relu.onnx
    edgepose convert rtmdet-nano --weights relu.onnx --target tflite --int8 --max-error off \\
        --calib vtest.avi --holdout coco/ --samples 32 -o relu/
    edgepose bench relu/ out/rtmdet-nano-tflite-fp32 out/rtmdet-nano-tflite-int8 --threads 1,2

The variant computes something else: its outputs mean nothing, only its speed does.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def silu_to_relu(src: Path, dst: Path) -> int:
    """Write `src` with each Mul of a tensor by its own Sigmoid turned into a Relu; returns how many."""
    import onnx

    model = onnx.load(str(src))
    graph = model.graph
    sigmoids = {n.output[0]: n for n in graph.node if n.op_type == "Sigmoid"}
    replaced = set()
    for node in graph.node:
        if node.op_type != "Mul" or len(node.input) != 2:
            continue
        a, b = node.input
        for gate, x in ((a, b), (b, a)):
            if gate in sigmoids and sigmoids[gate].input[0] == x:
                node.op_type = "Relu"
                del node.input[:]
                node.input.append(x)
                replaced.add(sigmoids[gate].name)
                break
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    kept = [n for n in graph.node if n.name not in replaced or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(kept)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return len(replaced)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args()
    print(f"{args.dst}: {silu_to_relu(args.src, args.dst)} SiLUs replaced by ReLU (timing only)")


if __name__ == "__main__":
    main()
