"""Tier 1: tracker lifecycle, detection scheduling, association and parameter checks (no models)."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from edgepose.runtimes.errors import ConfigError
from edgepose.runtimes.keypoints import COCO17
from edgepose.runtimes.smoothing import OneEuroFilter
from edgepose.runtimes.boxes import greedy_match, iou_matrix
from edgepose.runtimes.tracker import Tracker, TrackerConfig, TrackState, keypoint_box, oks

from ..conftest import REPO
from .test_runtime_api import _one_euro_reference

K = 17


def pose_at(x: float, y: float, h: float = 100.0, score: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """A standing person: 17 keypoints spread over a box h tall, w = h/3, top-left at (x, y)."""
    rng = np.random.default_rng(int(x * 7 + y))
    kpts = np.stack([x + rng.uniform(0, h / 3, K), y + np.linspace(0, h, K)], 1).astype(np.float32)
    return kpts, np.full(K, score, np.float32)


def frame(tracker: Tracker, people: list[tuple[float, float]], detect_boxes: bool | None = None):
    """Run one tracker frame for people at the given positions; returns (detector_ran, persons)."""
    ran = tracker.needs_detection()
    poses = [pose_at(x, y) for x, y in people]
    if ran if detect_boxes is None else detect_boxes:
        det = np.array([[x - 5, y - 5, x + 40, y + 105] for x, y in people], np.float32).reshape(-1, 4)
        boxes, owners = tracker.boxes_from_detections(det)
        kp = np.stack([p[0] for p in poses]) if poses else np.zeros((0, K, 2), np.float32)
        sc = np.stack([p[1] for p in poses]) if poses else np.zeros((0, K), np.float32)
        return ran, tracker.update(kp, sc, owners, boxes)
    boxes, owners = tracker.boxes_from_tracks()
    # the pose model sees each track's crop; here every tracked person is still where `people` says
    kp = np.stack([pose_at(*people[i])[0] for i in range(len(owners))]) if owners else np.zeros((0, K, 2))
    sc = np.full((len(owners), K), 0.9, np.float32)
    return ran, tracker.update(kp, sc, owners)


def make(**kw) -> Tracker:
    return Tracker(TrackerConfig(**kw), list(COCO17.sigmas))


def test_detector_runs_on_the_interval_when_nothing_is_lost():
    tracker = make(det_interval=5)
    ran = [frame(tracker, [(100, 50), (300, 60)])[0] for _ in range(12)]
    assert ran == [True, False, False, False, False, True, False, False, False, False, True, False]


def test_ids_persist_while_people_move_between_detections():
    tracker = make(det_interval=3)
    ids = []
    for t in range(10):
        _, persons = frame(tracker, [(100 + 3 * t, 50), (300 - 2 * t, 60)])
        ids.append(sorted(p.id for p in persons))
    assert all(i == [0, 1] for i in ids), ids


def test_losing_a_track_between_detections_triggers_detection_next_frame():
    tracker = make(det_interval=10)
    frame(tracker, [(100, 50), (300, 60)])
    assert frame(tracker, [(100, 50), (300, 60)])[0] is False
    # the second person's pose is no longer confident
    tracker.needs_detection()
    boxes, owners = tracker.boxes_from_tracks()
    kp = np.stack([pose_at(100, 50)[0], pose_at(300, 60)[0]])
    sc = np.stack([np.full(K, 0.9), np.full(K, 0.05)]).astype(np.float32)
    persons = tracker.update(kp, sc, owners)
    assert [p.id for p in persons] == [0]
    assert frame(tracker, [(100, 50), (300, 60)])[0] is True, "detector must run right after a loss"


def test_missing_track_is_dropped_after_max_missed_frames_and_found_again_before():
    tracker = make(det_interval=1, max_missed=3)
    frame(tracker, [(100, 50), (300, 60)])
    for _ in range(3):
        _, persons = frame(tracker, [(100, 50)])
    assert [t.id for t in tracker.tracks] == [0, 1] and tracker.tracks[1].state is TrackState.MISSING
    _, persons = frame(tracker, [(100, 50), (302, 60)])
    assert sorted(p.id for p in persons) == [0, 1], "a returning person within max_missed keeps its id"
    for _ in range(4):
        frame(tracker, [(100, 50)])
    assert [t.id for t in tracker.tracks] == [0]
    _, persons = frame(tracker, [(100, 50), (300, 60)])
    assert sorted(p.id for p in persons) == [0, 2]


def test_every_detected_person_is_reported_on_a_detector_frame_even_with_few_confident_keypoints():
    tracker = make(det_interval=5, min_keypoints=4)
    tracker.needs_detection()
    det = np.array([[95, 45, 140, 155], [295, 55, 340, 165]], np.float32)
    boxes, owners = tracker.boxes_from_detections(det)
    kp = np.stack([pose_at(100, 50)[0], pose_at(300, 60)[0]])
    sc = np.stack([np.full(K, 0.9), np.r_[np.full(3, 0.9), np.full(K - 3, 0.1)]]).astype(np.float32)
    persons = tracker.update(kp, sc, owners, boxes)
    assert [p.id for p in persons] == [0, 1], "a detected person with 3 confident keypoints is kept"
    weak = persons[1]
    np.testing.assert_array_equal(weak.box, det[1])  # its box is the detector's: its keypoints are not trusted
    np.testing.assert_array_equal(weak.scores, sc[1])  # low scores are reported as they are, for the user
    # between detections the weak person is not followed (a tracker rule), and no re-detection is forced
    ran, persons = frame(tracker, [(100, 50)])
    assert ran is False and [p.id for p in persons] == [0]
    assert frame(tracker, [(100, 50)])[0] is False
    for _ in range(2):
        frame(tracker, [(100, 50)])
    ran, persons = frame(tracker, [(100, 50), (300, 60)])
    assert ran is True and [p.id for p in persons] == [0, 1], "the weak person keeps its id at the next detection"


def test_weak_pose_on_top_of_a_tracked_person_gets_no_id():
    tracker = make(det_interval=1)
    frame(tracker, [(100, 50)])
    tracker.needs_detection()
    det = np.array([[95, 45, 140, 155], [60, 20, 180, 200]], np.float32)
    boxes, owners = tracker.boxes_from_detections(det)
    kp, sc = pose_at(100, 50)
    weak = np.where(np.arange(K) < 3, sc, 0.05).astype(np.float32)
    persons = tracker.update(np.stack([kp, kp + 0.5]), np.stack([sc, weak]), owners, boxes)
    assert [p.id for p in persons] == [0] and tracker.next_id == 1


def test_duplicate_detection_of_one_person_gets_no_new_id():
    tracker = make(det_interval=1)
    frame(tracker, [(100, 50)])
    tracker.needs_detection()
    det = np.array([[95, 45, 140, 155], [60, 20, 180, 200]], np.float32)   # second box: loose, same person
    boxes, owners = tracker.boxes_from_detections(det)
    kp, sc = pose_at(100, 50)
    persons = tracker.update(np.stack([kp, kp + 0.5]), np.stack([sc, sc]), owners, boxes)
    assert [p.id for p in persons] == [0] and tracker.next_id == 1


def test_reset_forgets_tracks_ids_and_frame_counter():
    tracker = make()
    for _ in range(3):
        frame(tracker, [(100, 50)])
    tracker.reset()
    assert tracker.tracks == [] and tracker.next_id == 0 and tracker.frame_index == -1
    assert frame(tracker, [(10, 10)])[1][0].id == 0


def test_frame_counter_advances_even_when_a_frame_has_nobody():
    tracker = make(det_interval=2)
    for expected in range(4):
        frame(tracker, [])
        assert tracker.frame_index == expected


@pytest.mark.parametrize("field, value", [("det_interval", 0), ("min_keypoints", 0), ("box_expand", 0.0),
                                          ("match_iou", 1.5), ("max_missed", -1), ("duplicate_oks", 0.0),
                                          ("fps", 0.0), ("smooth_beta", -1.0)])
def test_invalid_parameters_name_the_value_and_the_range(field, value):
    with pytest.raises(ConfigError, match=rf"{field}={value!r} is invalid; it must be"):
        TrackerConfig(**{field: value})


def test_readme_documents_every_tracker_parameter():
    readme = (REPO / "README.md").read_text()
    for name in inspect.signature(TrackerConfig).parameters:
        assert f"`{name}`" in readme, f"README does not document tracker parameter {name}"


def test_greedy_match_takes_best_pairs_first_and_respects_threshold():
    iou = np.array([[0.9, 0.8], [0.85, 0.1], [0.2, 0.25]])
    assert greedy_match(iou, 0.3) == [(0, 0)]  # (1, 0) and (0, 1) reuse a taken row/column; 0.25 < 0.3
    assert greedy_match(np.array([[0.9, 0.2], [0.3, 0.7]]), 0.3) == [(0, 0), (1, 1)]
    assert greedy_match(np.zeros((0, 3)), 0.3) == []


def test_iou_and_keypoint_box():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    assert np.allclose(iou_matrix(a, b), [[50 / 150, 0.0]])
    kp = np.array([[0, 0], [10, 20], [100, 100]], np.float32)
    box = keypoint_box(kp, np.array([0.9, 0.9, 0.1]), 0.3, 1.2)
    assert np.allclose(box, [-1, -2, 11, 22])
    assert keypoint_box(kp, np.array([0.9, 0.1, 0.1]), 0.3, 1.2) is None


def test_oks_is_one_for_identical_poses_and_falls_with_distance():
    kp, _ = pose_at(0, 0)
    visible = np.ones(K, bool)
    sig = np.asarray(COCO17.sigmas)
    assert oks(kp, kp, sig, 3000.0, visible) == pytest.approx(1.0)
    assert oks(kp, kp + 5, sig, 3000.0, visible) < oks(kp, kp + 1, sig, 3000.0, visible) < 1.0


def test_smoothing_reduces_jitter_and_follows_steps():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(30.0, min_cutoff=1.0, beta=0.0)
    noisy = 100 + rng.normal(0, 2, 60)
    smooth = np.array([f(np.array([v]))[0] for v in noisy])
    assert smooth[20:].std() < noisy[20:].std() / 2
    g = OneEuroFilter(30.0, min_cutoff=1.0, beta=1.0)
    out = [g(np.array([0.0]))[0]] + [g(np.array([100.0]))[0] for _ in range(30)]
    assert out[-1] > 95, "a fast-moving signal must be followed with little lag"


def test_smoothed_tracks_output_filtered_keypoints():
    tracker = make(det_interval=1, smooth=True)
    kp, sc = pose_at(100, 50)
    for shift in (0.0, 10.0):
        tracker.needs_detection()
        moved = kp + np.float32([shift, 0])
        det = keypoint_box(moved, sc, 0.3, 1.2)[None]
        boxes, owners = tracker.boxes_from_detections(det)
        persons = tracker.update(moved[None], sc[None], owners, boxes)
    x = persons[0].keypoints[:, 0]
    assert np.all(x > kp[:, 0] + 0.5) and np.all(x < kp[:, 0] + 9.5), "smoothed step must lie between old and new"


def test_smoothing_follows_the_one_euro_formulas_exactly():
    """Casiez et al. 2012 at 30 Hz, cutoffs 1 Hz: alpha(fc) = 1 / (1 + 30 / (2 pi fc)). A step 0 → 10 with beta 0
    moves to 10 alpha(1) = 1.7313; with beta 0.5 the speed estimate alpha(1) * 300 = 51.94 raises the cutoff to
    26.97 Hz, alpha 0.8496: 8.496. The first sample passes unchanged."""
    for beta, expected in ((0.0, 1.7313), (0.5, 8.4959)):
        f = OneEuroFilter(30.0, min_cutoff=1.0, beta=beta, d_cutoff=1.0)
        assert f(np.zeros(2))[0] == 0.0
        np.testing.assert_allclose(f(np.full(2, 10.0)), expected, atol=1e-3)
    f = OneEuroFilter(60.0, min_cutoff=2.0, beta=0.0, d_cutoff=1.0)   # alpha(2) at 60 Hz = 0.17313 again
    f(np.zeros(1))
    np.testing.assert_allclose(f(np.full(1, 10.0)), 1.7313, atol=1e-3)


def test_a_detector_frame_that_loses_a_track_does_not_force_the_next_detection():
    tracker = make(det_interval=5)
    for _ in range(5):
        frame(tracker, [(100, 50), (300, 60)])
    ran, persons = frame(tracker, [(100, 50)])   # frame 5: the detector runs and finds one of the two
    assert ran is True and len(persons) == 1
    assert frame(tracker, [(100, 50)])[0] is False, "the detector just looked"


def test_duplicate_check_uses_the_keypoint_box_area_without_its_expansion():
    """A second pose 7 px to the right of a tracked one: OKS 0.727 over the keypoint box's own area (a new
    person); 0.767 if the area kept one factor of the 1.2 expansion (taken for the same person)."""
    tracker = Tracker(TrackerConfig(det_interval=1), [0.1] * K)
    kp = np.stack([100 + (np.arange(K) % 3) * 10, 50 + np.arange(K) * 6.0], 1).astype(np.float32)
    sc = np.full(K, 0.9, np.float32)
    tracker.needs_detection()
    boxes, owners = tracker.boxes_from_detections(np.array([[95, 45, 130, 155]], np.float32))
    tracker.update(kp[None], sc[None], owners, boxes)
    tracker.needs_detection()
    boxes, owners = tracker.boxes_from_detections(np.array([[95, 45, 130, 155], [400, 400, 420, 420]], np.float32))
    persons = tracker.update(np.stack([kp, kp + [7, 0]]), np.stack([sc, sc]), owners, boxes)
    assert len(persons) == 2
    # 6.4 px: OKS 0.766 over that area (the same person, no id); 0.726 if the expansion were cubed
    tracker.needs_detection()
    boxes, owners = tracker.boxes_from_detections(np.array([[95, 45, 130, 155], [400, 400, 420, 420]], np.float32))
    persons = tracker.update(np.stack([kp, kp + [6.4, 0]]), np.stack([sc, sc]), owners, boxes)
    assert [p.id for p in persons] == [0]


@pytest.mark.parametrize("args", [(0.0,), (30.0, 0.0), (30.0, 1.0, -0.01), (30.0, 1.0, 0.0, 0.0), (-1.0,)])
def test_one_euro_refuses_each_parameter_out_of_range(args):
    with pytest.raises(ValueError, match="OneEuroFilter needs"):
        OneEuroFilter(*args)


def test_one_euro_defaults_are_the_documented_ones():
    """min_cutoff 1 Hz, beta 0.05, d_cutoff 1 Hz: a step 0 → 10 at 30 Hz. Speed estimate 51.94 → cutoff
    1 + 0.05 * 51.94 = 3.597 Hz, alpha = 1 / (1 + 30 / (2 pi 3.597)) = 0.4297."""
    f = OneEuroFilter(30.0)
    f(np.zeros(1))
    np.testing.assert_allclose(f(np.full(1, 10.0)), 4.297, atol=2e-3)
    assert OneEuroFilter(30.0, beta=0.0).beta == 0.0   # beta 0 is allowed (a plain low-pass filter)


def test_readme_gives_every_tracker_default():
    """The README's table states each default; the dataclass must keep it."""
    import dataclasses
    import re

    readme = (REPO / "README.md").read_text()
    for f in dataclasses.fields(TrackerConfig):
        row = re.search(rf"^\| `{f.name}` \| ([^|]+) \|", readme, re.M)
        assert row, f.name
        assert row[1].strip() == str(f.default), (f.name, row[1], f.default)


