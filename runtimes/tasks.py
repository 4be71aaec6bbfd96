"""What differs between kinds of model, declared once: one `Task` per card `task` name.

A task says which runner opens its artifacts, what one network input is made from (a person crop or a whole
image), how two runs of it are compared (verification against PyTorch, INT8 fidelity and its error budget),
how it is scored with pycocotools, and whether it runs batches. Verification, calibration, INT8, COCO AP and
`bench` ask `task_of(card)` instead of branching on the name; a new kind of model (one-stage pose) is one
more `Task` here and its name in `card.TASKS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Union

import numpy as np

from .backends import BackendOptions
from .boxes import greedy_match, iou_matrix
from .card import ModelCard
from .detector import Detector, detector_inputs
from .errors import ConfigError
from .fidelity import detection_error_px, detection_fidelity, pose_error_px, pose_fidelity
from .pose import PoseModel, pose_inputs

Runner = Union[PoseModel, Detector]

FP16_MAX_KEYPOINT_PX = 0.5  # verification of fp16 artifacts on a real image (random-weight argmaxes on noise tie)
FP16_MAX_BOX_PX = 1.0
FP32_MAX_BOX_PX = 0.1


@dataclass(frozen=True)
class Sample:
    """One input of a task: an image and, for tasks on person crops, one person box in it."""
    image: np.ndarray                     # BGR uint8
    box: np.ndarray | None                # (4,) xyxy for person-crop tasks, None for whole-image tasks
    origin: str                           # "file.jpg", "vtest.avi#frame120", with "/box2" for crops


class Task:
    """The interface every kind of model declares (see the module docstring)."""

    name: str
    runner: type                          # opens an artifact of this task: PoseModel | Detector
    person_crops: bool                    # one network input per person box (True) or per whole image
    batched: bool                         # runs many inputs per call: dynamic batch in ONNX, batch rows in bench
    bbox_padding: float | None            # box → crop enlargement a card gets by default (MMPose 1.25)
    int16_outputs: bool                   # INT8: output layers need more than 256 levels (flat SimCC / heatmap
                                          # peaks): 16-bit activations there where the target has them
    coco_iou_type: str                    # pycocotools iouType
    coco_stats: tuple[int, ...]           # COCOeval.stats indices of AP, AP50, AP75, AP_M, AP_L

    def open(self, directory: str | Path, options: BackendOptions | None = None) -> Runner:
        return self.runner(directory, options)

    def network_input(self, card: ModelCard, sample: Sample) -> np.ndarray:
        """The batch-1 network input of `card` for `sample`, by the runtime's one preprocessing path."""
        raise NotImplementedError

    # fidelity(ref, test, samples) → how far `test` is from `ref` on `samples` (the INT8 report);
    # error_px(report) → the mixed-precision budget's measure of that report, in input pixels (inf: unusable)
    fidelity: Callable[[Runner, Runner, Iterable[Sample]], dict[str, Any]]
    error_px: Callable[[dict[str, Any]], float]

    def compare_decoded(self, runner: Runner, ref: dict[str, np.ndarray], got: dict[str, np.ndarray],
                        strict: bool, real: bool) -> tuple[str, dict[str, Any], bool]:
        """Decode two sets of raw outputs (by tensor name) and compare: → (card key, numbers, passed).
        `strict`: the fp32 bound; `real`: the probe was a real image (noise decodes are not judged)."""
        raise NotImplementedError

    def coco_predictions(self, runner: Runner, image: np.ndarray, image_id: int,
                         annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """pycocotools results for one image (`annotations`: its ground truth, for person boxes)."""
        raise NotImplementedError


class TopDownPose(Task):
    name, runner, person_crops, batched, bbox_padding, int16_outputs = "pose", PoseModel, True, True, 1.25, True
    coco_iou_type, coco_stats = "keypoints", (0, 1, 2, 3, 4)
    fidelity, error_px = staticmethod(pose_fidelity), staticmethod(pose_error_px)

    def network_input(self, card: ModelCard, sample: Sample) -> np.ndarray:
        return pose_inputs(card, sample.image, sample.box[None])[0]

    def compare_decoded(self, runner: PoseModel, ref: dict[str, np.ndarray], got: dict[str, np.ndarray],
                        strict: bool, real: bool) -> tuple[str, dict[str, Any], bool]:
        by_role_ref = {s.role: ref[s.name] for s in runner.card.outputs}
        by_role_got = {s.role: got[s.name] for s in runner.card.outputs}
        k_ref, _ = runner.decode(by_role_ref)
        k_got, _ = runner.decode(by_role_got)
        shift = np.linalg.norm(k_ref - k_got, axis=-1)
        tied = runner.decoder.ties(by_role_ref, by_role_got)
        judged = shift[~tied] if (~tied).any() else np.zeros(1)
        numbers = {"max": float(judged.max()), "mean": float(judged.mean()), "ambiguous_keypoints": int(tied.sum())}
        passed = strict or not real or numbers["max"] <= FP16_MAX_KEYPOINT_PX
        return "keypoint_displacement_px", numbers, passed

    def coco_predictions(self, runner: PoseModel, image: np.ndarray, image_id: int,
                         annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        people = [a for a in annotations if a.get("num_keypoints", 0)]
        if not people:
            return []
        boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                          for a in people], np.float32)
        poses = runner(image, boxes)
        return [{"image_id": image_id, "category_id": 1, "score": float(scores.mean()),
                 "keypoints": np.concatenate([keypoints, scores[:, None]], 1).ravel().tolist()}
                for keypoints, scores in zip(poses.keypoints, poses.scores)]


