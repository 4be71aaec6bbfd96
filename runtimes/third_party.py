"""Model cards for model files edgepose did not convert: the public RTMDet-nano ONNX / NCNN export and
MoveNet SinglePose Lightning TFLite. `wrap(kind, files, directory)` copies the files into an artifact
directory and writes the card beside them (CLI: `edgepose card KIND FILE... --output DIR`). The files are
opened with the backend runtime and their inputs and outputs checked against the card first
(`backends.check_against_card`), so random bytes or a different model give an error and no directory."""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


from .atomic import atomic_directory
from .backends import open_backend
from .card import InputSpec, ModelCard, OutputSpec
from .errors import ConfigError, EdgeposeError
from .keypoints import COCO17
from .presets import DET_MEAN_BGR, DET_STD_BGR, RTMDET_DECODER
from .version import __version__

_RTMDET_OUTPUTS = [("1211", 8, 40), ("1213", 16, 20), ("1215", 32, 10)]


def _rtmdet(fmt: str, files: dict[str, str]) -> ModelCard:
    return ModelCard(
        task="detection", format=fmt, files=files,
        input=InputSpec("images", [1, 3, 320, 320], "NCHW", "float32", "BGR", list(DET_MEAN_BGR), list(DET_STD_BGR)),
        outputs=[OutputSpec(name, "cls_box", [1, n, n, 5], stride=s, layout="NHWC") for name, s, n in _RTMDET_OUTPUTS],
        decoder=dict(RTMDET_DECODER), keypoints=[], skeleton=[], flip_pairs=[], sigmas=[], bbox_padding=None,
        precision="fp32" if fmt == "onnx" else "fp16", classes=["person"], edgepose_version=__version__,
        source={"model": "rtmdet-nano", "origin": "public RTMDet-nano export (MMDet rtmdet_nano_320-8xb32_coco-person)"})


def _movenet(files: dict[str, str]) -> ModelCard:
    return ModelCard(
        task="pose", format="tflite", files=files,
        input=InputSpec("serving_default_input:0", [1, 192, 192, 3], "NHWC", "uint8", "RGB", None, None),
        outputs=[OutputSpec("StatefulPartitionedCall:0", "keypoints", [1, 1, 17, 3])],
        decoder={"type": "keypoints", "format": "yx_score_normalized"}, **COCO17.card_fields(), bbox_padding=1.25,
        precision="int8", edgepose_version=__version__,
        source={"model": "movenet-singlepose-lightning", "origin": "TF Hub MoveNet Lightning v4 INT8 (Apache-2.0)"})


KINDS = {
    "rtmdet-onnx": (("model",), lambda files: _rtmdet("onnx", files)),
    "rtmdet-ncnn": (("param", "bin"), lambda files: _rtmdet("ncnn", files)),
    "movenet-tflite": (("model",), _movenet),
}


def wrap(kind: str, sources: list[str | Path], directory: str | Path, overwrite: bool = False) -> Path:
    """Copy `sources` into `directory` with an edgepose.json for `kind`; atomic like a conversion."""
    if kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    roles, make = KINDS[kind]
    if len(sources) != len(roles):
        raise ConfigError(f"{kind} takes {len(roles)} file(s) ({', '.join(roles)}), got {len(sources)}")
    sources = [Path(s) for s in sources]
    for src in sources:
        if not src.is_file():
            raise ConfigError(f"{src}: no such file")
    directory = Path(directory)
    card = make({role: src.name for role, src in zip(roles, sources)})
    what = f"{kind} {' '.join(str(s) for s in sources)}"
    folders = {src.parent for src in sources}
    if len(folders) == 1:  # check the files where they are: a bad file creates nothing
        _check_files(card, folders.pop(), what)
    with atomic_directory(directory, overwrite) as tmp:
        for src in sources:
            shutil.copyfile(src, tmp / src.name)
        if len(folders) > 1:
            _check_files(card, tmp, what)
        card.save(tmp)
    return directory


def _check_files(card: ModelCard, folder: Path, what: str) -> None:
    with model_load_errors(what):
        try:
            open_backend(card, folder)  # checks the file against the card
        except ConfigError as exc:
            raise ConfigError(f"{what}: {exc}; it is a different model") from None


@contextmanager
def model_load_errors(what: str) -> Iterator[None]:
    """Turn the runtimes' own exceptions for a file they cannot load (onnxruntime's InvalidProtobuf/Fail,
    LiteRT's ValueError, ncnn's RuntimeError, ...) into one ConfigError naming `what`."""
    try:
        yield
    except EdgeposeError:
        raise
    except Exception as exc:  # noqa: BLE001 - each runtime raises its own types; all mean "cannot load"
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:200]
        raise ConfigError(f"{what}: the model file cannot be loaded ({detail}); it is damaged or not the "
                          "model its card describes") from None
