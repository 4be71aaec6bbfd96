"""The model card `edgepose.json`: the one contract between the build side and the run side.

Every converter writes it through `ModelCard.save`; every runtime (and the Android app) reads it through
`load_card`. A card with an unknown major version or a missing/ill-typed field is rejected with a message
that names the field; nothing is guessed. Readers ignore fields they do not know, so minor versions can
add fields without breaking older runtimes.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

CARD_NAME = "edgepose.json"
SCHEMA_VERSION = "1.0"  # major.minor; a reader accepts any minor of its major

TASKS = ("pose", "detection")                      # runtimes/tasks.py: one Task per name
FORMATS = ("onnx", "ncnn", "tflite")               # runtimes/backends.py: one backend per format
DECODER_READS = {   # decoder type (runtimes/decoding.py: one decoder class each) → (the task it decodes, the
                    # output roles it reads: one of the role sets)
    "simcc": ("pose", [{"simcc_x", "simcc_y"}]),
    "heatmap": ("pose", [{"heatmaps"}]),
    "keypoints": ("pose", [{"keypoints"}]),
    "rtmdet": ("detection", [{"cls", "box"}, {"cls_box"}]),
}
DECODER_TYPES = tuple(DECODER_READS)
LAYOUTS = ("NCHW", "NHWC")
COLORS = ("RGB", "BGR")
DTYPES = ("float32", "float16", "uint8", "int8")
PRECISIONS = ("fp32", "fp16", "int8")
OUTPUT_ROLES = ("simcc_x", "simcc_y", "heatmaps", "keypoints", "cls", "box", "cls_box")
ENGINE_CACHE = "trt_cache"  # folder a runtime may add to an artifact: TensorRT engines built on first use


@dataclass(frozen=True)
class InputSpec:
    name: str                      # tensor name in the model file
    shape: list[int]               # e.g. [-1, 3, 256, 192]; -1 marks a dynamic dimension (batch)
    layout: str                    # "NCHW" or "NHWC"
    dtype: str                     # element type the model takes: float32 | float16 | uint8 | int8
    color: str                     # channel order the model expects: "RGB" or "BGR"
    mean: list[float] | None       # per channel, in `color` order; None when normalization is in the model
    std: list[float] | None        # same; None when normalization is in the model
    quantization: dict[str, float] | None = None  # {"scale", "zero_point"} for integer inputs

    @property
    def height(self) -> int:
        return self.shape[2] if self.layout == "NCHW" else self.shape[1]

    @property
    def width(self) -> int:
        return self.shape[3] if self.layout == "NCHW" else self.shape[2]


@dataclass(frozen=True)
class OutputSpec:
    name: str                      # tensor name in the model file
    role: str                      # simcc_x | simcc_y | heatmaps | keypoints | cls | box | cls_box
    shape: list[int]               # -1 marks a dynamic dimension
    stride: int | None = None      # detector outputs: feature stride in input pixels
    layout: str = "NCHW"           # detector maps: "NCHW" or "NHWC"; cls_box = class logits then l, t, r, b


@dataclass(frozen=True)
class ModelCard:
    task: str                      # "pose" or "detection"
    format: str                    # "onnx" | "ncnn" | "tflite"
    files: dict[str, str]          # role → file name inside the artifact directory, e.g. {"model": "x.onnx"}
    input: InputSpec
    outputs: list[OutputSpec]
    decoder: dict[str, Any]        # {"type": simcc|heatmap|keypoints|rtmdet, ...parameters}
    keypoints: list[str]           # keypoint names in output order (empty for detection)
    skeleton: list[list[int]]      # limb links as index pairs
    flip_pairs: list[list[int]]    # left/right index pairs for flip test
    sigmas: list[float]            # OKS sigmas per keypoint (empty for detection)
    bbox_padding: float | None     # box → crop enlargement (MMPose 1.25); None for detection
    precision: str                 # fp32 | fp16 | int8 (INT8 artifacts may keep some layers float)
    source: dict[str, Any]         # model name, architecture, checkpoint, sha256
    classes: list[str] = field(default_factory=list)   # detection class names
    edgepose_version: str = ""
    calibration: dict[str, Any] | None = None
    fidelity: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    version: str = SCHEMA_VERSION

    def __post_init__(self) -> None:
        _check_choice("task", self.task, TASKS)
        _check_choice("format", self.format, FORMATS)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("input.layout", self.input.layout, LAYOUTS)
        _check_choice("input.color", self.input.color, COLORS)
        _check_choice("input.dtype", self.input.dtype, DTYPES)
        _check_choice("decoder.type", self.decoder.get("type"), DECODER_TYPES)
        self._check_input()
        if not self.files:
            raise ConfigError("model card: 'files' is empty; an artifact needs at least one model file")
        if not self.outputs:
            raise ConfigError("model card: 'outputs' is empty")
        for out in self.outputs:
            _check_choice(f"outputs[{out.name!r}].role", out.role, OUTPUT_ROLES)
            _check_choice(f"outputs[{out.name!r}].layout", out.layout, LAYOUTS)
        if self.task == "pose":
            if not self.keypoints:
                raise ConfigError("model card: a pose card needs 'keypoints' (the keypoint names)")
            if self.bbox_padding is None or not 0 < self.bbox_padding < math.inf:
                raise ConfigError("model card: a pose card needs a positive, finite 'bbox_padding' (MMPose uses 1.25)")
            if self.sigmas and len(self.sigmas) != len(self.keypoints):
                raise ConfigError(f"model card: {len(self.sigmas)} sigmas for {len(self.keypoints)} keypoints")
            if not all(0 < s < math.inf for s in self.sigmas):
                raise ConfigError(f"model card: 'sigmas' must be positive and finite, got {self.sigmas}")
        self._check_decoder()

    def _check_input(self) -> None:
        inp = self.input
        batch_ok = len(inp.shape) == 4 and (inp.shape[0] >= 1 or inp.shape[0] == -1)
        if not batch_ok or not all(d >= 1 for d in inp.shape[1:]):
            raise ConfigError(f"model card: input.shape must be 4 dimensions, batch -1 (dynamic) or ≥ 1 and the others "
                              f"≥ 1, got {inp.shape}")
        channels = inp.shape[1] if inp.layout == "NCHW" else inp.shape[3]
        if channels != 3:
            raise ConfigError(f"model card: input.shape {inp.shape} has {channels} channels in {inp.layout}; "
                              "models take 3 (the colour image)")
        if (inp.mean is None) != (inp.std is None):
            raise ConfigError("model card: input.mean and input.std must both be set or both be null")
        if inp.mean is not None:
            for name, values in (("mean", inp.mean), ("std", inp.std)):
                if len(values) != channels or not all(math.isfinite(v) for v in values):
                    raise ConfigError(f"model card: input.{name} must be {channels} finite numbers (one per channel, "
                                      f"in {inp.color} order), got {values}")
            if not all(0 <= v <= 255 for v in inp.mean):
                raise ConfigError(f"model card: input.mean is in pixel units, each in [0, 255], got {inp.mean}")
            if not all(1e-3 <= v <= 1e6 for v in inp.std):
                raise ConfigError(f"model card: input.std must be > 0 per channel (pixels are divided by it; "
                                  f"accepted: 0.001 to 1e6), got {inp.std}")

    def _check_decoder(self) -> None:
        """The decoder decodes this card's task and finds the outputs it reads."""
        task, role_sets = DECODER_READS[self.decoder["type"]]
        if task != self.task:
            fits = [name for name, (t, _) in DECODER_READS.items() if t == self.task]
            raise ConfigError(f"model card: decoder {self.decoder['type']!r} decodes {task} models, this card is "
                              f"{self.task}; {self.task} decoders: {', '.join(fits)}")
        roles = {o.role for o in self.outputs}
        if not any(needed <= roles for needed in role_sets):
            wanted = " or ".join("+".join(sorted(s)) for s in role_sets)
            raise ConfigError(f"model card: decoder {self.decoder['type']!r} reads outputs with roles {wanted}; "
                              f"this card's outputs have roles {', '.join(sorted(roles))}")
        if task == "detection" and any(o.stride is None for o in self.outputs if o.role in ("cls", "box", "cls_box")):
            raise ConfigError("model card: each detector output needs its 'stride'")

    def output(self, role: str) -> list[OutputSpec]:
        """All outputs of one role, in card order (detectors have one per stride)."""
        return [o for o in self.outputs if o.role == role]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"version": data.pop("version"), **data}

    def save(self, directory: str | os.PathLike) -> Path:
        """Write `edgepose.json` into `directory` atomically (temp file + rename); return its path."""
        directory = Path(directory)
        path = directory / CARD_NAME
        fd, tmp = tempfile.mkstemp(prefix=".edgepose-", suffix=".json", dir=directory)
        with os.fdopen(fd, "w") as f:
            json.dump(self.to_dict(), f, indent=2)
            f.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp files are private; a card is meant to be read by anyone
        os.replace(tmp, path)
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelCard":
        """Validate and build a card; raise ConfigError naming the first bad field."""
        if not isinstance(data, dict):
            raise ConfigError("model card: top level must be a JSON object")
        version = _field(data, "version", str, "")
        major = version.split(".")[0]
        if major != SCHEMA_VERSION.split(".")[0]:
            raise ConfigError(
                f"model card: schema version {version!r} is not supported by this edgepose "
                f"(reads {SCHEMA_VERSION.split('.')[0]}.x); re-convert the model or upgrade edgepose")
        inp = _field(data, "input", dict, "")
        input_spec = InputSpec(
            name=_field(inp, "name", str, "input."),
            shape=_int_list(_field(inp, "shape", list, "input."), "input.shape"),
            layout=_field(inp, "layout", str, "input."),
            dtype=_field(inp, "dtype", str, "input."),
            color=_field(inp, "color", str, "input."),
            mean=_float_list_or_none(inp, "mean", "input."),
            std=_float_list_or_none(inp, "std", "input."),
            quantization=_quantization(inp.get("quantization")),
        )
        outputs = []
        for i, out in enumerate(_field(data, "outputs", list, "")):
            if not isinstance(out, dict):
                raise ConfigError(f"model card: outputs[{i}] must be an object")
            outputs.append(OutputSpec(
                name=_field(out, "name", str, f"outputs[{i}]."),
                role=_field(out, "role", str, f"outputs[{i}]."),
                shape=_int_list(_field(out, "shape", list, f"outputs[{i}]."), f"outputs[{i}].shape"),
                stride=_positive_int_or_none(out, "stride", f"outputs[{i}]."),
                layout=out.get("layout", "NCHW"),
            ))
        padding = data.get("bbox_padding")
        if padding is not None and not _is_number(padding):
            raise ConfigError(f"model card: 'bbox_padding' must be a number or null, got {padding!r}")
        keypoints = _str_list(_field(data, "keypoints", list, ""), "keypoints")
        return cls(
            version=version,
            task=_field(data, "task", str, ""),
            format=_field(data, "format", str, ""),
            files=_files(_field(data, "files", dict, "")),
            input=input_spec,
            outputs=outputs,
            decoder=_decoder(_field(data, "decoder", dict, "")),
            keypoints=keypoints,
            skeleton=_pairs(_field(data, "skeleton", list, ""), "skeleton", len(keypoints)),
            flip_pairs=_pairs(_field(data, "flip_pairs", list, ""), "flip_pairs", len(keypoints)),
            sigmas=_float_list(data.get("sigmas") or [], "sigmas"),
            bbox_padding=None if padding is None else float(padding),
            precision=_field(data, "precision", str, ""),
            source=_field(data, "source", dict, ""),
            classes=_str_list(data.get("classes") or [], "classes"),
            edgepose_version=_optional(data, "edgepose_version", str, ""),
            calibration=_optional(data, "calibration", dict, None),
            fidelity=_optional(data, "fidelity", dict, None),
            verification=_optional(data, "verification", dict, None),
        )


