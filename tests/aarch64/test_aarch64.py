"""The runtime on aarch64, under qemu-user: x86-made artifacts must give the x86 results on a Raspberry Pi 4
class core (cortex-a72: no fp16 arithmetic, no dot product) and a Pi 5 / Jetson Orin class core (cortex-a76:
fp16 + dot product). Correctness only; timings under emulation mean nothing.

Needs the aarch64 sysroot that `.ci/aarch64_sysroot.sh` builds (CI builds it; the tests skip without it).
Set EDGEPOSE_AARCH64_SYSROOT to use another location.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgepose.runtimes.third_party import wrap

from ..conftest import REPO, RTMDET_ONNX, SHARED, VTEST, ZOO_TARGETS, need, run_cli

SYSROOT = Path(os.environ.get("EDGEPOSE_AARCH64_SYSROOT", REPO / ".arm" / "sysroot"))
QEMU = shutil.which("qemu-aarch64-static")
CPUS = ("cortex-a72", "cortex-a76")
WORKER = str(REPO / "tests" / "aarch64" / "worker.py")
DISTILLED = SHARED / "models" / "rtmpose-t-distilled" / "rtmpose-t-distilled.pth"
GT = SHARED / "data" / "combined_coco17_gt.json"
# Measured drift (x86 vs emulated a72/a76, default runtime options): keypoints 0 px, scores ≤ 4e-4,
# raw outputs ≤ 1.1e-3 relative. The bounds leave room for other builds of the same libraries.
MAX_KEYPOINT_PX, MAX_SCORE_DIFF, MAX_RAW_REL, MAX_BOX_PX = 0.05, 2e-3, 3e-3, 0.05

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(QEMU is None, reason="qemu-aarch64-static not installed (apt-get install "
                                                      "qemu-user-static; CI does)"),
              pytest.mark.skipif(not (SYSROOT / "site" / ".complete").exists(),
                                 reason=f"no aarch64 sysroot at {SYSROOT}; build it with .ci/aarch64_sysroot.sh")]


def emulated(cpu: str, *args: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the sysroot's aarch64 python3.11 under qemu-user with the checkout importable (uninstalled: see
    edgepose/__init__.py), from a neutral folder."""
    full_env = {"PYTHONPATH": os.pathsep.join([str(SYSROOT / "site"), str(REPO)]), "PYTHONDONTWRITEBYTECODE": "1",
                "HOME": os.environ.get("HOME", "/tmp"), "PATH": os.environ["PATH"], **(env or {})}
    command = [QEMU, "-cpu", cpu, "-L", str(SYSROOT), str(SYSROOT / "usr" / "bin" / "python3.11"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=timeout, cwd=SYSROOT)


def run_worker(worker: str, job: Path, out: Path, cpu: str | None) -> dict[str, np.ndarray]:
    """Run a worker script on a job natively (cpu None) or under emulation; → the arrays it saved."""
    done = (emulated(cpu, worker, str(job), str(out)) if cpu else
            subprocess.run([sys.executable, worker, str(job), str(out)], capture_output=True, text=True, timeout=600))
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(np.load(out))


def same_persons(ref: np.ndarray, got: np.ndarray, where: object) -> list[int]:
    """The row of `got` nearest each box of `ref` (max corner distance), asserting both found the same persons:
    as many boxes, each matched once."""
    assert len(ref) == len(got) > 0, (where, len(ref), len(got))
    order = [int(np.abs(got[:, :4] - box[:4]).max(-1).argmin()) for box in ref]
    assert sorted(order) == list(range(len(ref))), (where, "the same persons")
    return order


@pytest.fixture(scope="module")
def artifacts(trained_pose_int8, rtmdet_int8, tmp_path_factory) -> list[Path]:
    """Trained RTMPose-t (distilled) and RTMDet-nano on ONNX, NCNN and TFLite, fp32 and fp16 weights, made on
    x86 (the session's conversions in tests/conftest.py, which also write the INT8 artifacts tested below).
    Left out: RTMPose-t's ncnn fp16 artifact, which computes in fp16 on the a76 by default (its own test
    below). Measured for the fp16 artifacts here, a72 and a76: keypoints 0 px, boxes ≤ 0.0023 px, raw ≤ 1.6e-4
    relative — fp16 weights are widened to fp32 on these CPU paths, as on x86."""
    pose, det = trained_pose_int8[0], rtmdet_int8[0]
    root = tmp_path_factory.mktemp("arm-artifacts")
    wrap("rtmdet-onnx", [RTMDET_ONNX], root / "rtmdet-nano-onnx-fp32")
    wrap("rtmdet-ncnn", [RTMDET_ONNX.with_suffix(".param"), RTMDET_ONNX.with_suffix(".bin")],
         root / "rtmdet-nano-ncnn-fp32")
    made = [pose / f"rtmpose-t-{t}-{p}" for t in ZOO_TARGETS for p in ("fp32", "fp16") if (t, p) != ("ncnn", "fp16")]
    made += [det / "rtmdet-nano-tflite-fp32", *(det / f"rtmdet-nano-{t}-fp16" for t in ZOO_TARGETS)]
    return sorted([*root.iterdir(), *made], key=lambda p: p.name)


def job(artifacts: list[Path], tmp_path: Path, **options) -> Path:
    """Two real images (COCO, OCHuman) with their ground-truth person boxes (emulation is slow: 95 s per CPU
    for three images, ten artifacts)."""
    data = json.loads(need(GT).read_text())
    images = []
    for source in ("COCO", "OCHuman"):
        image = next(i for i in data["images"] if i["source"].startswith(source))
        boxes = [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                 for a in data["annotations"] if a["image_id"] == image["id"]][:2]  # emulation is slow
        images.append([str(SHARED / "data" / image["file_name"]), boxes])
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"artifacts": [str(a) for a in artifacts], "images": images,
                                "options": {"threads": 1, **options}}))
    return path


