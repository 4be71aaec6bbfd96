"""Split one ncnn model into a body and a head net, so the head can run in fp32 while the body uses ncnn's
fp16 fast path.

Why: on ARMv8.2 cores ncnn computes in fp16 when fp16 arithmetic is on, and RTMPose's SimCC head (a GAU
and two Linear classifiers over 384/512 bins) turns the small rounding of fp16 accumulation into argmax
flips of several bins on flat peaks (emulated cortex-a76, distilled RTMPose-t: whole net in fp16 1.4-2.3 px
mean, head in fp32 0.7-1.0 px; what remains is the backbone's rounding flipping low-score peaks). ncnn's
per-layer "no fp16" mask (`31=`) is the obvious tool but crashes on fp16 cores (export.py's docstring), so
the head becomes a second net that the runtime always runs with fp16 off (runtimes/backends.py NcnnBackend).

The cut: the blobs the model also exported as extra outputs (the head's inputs). The body is every layer
those blobs depend on; the head is every other layer, reading the cut blobs from Input layers of the same
name. Weights are moved layer by layer, byte for byte.
"""
from __future__ import annotations

from pathlib import Path

from edgepose.runtimes.errors import ExportError

from .bin import read_weights
from .param import NcnnLayer, NcnnParam


def split_head(param: Path, binary: Path, cut: list[str], head_param: Path, head_bin: Path) -> list[str]:
    """Rewrite `param`/`binary` in place as the body (whose outputs are the `cut` blobs) and write the head
    net to `head_param`/`head_bin`. A cut blob that pnnx copied through a Split is traced back to the blob
    the Split reads. Returns the head's input blob names (the body's outputs), in `cut` order."""
    model = NcnnParam.read(param)
    weights = read_weights(param, binary)
    producer = {top: layer for layer in model.layers for top in layer.tops}
    missing = [blob for blob in cut if blob not in producer]
    if missing:
        raise ExportError(f"{param.name}: no layer writes the head input blob(s) {missing}")
    cut = [_through_splits(blob, producer) for blob in cut]
    body_names = _ancestors(cut, producer)
    body = [layer for layer in model.layers if layer.name in body_names]
    head = [layer for layer in model.layers if layer.name not in body_names]
    made_in_head = {top for layer in head for top in layer.tops} | set(cut)
    leaks = sorted({b for layer in head for b in layer.bottoms if b not in made_in_head})
    if leaks:
        raise ExportError(f"{param.name}: the head also reads body blobs {leaks[:3]}; the cut is not a clean split")
    inputs = [NcnnLayer("Input", f"head_in{i}", (), (blob,), {}) for i, blob in enumerate(cut)]
    _write(NcnnParam(model.magic, tuple(body)), weights, param, binary)
    _write(NcnnParam(model.magic, (*inputs, *head)), weights, head_param, head_bin)
    return cut


def _through_splits(blob: str, producer: dict[str, NcnnLayer]) -> str:
    while producer[blob].kind == "Split":
        blob = producer[blob].bottoms[0]
    return blob


def _ancestors(blobs: list[str], producer: dict[str, NcnnLayer]) -> set[str]:
    """Names of the layers that `blobs` depend on (their producers, transitively)."""
    names: set[str] = set()
    todo = list(blobs)
    while todo:
        layer = producer.get(todo.pop())
        if layer is not None and layer.name not in names:
            names.add(layer.name)
            todo += layer.bottoms
    return names


def _write(model: NcnnParam, weights: dict[str, tuple[bytes, list]], param: Path, binary: Path) -> None:
    data = b"".join(weights[layer.name][0] for layer in model.layers if layer.name in weights)
    model.write(param)
    binary.write_bytes(data)