def artifact_dir(path: str | os.PathLike) -> Path:
    """The artifact folder `path` names: the folder itself, or the folder of the card file given instead."""
    path = Path(path)
    return path.parent if path.is_file() and path.suffix.lower() == ".json" else path


def load_card(path: str | os.PathLike) -> ModelCard:
    """Read and validate a card from an artifact directory or from the JSON file itself."""
    path = Path(path)
    if path.is_dir():
        path = path / CARD_NAME
    elif path.is_file() and path.suffix.lower() != ".json":
        raise ConfigError(f"{path} is a file, not an artifact folder; give the folder that holds {CARD_NAME} "
                          f"(written by `edgepose convert` or `edgepose card`)")
    if not path.is_file():
        raise ConfigError(f"no model card at {path}; point to an artifact directory written by `edgepose convert`")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"model card {path} is not valid JSON ({exc}); re-run the conversion") from exc
    card = ModelCard.from_dict(data)
    for role, name in card.files.items():
        if not (path.parent / name).is_file():
            raise ConfigError(f"model card {path} lists {role} file {name!r}, which is missing beside it")
    return card


def _field(data: dict, key: str, kind: type, prefix: str) -> Any:
    if key not in data:
        raise ConfigError(f"model card: missing field '{prefix}{key}'")
    value = data[key]
    if not isinstance(value, kind):
        raise ConfigError(f"model card: field '{prefix}{key}' must be {kind.__name__}, got {type(value).__name__}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _optional(data: dict, key: str, kind: type, default: Any) -> Any:
    value = data.get(key, default)
    if value is not None and not isinstance(value, kind):
        raise ConfigError(f"model card: field '{key}' must be {kind.__name__} or absent, got {type(value).__name__}")
    return value


def _files(files: dict) -> dict[str, str]:
    for role, name in files.items():
        if not isinstance(name, str) or not name or name in (".", "..") or any(c in name for c in "/\\\0"):
            raise ConfigError(f"model card: files.{role} must be a file name inside the artifact folder, got {name!r}")
    return files


def _decoder(decoder: dict) -> dict:
    """Type-check the decoder parameters a runtime reads (unknown ones are kept for newer readers)."""
    numbers = ("split_ratio", "score_threshold", "nms_iou", "letterbox_pad_value", "max_detections")
    for key in numbers:
        if key in decoder and not (_is_number(decoder[key]) and math.isfinite(decoder[key])):
            raise ConfigError(f"model card: 'decoder.{key}' must be a finite number, got {decoder[key]!r:.80}")
    ranges = {"letterbox_pad_value": (0, 255, "[0, 255]"), "score_threshold": (0, 1, "[0, 1]"),
              "nms_iou": (1e-6, 1, "(0, 1]"), "max_detections": (1, 10_000, "[1, 10000]"),
              "split_ratio": (1e-3, 1e3, "(0, 1000]")}
    for key, (low, high, shown) in ranges.items():
        if key in decoder and not low <= decoder[key] <= high:
            raise ConfigError(f"model card: 'decoder.{key}' must be in {shown}, got {decoder[key]}")
    if decoder.get("type") == "simcc" and not (_is_number(decoder.get("split_ratio")) and decoder["split_ratio"] > 0):
        raise ConfigError(f"model card: a simcc decoder needs a positive 'decoder.split_ratio', "
                          f"got {decoder.get('split_ratio')!r}")
    return decoder


def _str_list(values: Any, where: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"model card: '{where}' must be a list of strings, got {values!r:.120}")
    return values


def _float_list(values: Any, where: str) -> list[float]:
    if not isinstance(values, list) or not all(_is_number(v) for v in values):
        raise ConfigError(f"model card: '{where}' must be a list of numbers, got {values!r:.120}")
    return [float(v) for v in values]


def _pairs(values: list, where: str, count: int) -> list[list[int]]:
    """Index pairs into the keypoint list, e.g. skeleton links or left/right flip pairs."""
    for pair in values:
        if not (isinstance(pair, list) and len(pair) == 2 and all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < count for i in pair)):
            raise ConfigError(f"model card: '{where}' must be pairs of keypoint indices in [0, {count}), "
                              f"got {pair!r:.80}")
    return values