@pytest.fixture(scope="module")
def x86(artifacts, tmp_path_factory) -> dict[str, np.ndarray]:
    tmp = tmp_path_factory.mktemp("x86")
    return run_worker(WORKER, job(artifacts, tmp), tmp / "x86.npz", None)


@pytest.mark.parametrize("cpu", CPUS)
def test_runtime_results_match_x86(artifacts, x86, tmp_path, cpu):
    """Every fp32 and fp16-weight artifact: raw outputs, keypoints, boxes and scores as on x86 (bounds above)."""
    arm = run_worker(WORKER, job(artifacts, tmp_path), tmp_path / f"{cpu}.npz", cpu)
    assert str(arm.pop("machine")) == "aarch64" and str(x86["machine"]) != "aarch64"
    assert set(arm) == set(x86) - {"machine"}
    worst: dict[str, float] = {}
    for key, ref in x86.items():
        if key == "machine":
            continue
        got = arm[key]
        assert got.shape == ref.shape, key
        diff = float(np.abs(got - ref).max()) if ref.size else 0.0
        kind = key.split("|")[2]
        if kind == "raw":
            diff /= max(1.0, float(np.abs(ref).max()))
        worst[kind] = max(worst.get(kind, 0.0), diff)
    print(f"{cpu}: worst drift vs x86 {worst}")
    assert worst["keypoints"] <= MAX_KEYPOINT_PX and worst["boxes"] <= MAX_BOX_PX, worst
    assert worst["scores"] <= MAX_SCORE_DIFF and worst["raw"] <= MAX_RAW_REL, worst


RUNTIME_TESTS = [str(REPO / "tests" / "runtimes" / name) for name in ("test_decoders.py", "test_tracker.py", "test_card.py")]