@pytest.mark.parametrize("field, value", [("min_keypoints", 1), ("match_iou", 1.0), ("max_missed", 0),
                                          ("duplicate_oks", 1.0), ("smooth_beta", 0.0), ("box_expand", 0.01),
                                          ("smooth_min_cutoff", 0.01), ("fps", 0.5), ("det_interval", 1)])
def test_boundary_parameters_are_accepted(field, value):
    assert getattr(TrackerConfig(**{field: value}), field) == value


@pytest.mark.parametrize("field, value", [("match_iou", 0.0), ("smooth_min_cutoff", 0.0), ("duplicate_oks", 1.01),
                                          ("kpt_threshold", float("nan"))])
def test_parameters_just_outside_are_refused(field, value):
    with pytest.raises(ConfigError, match=field):
        TrackerConfig(**{field: value})


def test_oks_has_the_coco_value():
    """exp(-d² / (2 (2σ)² area)) averaged over the visible keypoints: d = 3, σ = 0.1, area 100 → exp(-1.125)."""
    a = np.zeros((3, 2), np.float32)
    b = a + [3.0, 0.0]
    sig = np.full(3, 0.1, np.float32)
    visible = np.array([True, True, False])
    assert oks(a, b, sig, 100.0, visible) == pytest.approx(np.exp(-1.125), rel=1e-5)
    assert oks(a, b, sig, 0.0, visible) == 0.0 and oks(a, b, sig, 100.0, np.zeros(3, bool)) == 0.0