def _quantization(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    if not (isinstance(value, dict) and _is_number(value.get("scale")) and value["scale"] > 0
            and _is_number(value.get("zero_point"))):
        raise ConfigError(f"model card: 'input.quantization' must be null or {{\"scale\": > 0, \"zero_point\": "
                          f"number}}, got {value!r:.120}")
    return value


def _positive_int_or_none(data: dict, key: str, prefix: str) -> int | None:
    value = data.get(key)
    if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        raise ConfigError(f"model card: '{prefix}{key}' must be a positive integer or null, got {value!r:.80}")
    return value


def _int_list(values: list, where: str) -> list[int]:
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ConfigError(f"model card: '{where}' must be a list of integers, got {values!r}")
    return list(values)


def _float_list_or_none(data: dict, key: str, prefix: str) -> list[float] | None:
    if key not in data:
        raise ConfigError(f"model card: missing field '{prefix}{key}' (use null when normalization is in the model)")
    value = data[key]
    if value is None:
        return None
    if not isinstance(value, list) or not all(_is_number(v) for v in value):
        raise ConfigError(f"model card: '{prefix}{key}' must be a list of numbers or null, got {value!r:.120}")
    return [float(v) for v in value]


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"model card: '{name}' is {value!r}; expected one of {', '.join(choices)}")