@pytest.mark.parametrize("cpu", CPUS)
def test_runtime_unit_tests_pass_emulated(cpu, record_property):
    """The runtime's own unit tests (no torch) under emulation; their summary goes to the CI log."""
    done = emulated(cpu, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider", "--import-mode=append",
                    *RUNTIME_TESTS, env={"EDGEPOSE_SHARED": str(SHARED)})
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    record_property("ci_line", f"aarch64 {cpu}: {summary}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary


@pytest.fixture(scope="module")
def fp16_artifacts(trained_pose_int8, rtmdet_int8) -> dict[str, Path]:
    """Trained RTMPose-t and RTMDet-nano as edgepose-made NCNN fp32 + fp16 artifacts (no per-layer masks;
    RTMPose-t's fp16 artifact keeps its SimCC head as a second, fp32 net), by artifact name."""
    made = [root / f"{model}-ncnn-{precision}" for root, model in ((trained_pose_int8[0], "rtmpose-t"),
                                                                   (rtmdet_int8[0], "rtmdet-nano"))
            for precision in ("fp32", "fp16")]
    return {p.name: p for p in made}


# Measured on emulated cortex-a76 (benchmarks/ncnn_fp16_emulated.py: 10 crops of the first 6 COCO-GT images,
# input ×1 / ×10 / ×100), the distilled RTMPose-t fp16 artifact with the runtime's defaults (fp16 on, SimCC
# head as its own fp32 net): keypoints mean 0.68 / 0.99 / 0.66 px, 94 / 92 / 94 % within 0.5 px; every move
# over 2 px is a keypoint scoring ≤ 0.36 (flat SimCC peaks). The whole net in fp16 (head too): mean 1.40 /
# 1.34 / 2.28 px, 75 / 85 / 84 % within 0.5 px. Moving the cut to before the last backbone stage changed
# nothing (95 / 96 / 94 %): the early layers' fp16 rounding is what flips flat peaks, so the issue's "every
# keypoint within 0.5 px" is not met. RTMDet-nano (fp16 forced on, not its default) on all 10 shared images:
# the same 45 persons, box corners 0.04–4 px, one low-score person in a crowd 15.4 px; the two images here:
# 0.32 px and 3.95 px.
MAX_FP16_RAW, MAX_FP16_MEAN_PX, MIN_WITHIN_HALF_PX, MAX_CONFIDENT_PX, MAX_FP16_BOX_PX = 0.08, 1.5, 0.85, 2.0, 6.0
CONFIDENT = 0.4


def test_ncnn_fp16_is_the_default_on_a76_and_keeps_rtmpose_close(fp16_artifacts, tmp_path, record_property):
    """cortex-a76 (asimdhp) with the runtime's defaults: the RTMPose-t fp16 artifact runs with fp16 on (head
    fp32), no crash, finite at input scales ×1 and ×100, keypoints close to x86 fp32 (bounds: measured,
    above); RTMDet-nano with fp16 forced on keeps the same persons."""
    data = json.loads(need(GT).read_text())
    images = []
    for source in ("COCO", "OCHuman"):                     # ~25 s per detector image under emulation
        image = next(i for i in data["images"] if i["source"].startswith(source))
        anns = [a for a in data["annotations"] if a["image_id"] == image["id"]][:2]
        images.append([str(SHARED / "data" / image["file_name"]),
                       [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                        for a in anns]])
    worker = str(REPO / "tests" / "aarch64" / "fp16_worker.py")
    results = {}
    for name, precision, runner in (("x86", "fp32", None), ("a76", "fp16", "a76")):
        job = tmp_path / f"{name}.json"
        job.write_text(json.dumps({"pose": [str(fp16_artifacts[f"rtmpose-t-ncnn-{precision}"])],
                                   "detector": [str(fp16_artifacts[f"rtmdet-nano-ncnn-{precision}"])],
                                   "images": images, "scales": [1, 100], "options": {"threads": 1},
                                   "detector_options": {"ncnn_fp16": runner is not None}}))
        results[name] = run_worker(worker, job, tmp_path / f"{name}.npz", "cortex-a76" if runner else None)
    ref, got = results["x86"], results["a76"]
    assert set(ref) == set(got)
    assert bool(got["pose|fp16"]) and not bool(ref["pose|fp16"]), "fp16 is the default on a76 only"
    report = []
    for scale in (1, 100):
        raw = max(float(np.abs(got[k] - ref[k]).max()) for k in ref if k.startswith(f"pose|{scale}|raw"))
        px = np.abs(got[f"pose|{scale}|keypoints"] - ref[f"pose|{scale}|keypoints"]).max(-1)
        confident = ref[f"pose|{scale}|scores"] >= CONFIDENT
        assert np.isfinite(raw) and raw <= MAX_FP16_RAW, (scale, raw)
        assert px.mean() <= MAX_FP16_MEAN_PX and (px <= 0.5).mean() >= MIN_WITHIN_HALF_PX, (scale, px)
        assert px[confident].max(initial=0) <= MAX_CONFIDENT_PX, (scale, px, ref[f"pose|{scale}|scores"])
        report.append(f"×{scale}: {px.shape[0]} crops, raw {raw:.3g}, keypoints mean {px.mean():.2f} px max "
                      f"{px.max():.2f} px, {(px <= 0.5).mean():.0%} within 0.5 px, score ≥ {CONFIDENT} within "
                      f"{px[confident].max(initial=0):.2f} px")
    for i in range(len(images)):
        r, g = ref[f"det|{i}|boxes"], got[f"det|{i}|boxes"]
        order = same_persons(r, g, i)
        shift = float(np.abs(g[order, :4] - r[:, :4]).max())
        assert shift <= MAX_FP16_BOX_PX, (i, shift)
        report.append(f"detector image {i}: {len(r)} persons, boxes within {shift:.2f} px")
    record_property("ci_line", "aarch64 cortex-a76 ncnn fp16 (defaults): " + "; ".join(report))


@pytest.fixture(scope="module")
def held_out_frames(rtmdet_int8, tmp_path_factory) -> list:
    """Three frames of vtest.avi's held-out part saved as PNG (lossless: the MP43 original decodes differently on
    aarch64), each with up to 3 persons found by the x86 fp32 RTMDet-nano: crops the trained model knows."""
    import cv2

    from edgepose.runtimes.detector import Detector

    folder = tmp_path_factory.mktemp("held-out-frames")
    detector = Detector(rtmdet_int8[0] / "rtmdet-nano-onnx-fp32")
    cap = cv2.VideoCapture(str(need(VTEST)))
    images = []
    for index in (650, 700, 760):
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        assert ok, index
        path = folder / f"vtest{index}.png"
        cv2.imwrite(str(path), frame)
        found = detector(frame)
        images.append([str(path), found.boxes[found.scores >= 0.5][:3, :4].tolist()])
    cap.release()
    return images


# Measured on emulated cortex-a72 and cortex-a76 alike (the frames above, 9 crops, 6 INT8 artifacts of
# tests/conftest.py): RTMPose-t INT8 on ONNX and TFLite gives x86's keypoints exactly (0 px, scores ≤ 1e-4);
# ncnn's ARM int8 kernels round differently from its x86 ones: keypoints mean 0.10–0.17 px, max 2.46 px,
# 92–96 % within 0.5 px, scores ≤ 0.03 — and no less accurate: mean shift from fp32 0.27 / 0.56 / 0.79 px on
# ARM vs 0.25 / 0.61 / 0.77 px on x86 per frame (0.54 px on both over all crops). RTMDet-nano INT8: the same
# persons, box corners ≤ 1.07 (ncnn), 2.18 (ONNX mix) and 1.05 (TFLite) px, scores ≤ 0.02.
INT8_EXACT = ("onnx", "tflite")     # keypoints within MAX_KEYPOINT_PX, scores within MAX_SCORE_DIFF
MAX_INT8_MEAN_PX, MIN_INT8_WITHIN_HALF_PX, MAX_INT8_PX, MAX_INT8_SCORE = 0.4, 0.85, 5.0, 0.06
MAX_INT8_BOX_PX, MAX_INT8_BOX_SCORE, MAX_INT8_WORSE_PX = 4.0, 0.05, 0.15


@pytest.mark.parametrize("cpu", CPUS)
def test_int8_artifacts_match_x86_after_decoding(trained_pose_int8, rtmdet_int8, held_out_frames, tmp_path,
                                                  cpu, record_property):
    """The INT8 artifacts of every target (trained RTMPose-t, RTMDet-nano) on held-out vtest frames: the same
    persons, boxes and keypoints as on x86 within the measured bounds above, and INT8-vs-fp32 error on ARM no
    larger than on x86 (the card's fidelity, measured on x86, holds on the board)."""
    int8 = [root / f"{model}-{target}-int8" for root, model in ((trained_pose_int8[0], "rtmpose-t"),
                                                               (rtmdet_int8[0], "rtmdet-nano"))
            for target in ZOO_TARGETS]
    fp32 = [trained_pose_int8[0] / f"rtmpose-t-{target}-fp32" for target in ZOO_TARGETS]
    results = {}
    for name, artifacts in (("x86", int8 + fp32), (cpu, int8)):
        job = tmp_path / f"{name}.json"
        job.write_text(json.dumps({"artifacts": [str(a) for a in artifacts], "images": held_out_frames,
                                   "options": {"threads": 1}}))
        results[name] = run_worker(WORKER, job, tmp_path / f"{name}.npz", cpu if name == cpu else None)
    ref, got = results["x86"], results[cpu]
    report = []
    for target in ZOO_TARGETS:
        art = trained_pose_int8[0] / f"rtmpose-t-{target}-int8"
        keys = [f"{art}|{i}" for i in range(len(held_out_frames))]
        px = np.concatenate([np.abs(got[k + "|keypoints"] - ref[k + "|keypoints"]).max(-1).ravel() for k in keys])
        scores = max(float(np.abs(got[k + "|scores"] - ref[k + "|scores"]).max()) for k in keys)
        fp = [f"{trained_pose_int8[0] / f'rtmpose-t-{target}-fp32'}|{i}|keypoints" for i in range(len(keys))]
        arm_err = np.mean([np.abs(got[k + "|keypoints"] - ref[f]).max(-1).mean() for k, f in zip(keys, fp)])
        x86_err = np.mean([np.abs(ref[k + "|keypoints"] - ref[f]).max(-1).mean() for k, f in zip(keys, fp)])
        if target in INT8_EXACT:
            assert px.max() <= MAX_KEYPOINT_PX and scores <= MAX_SCORE_DIFF, (target, px.max(), scores)
        assert px.mean() <= MAX_INT8_MEAN_PX and (px <= 0.5).mean() >= MIN_INT8_WITHIN_HALF_PX, (target, px)
        assert px.max() <= MAX_INT8_PX and scores <= MAX_INT8_SCORE, (target, px.max(), scores)
        assert arm_err <= x86_err + MAX_INT8_WORSE_PX, (target, arm_err, x86_err)
        report.append(f"RTMPose-t {target} {px.size} keypoints: mean {px.mean():.2f} max {px.max():.2f} px, "
                      f"scores {scores:.3f}, vs fp32 {arm_err:.2f} px (x86 {x86_err:.2f})")
    for target in ZOO_TARGETS:
        art = rtmdet_int8[0] / f"rtmdet-nano-{target}-int8"
        shift = score = 0.0
        for i in range(len(held_out_frames)):
            r, g = ref[f"{art}|{i}|boxes"], got[f"{art}|{i}|boxes"]
            order = same_persons(r, g, (target, i))
            shift = max(shift, float(np.abs(g[order, :4] - r[:, :4]).max()))
            score = max(score, float(np.abs(got[f"{art}|{i}|scores"][order] - ref[f"{art}|{i}|scores"]).max()))
        assert shift <= MAX_INT8_BOX_PX and score <= MAX_INT8_BOX_SCORE, (target, shift, score)
        report.append(f"RTMDet-nano {target}: boxes {shift:.2f} px, scores {score:.3f}")
    record_property("ci_line", f"aarch64 {cpu} INT8 vs x86: " + "; ".join(report))


@pytest.fixture(scope="module")
def lossless_clip(tmp_path_factory) -> Path:
    """Four vtest.avi frames re-encoded losslessly (FFV1): the MP43 original decodes differently on aarch64."""
    import cv2

    path = tmp_path_factory.mktemp("clip") / "vtest4.mkv"
    cap = cv2.VideoCapture(str(need(SHARED / "data" / "opencv-doc-debian" / "vtest.avi")))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 10, (768, 576))
    for _ in range(4):
        writer.write(cap.read()[1])
    writer.release()
    cap.release()
    return path