class Detection(Task):
    name, runner, person_crops, batched, bbox_padding, int16_outputs = "detection", Detector, False, False, None, False
    coco_iou_type, coco_stats = "bbox", (0, 1, 2, 4, 5)   # bbox stats list AP_S at index 3
    fidelity, error_px = staticmethod(detection_fidelity), staticmethod(detection_error_px)

    def network_input(self, card: ModelCard, sample: Sample) -> np.ndarray:
        return detector_inputs(card, sample.image)[0]

    def compare_decoded(self, runner: Detector, ref: dict[str, np.ndarray], got: dict[str, np.ndarray],
                        strict: bool, real: bool) -> tuple[str, dict[str, Any], bool]:
        size = (runner.card.input.height, runner.card.input.width)
        a, b = runner.decode(ref, 1.0, size), runner.decode(got, 1.0, size)
        pairs = greedy_match(iou_matrix(a.boxes, b.boxes), 0.5) if len(a) and len(b) else []
        moved = max((float(np.abs(a.boxes[i] - b.boxes[j]).max()) for i, j in pairs), default=0.0)
        numbers = {"reference": len(a), "artifact": len(b), "matched": len(pairs), "max_corner_shift_px": moved}
        bound = FP32_MAX_BOX_PX if strict else FP16_MAX_BOX_PX
        passed = not real or (len(a) == len(b) == len(pairs) and moved <= bound)
        return "boxes", numbers, passed

    def coco_predictions(self, runner: Detector, image: np.ndarray, image_id: int,
                         annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found = runner(image)
        results = []
        for box, score in zip(found.boxes, found.scores):
            x1, y1, x2, y2 = (float(v) for v in box)
            results.append({"image_id": image_id, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                            "score": float(score)})
        return results


TASKS_BY_NAME: dict[str, Task] = {task.name: task for task in (TopDownPose(), Detection())}  # card.TASKS order


def task_of(card: ModelCard | str) -> Task:
    """The Task of a card (or of a card's task name)."""
    name = card if isinstance(card, str) else card.task
    if name not in TASKS_BY_NAME:
        raise ConfigError(f"'task' is {name!r}; expected one of {', '.join(TASKS_BY_NAME)}")
    return TASKS_BY_NAME[name]
