"""ONNX → NCNN through pnnx, with fp32 weights.

pnnx writes fp16 weights unless told `fp16=0`; an fp32 artifact must say so (measured on MMPose's RTMPose-t:
fp16 weights move outputs by 8.6e-3 relative, fp32 by 5.6e-5). fp16 artifacts are cast from this fp32 export:
`bin.cast_weights_fp16` stores only weights of ≥ 4096 elements as fp16, the policy of the ONNX writer
(casting every weight, as pnnx does, drops LiteHRNet-30's heatmap cosine to 0.991).

No per-layer fp16 masks: ncnn's `31=` feature mask with bit 2 (no fp16 storage) is broken on fp16-capable ARM
cores — `Net::convert_layout` casts an fp16 input blob back to fp32 only when the layer's *masked* options still
have fp16 storage on, so the masked layer reads fp16 data as fp32 and writes past its blobs ("pool allocator get
wild", double free, segfault; minimal 4-layer repro: tests/aarch64/ncnn_featmask_repro.py, crashes under
emulated cortex-a76 also with fp16 arithmetic off). fp16 range safety lives in the graph instead (RTMPose's
ScaleNorm, converters/models/rtmpose.py); the ONNX metadata `edgepose.fp16_safe` says so and the card repeats it.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from edgepose.runtimes.errors import ExportError

from ...onnx_export import FP16_SAFE_KEY
from .param import NcnnParam


@dataclass(frozen=True)
class NcnnFiles:
    param: str                 # file names inside the artifact directory
    bin: str
    input_name: str
    output_names: list[str]    # in the ONNX output order
    fp16_safe: bool            # the ONNX came from an edgepose model whose graph cannot overflow fp16


def export_ncnn(onnx_path: Path, directory: Path, stem: str, input_shape: tuple[int, ...],
                timeout: float = 600.0) -> NcnnFiles:
    """Run pnnx on `onnx_path` and write `<stem>.param` / `<stem>.bin` into `directory`.

    pnnx runs inside a private work folder on plain ASCII file names (the ONNX is linked there) and the
    results are moved out, so relative output folders and paths with spaces or non-ASCII characters
    never reach it."""
    work = Path(directory).resolve() / ".pnnx"
    work.mkdir()
    param, binary = directory / f"{stem}.param", directory / f"{stem}.bin"
    shape = "[" + ",".join(str(d) for d in input_shape) + "]"
    try:
        _link_or_copy(Path(onnx_path).resolve(), work / "m.onnx")
        command = [_pnnx_executable(), "m.onnx", f"inputshape={shape}", "fp16=0", "ncnnparam=m.ncnn.param",
                   "ncnnbin=m.ncnn.bin", "pnnxparam=m.pnnx.param", "pnnxbin=m.pnnx.bin", "pnnxpy=m_pnnx.py",
                   "pnnxonnx=m.pnnx.onnx", "ncnnpy=m_ncnn.py"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=work)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ExportError(f"pnnx could not run ({exc}); pip install pnnx") from exc
        made = (work / "m.ncnn.param", work / "m.ncnn.bin")
        if result.returncode != 0 or not all(p.is_file() for p in made):
            tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
            raise ExportError(f"pnnx failed to convert {Path(onnx_path).name} (exit {result.returncode}): {tail}")
        made[0].replace(param)
        made[1].replace(binary)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    unsupported = _unknown_layer_types(param)
    if unsupported:
        raise ExportError(f"pnnx left operators ncnn cannot run: {', '.join(unsupported)} (ncnn has no such layer)")
    input_name, output_names = _io_blobs(param)
    return NcnnFiles(param.name, binary.name, input_name, output_names, _fp16_safe(onnx_path))


def _fp16_safe(onnx_path: Path) -> bool:
    import onnx

    props = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    return props.get(FP16_SAFE_KEY) == "true"


def _link_or_copy(source: Path, link: Path) -> None:
    try:
        link.symlink_to(source)
    except OSError:  # no symlinks on this file system
        shutil.copyfile(source, link)


def _pnnx_executable() -> str:
    candidate = Path(sys.executable).with_name("pnnx")
    if candidate.is_file():
        return str(candidate)
    try:
        import pnnx  # noqa: F401  (the wheel ships the executable next to the interpreter's scripts)
    except ImportError as exc:
        raise ExportError("pnnx is not installed; pip install 'edgepose[convert]'") from exc
    return "pnnx"


def _unknown_layer_types(param: Path) -> list[str]:
    """Layer types in `param` that the ncnn runtime cannot create (pnnx passes unknown ONNX ops through)."""
    try:
        import ncnn
    except ImportError as exc:
        raise ExportError("the ncnn runtime checks pnnx's output; pip install 'edgepose[ncnn]'") from exc
    return sorted(k for k in NcnnParam.read(param).kinds if ncnn.create_layer(k) is None)


def _io_blobs(param: Path) -> tuple[str, list[str]]:
    """The Input layer's blob and the blobs no layer consumes (the outputs, in the ONNX output order)."""
    model = NcnnParam.read(param)
    input_name, outputs = model.input_blob, model.output_blobs
    if input_name is None or not outputs:
        raise ExportError(f"{param.name} has no Input layer or no outputs")
    return input_name, outputs