def test_keypoint_box_counts_a_score_equal_to_the_threshold_and_is_centred():
    kp = np.array([[10, 20], [30, 60], [0, 0]], np.float32)
    box = keypoint_box(kp, np.array([0.3, 0.3, 0.29], np.float32), 0.3, 1.5)
    np.testing.assert_allclose(box, [5, 10, 35, 70])


def test_two_tracks_on_one_person_keep_the_older_id():
    tracker = make(det_interval=10)
    frame(tracker, [(100, 50), (300, 60)])
    tracker.needs_detection()
    boxes, owners = tracker.boxes_from_tracks()
    kp, sc = pose_at(100, 50)
    # both crops lock onto the first person: the younger track (id 1) goes, id 0 stays
    persons = tracker.update(np.stack([kp, kp + 0.5]), np.stack([sc, sc]), owners)
    assert [p.id for p in persons] == [0] and [t.id for t in tracker.tracks] == [0]
    assert tracker.detect_next is True, "a merge means a crop left its person: look again"


def test_track_calls_the_detector_only_when_needed_and_poses_its_boxes():
    tracker = make(det_interval=3)
    calls = []

    def detect():
        calls.append(tracker.frame_index)
        return np.array([[95, 45, 140, 155]], np.float32)

    class Posed:
        def __init__(self, boxes):
            self.keypoints = np.stack([pose_at(100, 50)[0]] * len(boxes))
            self.scores = np.full((len(boxes), K), 0.9, np.float32)
            self.indices = np.arange(len(boxes))
    results = [tracker.track(detect, Posed) for _ in range(7)]
    assert tracker.tracks[0].anchor is not None   # detector frames anchor the track on the detector box
    assert calls == [0, 3, 6] and [r.detector_ran for r in results] == [i % 3 == 0 for i in range(7)]
    assert [r.frame_index for r in results] == list(range(7))
    assert all([p.id for p in r.persons] == [0] for r in results)
    tracker.reset()
    assert tracker.detect_next is True and tracker.last_confident == 0