@pytest.mark.parametrize("cpu", ["cortex-a76"])  # the a72 is covered by the parity test above; emulation is slow
def test_edgepose_run_end_to_end_matches_x86(artifacts, lossless_clip, tmp_path, cpu):
    """`edgepose run` (NCNN RTMDet-nano + trained NCNN RTMPose-t, detector every 2nd frame) on the same frames:
    the same detector decisions, persons and ids, keypoints within 0.05 px (JSON keeps 3 decimals)."""
    by_name = {a.name: a for a in artifacts}
    args = ["run", "--pose", str(by_name["rtmpose-t-ncnn-fp32"]), "--det", str(by_name["rtmdet-nano-ncnn-fp32"]),
            "--source", str(lossless_clip), "--det-interval", "2", "--threads", "1", "--no-progress"]
    runs = {}
    for name in ("x86", cpu):
        out = tmp_path / f"{name}.jsonl"
        done = (run_cli(*args, "--json", str(out)) if name == "x86" else
                emulated(cpu, "-m", "edgepose", *args, "--json", str(out)))
        assert done.returncode == 0, done.stderr[-3000:]
        runs[name] = [json.loads(line) for line in out.read_text().splitlines()]
    ref, got = runs["x86"], runs[cpu]
    assert len(ref) == len(got) == 4
    assert [r["detector_ran"] for r in got] == [r["detector_ran"] for r in ref]
    for r, g in zip(ref, got):
        assert [p["id"] for p in g["persons"]] == [p["id"] for p in r["persons"]]
        for p, q in zip(r["persons"], g["persons"]):
            assert np.abs(np.array(p["keypoints"]) - np.array(q["keypoints"])).max() <= 0.05
    assert sum(len(r["persons"]) for r in ref) >= 4, "vtest's first frames show several people"
