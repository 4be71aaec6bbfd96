"""Detector prefetch (`Pipeline.stream(prefetch=True)`, `edgepose run --async on`): the detector runs on the next
frame in a worker thread, and every result equals the sequential pipeline's — ids, boxes, keypoints, scores and
which frames the detector ran on."""
from __future__ import annotations

import json
from itertools import islice

import cv2
import numpy as np
import pytest

from edgepose.runtimes.detector import Detector
from edgepose.runtimes.pipeline import Pipeline
from edgepose.runtimes.pose import PoseModel
from edgepose.runtimes.third_party import wrap
from edgepose.runtimes.tracker import TrackerConfig

from ..conftest import RTMDET_ONNX, SHARED, need, run_cli

VTEST = SHARED / "data" / "opencv-doc-debian" / "vtest.avi"
MOVENET = SHARED / "models" / "movenet" / "lite-model_movenet_singlepose_lightning_tflite_int8_4.tflite"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("prefetch")
    return (wrap("movenet-tflite", [need(MOVENET)], root / "pose"),
            wrap("rtmdet-ncnn", [need(RTMDET_ONNX.with_suffix(".param")), RTMDET_ONNX.with_suffix(".bin")],
                 root / "det"))


def frames(count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(need(VTEST)))
    out = []
    while len(out) < count:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame)
    cap.release()
    return out


@pytest.mark.parametrize("interval", [1, 3])
def test_prefetch_gives_the_sequential_results(models, interval):
    video = frames(60)
    runs = {}
    for prefetch in (False, True):
        pipeline = Pipeline(PoseModel(models[0]), Detector(models[1]), config=TrackerConfig(det_interval=interval))
        runs[prefetch] = [result for _, result in pipeline.stream(video, prefetch)]
    sequential, parallel = runs[False], runs[True]
    assert len(parallel) == len(sequential) == 60
    assert [r.detector_ran for r in parallel] == [r.detector_ran for r in sequential]
    assert sum(r.detector_ran for r in sequential) >= 60 // interval
    for a, b in zip(sequential, parallel):
        assert [p.id for p in a.persons] == [p.id for p in b.persons]
        for p, q in zip(a.persons, b.persons):
            assert np.array_equal(p.box, q.box) and np.array_equal(p.keypoints, q.keypoints)
            assert np.array_equal(p.scores, q.scores)


def test_stream_stops_cleanly_when_the_consumer_stops(models):
    pipeline = Pipeline(PoseModel(models[0]), Detector(models[1]), config=TrackerConfig(det_interval=2))
    taken = list(islice(pipeline.stream(frames(20), prefetch=True), 5))
    assert [result.index for _, result in taken] == [0, 1, 2, 3, 4]


def test_run_async_on_writes_the_same_json(models, tmp_path):
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (768, 576))
    for frame in frames(25):
        writer.write(frame)
    writer.release()
    outputs = {}
    for mode in ("off", "on"):
        out = tmp_path / f"{mode}.jsonl"
        result = run_cli("run", "--pose", str(models[0]), "--det", str(models[1]), "--source", str(clip),
                         "--det-interval", "4", "--async", mode, "--json", str(out), "--no-progress")
        assert result.returncode == 0, result.stderr[-2000:]
        assert ("in parallel with the pose model" in result.stdout) == (mode == "on")
        outputs[mode] = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(outputs["on"]) == 25 and outputs["on"] == outputs["off"]


def _spied(pipeline: Pipeline, video: list[np.ndarray]) -> list[tuple[int, str]]:
    """Record each detector call (which frame of `video`, the thread it ran in); the real detector still runs."""
    import hashlib
    import threading

    index = {hashlib.sha1(f.tobytes()).digest(): i for i, f in enumerate(video)}
    calls, real = [], pipeline._detect

    def detect(frame):
        calls.append((index[hashlib.sha1(frame.tobytes()).digest()], threading.current_thread().name))
        return real(frame)
    pipeline._detect = detect
    return calls


@pytest.mark.parametrize("interval", [3, 5])
def test_prefetch_runs_the_detector_only_for_the_frames_that_use_it(models, interval):
    """Results alone cannot tell a wasted prefetch: the detector must run exactly once per detector frame,
    ahead in the worker for the scheduled ones."""
    pipeline = Pipeline(PoseModel(models[0]), Detector(models[1]), config=TrackerConfig(det_interval=interval))
    video = frames(30)
    calls = _spied(pipeline, video)
    results = [result for _, result in pipeline.stream(video, prefetch=True)]
    assert sorted(i for i, _ in calls) == [r.index for r in results if r.detector_ran]
    ahead = [i for i, thread in calls if thread.startswith("edgepose-detector")]
    assert ahead == list(range(interval, 30, interval)), "each scheduled frame but the first is prefetched"


def test_stream_without_prefetch_runs_the_detector_in_line_and_times_every_stage(models):
    import time

    pipeline = Pipeline(PoseModel(models[0]), Detector(models[1]), config=TrackerConfig(det_interval=4))
    video = frames(9)
    calls = _spied(pipeline, video)
    start = time.perf_counter()
    results = [result for _, result in pipeline.stream(video)]
    wall = time.perf_counter() - start
    assert {thread for _, thread in calls} == {"MainThread"}
    assert pipeline.times.frames == 9 and [r.index for r in results] == list(range(9))
    seconds = pipeline.times.seconds
    assert all(0 < seconds[s] < wall for s in ("pre", "det", "post", "pose", "track")), dict(seconds)
    assert sum(seconds.values()) <= wall


def test_fixed_boxes_count_frames_and_never_claim_the_detector(models):
    pipeline = Pipeline(PoseModel(models[0]), boxes=np.array([[300, 100, 500, 500]], np.float32))
    results = [result for _, result in pipeline.stream(frames(3), prefetch=True)]
    assert [r.index for r in results] == [0, 1, 2] and not any(r.detector_ran for r in results)
    assert pipeline.times.frames == 3 and all(len(r.persons) == 1 for r in results)


@pytest.mark.parametrize("score, ok", [(0.0, True), (1.0, True), (-0.01, False), (1.01, False)])
def test_det_score_is_a_probability(models, score, ok):
    from edgepose.runtimes.errors import ConfigError

    make = lambda: Pipeline(PoseModel(models[0]), Detector(models[1]), det_score=score)  # noqa: E731
    if ok:
        assert make().det_score == score
    else:
        with pytest.raises(ConfigError, match="det_score"):
            make()


def test_det_score_keeps_a_detection_exactly_at_it_and_sigmas_fall_back(models):
    from dataclasses import replace

    video = frames(1)
    detector = Detector(models[1])
    score = float(np.sort(detector(video[0]).scores)[-1])   # the best detection's own score as the threshold
    pipeline = Pipeline(PoseModel(models[0]), detector, det_score=score)
    assert len(pipeline(video[0]).persons) >= 1
    pose = PoseModel(models[0])
    pose.card = replace(pose.card, sigmas=[])                # a card without OKS sigmas
    assert Pipeline(pose, detector).tracker.sigmas.tolist() == pytest.approx([0.05] * pose.num_keypoints)