def test_results_and_settings_are_immutable():
    """Persons, frame results and tracker settings are values: a consumer cannot change what the tracker keeps."""
    import dataclasses

    from edgepose.runtimes.pipeline import FrameResult
    from edgepose.runtimes.tracker import Person, TrackResult

    person = Person(0, np.zeros(4, np.float32), np.zeros((K, 2), np.float32), np.zeros(K, np.float32))
    for value, field in ((TrackerConfig(), "det_interval"), (person, "id"), (TrackResult(0, True, ()), "frame_index"),
                         (FrameResult(0, True, []), "index")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, 1)


def test_a_new_person_is_reported_even_when_no_miss_is_allowed():
    tracker = make(max_missed=0)
    assert [p.id for p in frame(tracker, [(100, 50)])[1]] == [0]


def test_oks_with_no_area_is_zero_even_for_identical_poses():
    kp, _ = pose_at(0, 0)
    assert oks(kp, kp, np.asarray(COCO17.sigmas), 0.0, np.ones(K, bool)) == 0.0


def test_a_pose_with_exactly_min_keypoints_at_the_threshold_is_followed():
    tracker = make(det_interval=10, min_keypoints=4, kpt_threshold=0.3)
    frame(tracker, [(100, 50)])
    tracker.needs_detection()
    boxes, owners = tracker.boxes_from_tracks()
    kp, _ = pose_at(100, 50)
    sc = np.where(np.arange(K) < 4, np.float32(0.3), np.float32(0.1)).astype(np.float32)
    assert [p.id for p in tracker.update(kp[None], sc[None], owners)] == [0]


