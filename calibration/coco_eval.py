"""COCO AP of an artifact through `edgepose.runtimes`, with pycocotools: keypoint AP for pose models (on the
annotation file's ground-truth person boxes, MMPose's top-down protocol) and person box AP for detectors.

    coco_ap(artifact_dir, "person_keypoints_val.json", "images/")  →  {"AP": ..., "AP50": ..., ...}
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgepose.runtimes.card import load_card
from edgepose.runtimes.detector import Detector
from edgepose.runtimes.errors import BackendUnavailable, ConfigError
from edgepose.runtimes.pose import PoseModel

STAT_NAMES = ("AP", "AP50", "AP75", "AP_M", "AP_L")


def _resolve(root: Path, file_name: str) -> Path | None:
    for candidate in (root / file_name, root / Path(file_name).name):
        if candidate.is_file():
            return candidate
    return None


def coco_ap(artifact: str | Path, annotations: str | Path, images: str | Path) -> dict[str, Any]:
    """AP / AP50 / AP75 / AP_M / AP_L of the artifact on the images of `annotations` found under `images`."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as exc:
        raise BackendUnavailable("COCO AP needs pycocotools; pip install 'edgepose[eval]'") from exc
    artifact, images = Path(artifact), Path(images)
    card = load_card(artifact)
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            gt = COCO(str(annotations))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"--eval-coco {annotations}: not a COCO annotation file ({exc})") from exc
    if not gt.dataset.get("images") or "annotations" not in gt.dataset:
        raise ConfigError(f"--eval-coco {annotations}: not a COCO annotation file (no 'images' / 'annotations')")
    runner = PoseModel(artifact) if card.task == "pose" else Detector(artifact)
    results, evaluated = [], []
    for image_id in sorted(gt.getImgIds()):
        path = _resolve(images, gt.imgs[image_id]["file_name"])
        image = cv2.imread(str(path)) if path else None
        if image is None:
            continue
        evaluated.append(image_id)
        if card.task == "pose":
            anns = [a for a in gt.loadAnns(gt.getAnnIds(imgIds=image_id, iscrowd=False)) if a.get("num_keypoints", 0)]
            if not anns:
                continue
            boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                              for a in anns], np.float32)
            poses = runner(image, boxes)
            for keypoints, scores in zip(poses.keypoints, poses.scores):
                triples = np.concatenate([keypoints, scores[:, None]], 1).ravel()
                results.append({"image_id": image_id, "category_id": 1, "keypoints": triples.tolist(),
                                "score": float(scores.mean())})
        else:
            found = runner(image)
            for box, score in zip(found.boxes, found.scores):
                x1, y1, x2, y2 = (float(v) for v in box)
                results.append({"image_id": image_id, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                                "score": float(score)})
    if not evaluated:
        raise ConfigError(f"--eval-coco: none of the images of {Path(annotations).name} were found under {images}")
    if not results:
        return {"images": len(evaluated), **{name: 0.0 for name in STAT_NAMES}}
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(gt, gt.loadRes(results), "keypoints" if card.task == "pose" else "bbox")
        evaluation.params.imgIds = evaluated
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = evaluation.stats
    picks = (0, 1, 2, 3, 4) if card.task == "pose" else (0, 1, 2, 4, 5)   # bbox stats list AP_S at index 3
    return {"images": len(evaluated), **{name: round(float(stats[i]), 4) for name, i in zip(STAT_NAMES, picks)}}
