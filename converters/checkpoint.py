"""Read MMPose / MMDetection checkpoints with torch alone and load them strictly into edgepose models.

Accepted: MMPose's published files (legacy torch serialization, `{'meta', 'state_dict'}`), training
checkpoints (`state_dict` + optimizer, zip format), bare state dicts, `module.`-prefixed (DDP) keys and
MMPose 0.x layouts (`keypoint_head.*`, `final_layer.N.*`). Files are read with `weights_only=True`; the
only extra globals allowed are the numpy array/dtype constructors that MMPose's `meta` uses.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgepose.runtimes.errors import CheckpointError


def _numpy_globals() -> list:
    """numpy objects pickled inside MMPose `meta` (dataset_meta arrays), under their numpy 1.x and 2.x names."""
    from numpy._core.multiarray import _reconstruct  # numpy >= 2

    allowed: list = [_reconstruct, (_reconstruct, "numpy.core.multiarray._reconstruct"), np.ndarray, np.dtype]
    allowed += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    return allowed


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint file and return its model state dict (tensors only, MMPose key fix-ups applied)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass --weights PATH to an MMPose .pth file")
    _check_magic(path)
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many unrelated types on damaged input
        text = str(exc)
        if "Unsupported global" in text:
            detail = next((line.strip() for line in text.splitlines() if "Unsupported global" in line), "")
            raise CheckpointError(f"checkpoint {path} holds objects other than tensors and numpy arrays "
                                  f"({detail[:160]}); re-save it as a plain state dict") from exc
        raise CheckpointError(f"checkpoint {path} is truncated or damaged ({_first_sentence(exc)}); "
                              "download it again") from exc
    return remap_keys(unwrap(obj, path))


def _check_magic(path: Path) -> None:
    """A PyTorch checkpoint is a zip archive (torch ≥ 1.6) or a pickle (the legacy format MMPose publishes)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise CheckpointError(f"checkpoint {path} is empty; download it again")
    if head != b"PK\x03\x04" and not (head[0] == 0x80 and 2 <= head[1] <= 5):
        raise CheckpointError(f"checkpoint {path} is not a PyTorch file (neither a zip archive nor a pickle); "
                              "pass an MMPose .pth checkpoint")


def _first_sentence(exc: Exception) -> str:
    """`Type: first sentence` of an exception, whole (torch's weights_only errors run to paragraphs)."""
    text = " ".join(str(exc).split())
    if "weights_only" in text:  # torch's advice about weights_only=False, which edgepose never uses
        return f"{type(exc).__name__}: its pickle data cannot be read"
    cut = text.find(". ")
    sentence = text if cut < 0 else text[:cut + 1]
    if len(sentence) > 200:
        sentence = sentence[:sentence.rfind(" ", 0, 200)] + " …"
    return f"{type(exc).__name__}: {sentence or 'no detail'}"


def unwrap(obj: object, path: Path | str = "<memory>") -> dict[str, torch.Tensor]:
    """The model weights of a checkpoint object: its `state_dict` (or `model`), or the object itself."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"checkpoint {path} holds no state dict (found {type(obj).__name__})")
    metadata = getattr(obj, "_metadata", None)
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"checkpoint {path} holds no tensors")
    state = dict(tensors)
    if metadata is not None and "" in metadata:
        state["__version__"] = metadata[""].get("version")  # type: ignore[assignment]
    return state


def remap_keys(state: dict) -> dict[str, torch.Tensor]:
    """Apply the renames MMPose applies on load (see model_facts §5).

    - strip a leading `module.` (DDP) and drop `data_preprocessor.*` buffers;
    - MMPose 0.x files (no version or version < 2): `keypoint_head.` → `head.`, and the old HeatmapHead
      `final_layer.N.*` stack maps its last entry to `final_layer.*` and earlier ones to `conv_layers.N.*`.
    """
    version = state.pop("__version__", None)
    out = {}
    for key, value in state.items():
        key = re.sub(r"^module\.", "", key)
        if key.startswith("data_preprocessor."):
            continue
        out[key] = value
    legacy = version is None or version < 2 or any(k.startswith("keypoint_head.") for k in out)
    if not legacy:
        return out
    out = {re.sub(r"^keypoint_head\.", "head.", k): v for k, v in out.items()}
    indices = sorted({int(m.group(1)) for k in out if (m := re.match(r"^head\.final_layer\.(\d+)\.", k))})
    if indices:
        last = indices[-1]
        renamed = {}
        for key, value in out.items():
            m = re.match(r"^head\.final_layer\.(\d+)\.(.*)$", key)
            if m is None:
                renamed[key] = value
            elif int(m.group(1)) == last:
                renamed[f"head.final_layer.{m.group(2)}"] = value
            else:
                renamed[f"head.conv_layers.{m.group(1)}.{m.group(2)}"] = value
        out = renamed
    return out


@dataclass
class LoadReport:
    """What did not fit when a state dict was loaded into a model."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # "key: checkpoint (a, b) vs model (c, d)"

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self, limit: int = 3) -> str:
        parts = []
        for label, keys in (("missing", self.missing), ("unexpected", self.unexpected),
                            ("mis-shaped", self.mismatched)):
            if keys:
                shown = ", ".join(keys[:limit]) + (f", … (+{len(keys) - limit})" if len(keys) > limit else "")
                parts.append(f"{len(keys)} {label} [{shown}]")
        return "; ".join(parts) if parts else "all keys match"


def compare_keys(model: nn.Module, state: dict[str, torch.Tensor]) -> LoadReport:
    """Missing, unexpected and mis-shaped keys of `state` against `model`'s state dict."""
    expected = model.state_dict()
    report = LoadReport()
    report.missing = [k for k in expected if k not in state]
    report.unexpected = [k for k in state if k not in expected]
    report.mismatched = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
                         for k, v in expected.items() if k in state and state[k].shape != v.shape]
    return report


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], name: str, strict: bool = True) -> LoadReport:
    """Load `state` into `model`; in strict mode any missing, unexpected or mis-shaped key is an error."""
    report = compare_keys(model, state)
    if report.mismatched or (strict and not report.ok):
        hint = ("it looks like a checkpoint of another model" if len(report.missing) + len(report.mismatched)
                > len(model.state_dict()) // 2 else "the file does not match the architecture")
        raise CheckpointError(f"checkpoint does not fit {name}: {report.summary()} — {hint}; "
                              f"check the model name or pass the matching --weights")
    usable = {k: v for k, v in state.items() if k not in report.unexpected}
    model.load_state_dict(usable, strict=False)
    return report