def test_each_pose_of_a_frame_is_handled_whatever_comes_before_it():
    """An unconfident first pose, a new person listed first, a weak duplicate first: the poses after them are
    still handled."""
    tracker = make(det_interval=10)
    frame(tracker, [(100, 50), (300, 60)])
    tracker.needs_detection()
    boxes, owners = tracker.boxes_from_tracks()
    kp = np.stack([pose_at(100, 50)[0], pose_at(300, 60)[0]])
    sc = np.stack([np.full(K, 0.05), np.full(K, 0.9)]).astype(np.float32)   # the first person is lost
    assert [p.id for p in tracker.update(kp, sc, owners)] == [1]
    tracker = make(det_interval=1)
    frame(tracker, [(100, 50)])
    ran, persons = frame(tracker, [(300, 60), (100, 50)])   # the new person comes first
    assert ran and sorted(p.id for p in persons) == [0, 1]
    tracker.needs_detection()
    det = np.array([[95, 45, 140, 155], [60, 20, 180, 200], [295, 55, 340, 165]], np.float32)
    boxes, owners = tracker.boxes_from_detections(det)
    kp0, sc0 = pose_at(100, 50)
    weak = np.where(np.arange(K) < 3, sc0, 0.05).astype(np.float32)
    kps = np.stack([kp0, kp0 + 0.5, pose_at(300, 60)[0]])
    persons = tracker.update(kps, np.stack([sc0, weak, weak]), owners, boxes)
    assert sorted(p.id for p in persons) == [0, 1], "the weak duplicate gets no id, the weak person after it does"


