"""Tier 3: `edgepose convert --target onnx` writes an artifact that reproduces MMPose (pose) or the
public RTMDet-nano ONNX export (detector) in onnxruntime."""
from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from edgepose.runtimes.card import load_card
from edgepose.runtimes.detector import letterbox
from edgepose.runtimes.preprocess import to_network_input

from ..conftest import POSE_MODELS, RTMDET_ONNX, SHARED, need, reference, run_cli


def ort_run(path, feed: dict) -> list[np.ndarray]:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)


@pytest.mark.slow
@pytest.mark.parametrize("model", POSE_MODELS)
def test_convert_onnx_reproduces_mmpose(model, reference_artifact):
    """The session's conversion of each model (the CLI's own output is checked in the card test below)."""
    artifact = reference_artifact(model)
    card = load_card(artifact)
    assert card.task == "pose" and card.format == "onnx" and card.verification["passed"]
    x = np.load(reference(model, "input.npy"))
    outputs = ort_run(artifact / card.files["model"], {card.input.name: x})
    for spec, got in zip(card.outputs, outputs):
        ref = np.load(reference(model, f"out_{spec.name}.npy"))
        diff = np.abs(got - ref).max()
        bound = 1e-4 * max(1.0, np.abs(ref).max())
        assert diff <= bound, f"{model} ONNX {spec.name}: max|diff| {diff:.3g} > {bound:.3g}"
    # dynamic batch: two crops in one call give the same result as one at a time
    batch = ort_run(artifact / card.files["model"], {card.input.name: np.concatenate([x, x[:, :, ::-1].copy()])})
    assert np.allclose(batch[0][:1], outputs[0], atol=1e-4), "batched output differs from single-crop output"
    # the folder is shared with other workers' conversions in progress: look for this artifact's own leftovers
    assert not list(artifact.parent.glob(f".{artifact.name}.*")), "temporary files were left in the output directory"


@pytest.mark.slow
def test_convert_rtmdet_from_public_onnx_matches_it_on_real_images(reference_artifact):
    source = need(RTMDET_ONNX)
    artifact = reference_artifact("rtmdet-nano")
    card = load_card(artifact)
    assert card.task == "detection" and card.classes == ["person"]
    assert [o.name for o in card.outputs] == ["cls_s8", "cls_s16", "cls_s32", "box_s8", "box_s16", "box_s32"]
    assert [o.stride for o in card.outputs] == [8, 16, 32, 8, 16, 32]
    images = sorted((SHARED / "data" / "mmpose" / "tests" / "data" / "coco").glob("*.jpg"))
    images += sorted((SHARED / "data" / "mmpose" / "tests" / "data" / "ochuman").glob("*.jpg"))
    assert len(images) >= 5, "expected the COCO and OCHuman test images in ../shared/data"
    for image_path in images:
        canvas, _ = letterbox(cv2.imread(str(image_path)), (320, 320))
        x = to_network_input(canvas[None], card.input)
        ref = ort_run(source, {"images": x})          # three NHWC tensors: [cls logit, l, t, r, b]
        ours = ort_run(artifact / card.files["model"], {card.input.name: x})
        for level in range(3):
            ref_nchw = ref[level].transpose(0, 3, 1, 2)
            for got, want, role in ((ours[level], ref_nchw[:, :1], "cls"), (ours[3 + level], ref_nchw[:, 1:], "box")):
                diff = np.abs(got - want).max()
                bound = 1e-4 * max(1.0, np.abs(want).max())
                assert diff <= bound, f"{image_path.name} {role} level {level}: max|diff| {diff:.3g} > {bound:.3g}"


@pytest.mark.slow
def test_card_records_source_checkpoint_and_sha256(tmp_path):
    weights = reference("rtmpose-t", "checkpoint_published.pth")
    result = run_cli("convert", "rtmpose-t", "--weights", str(weights), "--output", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"wrote {tmp_path / 'rtmpose-t-onnx-fp32'}" in result.stdout
    assert not list(tmp_path.glob(".*")), "temporary files were left in the output directory"
    data = json.loads((tmp_path / "rtmpose-t-onnx-fp32" / "edgepose.json").read_text())
    assert data["version"].startswith("1.")
    assert data["source"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert data["source"]["checkpoint"] == str(weights)
    assert data["input"]["mean"] == [123.675, 116.28, 103.53] and data["input"]["color"] == "RGB"
    assert data["decoder"] == {"type": "simcc", "split_ratio": 2.0}
    assert data["bbox_padding"] == 1.25 and len(data["keypoints"]) == 17 and len(data["sigmas"]) == 17


@pytest.mark.slow
def test_existing_artifact_is_kept_unless_overwrite(tmp_path):
    weights = str(reference("rtmpose-t", "checkpoint_published.pth"))
    assert run_cli("convert", "rtmpose-t", "--weights", weights, "-o", str(tmp_path)).returncode == 0
    card = tmp_path / "rtmpose-t-onnx-fp32" / "edgepose.json"
    before = card.read_text()
    again = run_cli("convert", "rtmpose-t", "--weights", weights, "-o", str(tmp_path))
    assert again.returncode == 1 and "--overwrite" in again.stderr
    assert card.read_text() == before
    forced = run_cli("convert", "rtmpose-t", "--weights", weights, "-o", str(tmp_path), "--overwrite")
    assert forced.returncode == 0, forced.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rtmpose-t-onnx-fp32"]
