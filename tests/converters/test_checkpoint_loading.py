"""Checkpoint formats MMPose users have, and the one-line errors for files that do not fit."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgepose.converters.checkpoint import load_weights, read_state_dict, remap_keys
from edgepose.converters.zoo import ZOO
from edgepose.runtimes.errors import CheckpointError

from ..conftest import reference, run_cli


def outputs(model: str, state: dict) -> tuple:
    net = ZOO[model].build().eval()
    load_weights(net, state, model)
    with torch.no_grad():
        out = net(torch.from_numpy(np.load(reference(model, "input.npy"))))
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("model", ["rtmpose-t", "litehrnet-18"])
def test_training_checkpoint_loads_like_the_published_one(model):
    train = read_state_dict(reference(model, "checkpoint_train.pth"))
    published = read_state_dict(reference(model, "checkpoint_published.pth"))
    assert sorted(train) == sorted(published)
    for a, b in zip(outputs(model, train), outputs(model, published)):
        assert torch.equal(a, b)


def test_mmpose_0x_keypoint_head_layout_loads():
    """0.x files: `keypoint_head.*`, no version metadata, stray data_preprocessor buffers."""
    state = read_state_dict(reference("litehrnet-18", "checkpoint_published.pth"))
    legacy = {k.replace("head.", "keypoint_head.", 1) if k.startswith("head.") else k: v for k, v in state.items()}
    legacy["data_preprocessor.mean"] = torch.zeros(1, 3, 1, 1)
    legacy = {f"module.{k}": v for k, v in legacy.items()}
    remapped = remap_keys(legacy)
    assert sorted(remapped) == sorted(state)
    ref = np.load(reference("litehrnet-18", "out_heatmaps.npy"))
    assert np.abs(outputs("litehrnet-18", remapped)[0].numpy() - ref).max() < 1e-4


def test_old_heatmap_head_final_layer_stack_is_renamed():
    state = {"keypoint_head.final_layer.0.weight": torch.zeros(1), "keypoint_head.final_layer.1.weight": torch.ones(1),
             "keypoint_head.final_layer.1.bias": torch.ones(1)}
    assert sorted(remap_keys(state)) == ["head.conv_layers.0.weight", "head.final_layer.bias",
                                         "head.final_layer.weight"]


def test_versioned_1x_state_dict_is_not_renamed():
    state = {"head.final_layer.weight": torch.zeros(1), "__version__": 2}
    assert list(remap_keys(state)) == ["head.final_layer.weight"]


def _bad_checkpoints(tmp_path):
    published = reference("rtmpose-t", "checkpoint_published.pth")
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(published.read_bytes()[: published.stat().st_size // 2])
    state = read_state_dict(published)
    missing = tmp_path / "missing.pth"
    torch.save({k: v for k, v in state.items() if k != "head.cls_x.weight"}, missing)
    extra = tmp_path / "extra.pth"
    torch.save({**state, "head.extra_layer.weight": torch.zeros(3)}, extra)
    not_torch = tmp_path / "notes.pth"
    not_torch.write_text("this is not a checkpoint\n")
    return {
        "truncated": (truncated, "truncated"),
        "other model": (reference("rtmpose-s", "checkpoint_published.pth"), "another model"),
        "missing key": (missing, "1 missing [head.cls_x.weight]"),
        "extra key": (extra, "1 unexpected [head.extra_layer.weight]"),
        "not a torch file": (not_torch, "not a PyTorch file"),
    }


@pytest.mark.parametrize("case", ["truncated", "other model", "missing key", "extra key", "not a torch file"])
def test_bad_checkpoint_gives_one_line_exit_1_and_writes_nothing(case, tmp_path):
    path, expected = _bad_checkpoints(tmp_path)[case]
    out = tmp_path / "out"
    result = run_cli("convert", "rtmpose-t", "--weights", str(path), "--output", str(out))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgepose: error:"), result.stderr
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists(), "a failed conversion created the output directory"


def test_mis_shaped_key_is_reported_with_both_shapes():
    net = ZOO["rtmpose-t"].build()
    state = net.state_dict()
    state["head.cls_x.weight"] = torch.zeros(10, 256)
    with pytest.raises(CheckpointError, match=r"head.cls_x.weight: checkpoint \(10, 256\) vs model \(384, 256\)"):
        load_weights(net, state, "rtmpose-t")


def test_missing_weights_file_is_a_clear_error(tmp_path):
    result = run_cli("convert", "rtmpose-t", "--weights", str(tmp_path / "nope.pth"), "-o", str(tmp_path / "o"))
    assert result.returncode == 1 and "no such file" in result.stderr
    assert not (tmp_path / "o").exists()


class _Arbitrary:
    """A pickled object that weights_only loading must refuse."""


def test_checkpoint_with_arbitrary_objects_is_refused(tmp_path):
    path = tmp_path / "pickled.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": _Arbitrary()}, path)
    with pytest.raises(CheckpointError, match="holds objects other than tensors"):
        read_state_dict(path)