def test_predicted_anchor_moves_the_last_detector_box_with_the_keypoints():
    tracker = make(det_interval=10)
    frame(tracker, [(100, 50)])
    track = tracker.tracks[0]
    np.testing.assert_allclose(tracker._predicted_anchor(track), track.anchor)
    track.keypoints = track.keypoints + [12.0, -3.0]
    np.testing.assert_allclose(tracker._predicted_anchor(track), track.anchor + [12, -3, 12, -3], atol=1e-4)
    track.scores = np.zeros(K, np.float32)          # no confident keypoint: the centroid is the box centre
    np.testing.assert_allclose(tracker._centroid(track), (track.box[:2] + track.box[2:]) / 2)
    track.anchor = None
    np.testing.assert_allclose(tracker._predicted_anchor(track), track.box)


def test_one_euro_follows_the_paper_over_many_samples():
    samples = [3.0, 10.0, 10.0, 4.0, 4.5, 20.0, 19.0]
    f = OneEuroFilter(25.0, min_cutoff=0.7, beta=0.3, d_cutoff=2.0)
    got = [float(f(np.array([s]))[0]) for s in samples]
    np.testing.assert_allclose(got, _one_euro_reference(samples, 25.0, 0.7, 0.3, 2.0), rtol=1e-5)
    assert OneEuroFilter(0.5).freq == 0.5   # any positive rate, below 1 Hz too
