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

from edgepose.runtimes.backends import BackendOptions
from edgepose.runtimes.card import load_card
from edgepose.runtimes.errors import BackendUnavailable, ConfigError
from edgepose.runtimes.tasks import task_of

STAT_NAMES = ("AP", "AP50", "AP75", "AP_M", "AP_L")


def _resolve(root: Path, file_name: str) -> Path | None:
    for candidate in (root / file_name, root / Path(file_name).name):
        if candidate.is_file():
            return candidate
    return None


def coco_ap(artifact: str | Path, annotations: str | Path, images: str | Path,
            options: BackendOptions | None = None) -> dict[str, Any]:
    """AP / AP50 / AP75 / AP_M / AP_L of the artifact on the images of `annotations` found under `images`
    (`options`: how its backend runs)."""
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
    task = task_of(card)
    runner = task.open(artifact, options)
    results, evaluated = [], []
    for image_id in sorted(gt.getImgIds()):
        path = _resolve(images, gt.imgs[image_id]["file_name"])
        image = cv2.imread(str(path)) if path else None
        if image is None:
            continue
        evaluated.append(image_id)
        results += task.coco_predictions(runner, image, image_id,
                                         gt.loadAnns(gt.getAnnIds(imgIds=image_id, iscrowd=False)))
    if not evaluated:
        raise ConfigError(f"--eval-coco: none of the images of {Path(annotations).name} were found under {images}")
    if not results:
        return {"images": len(evaluated), **{name: 0.0 for name in STAT_NAMES}}
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(gt, gt.loadRes(results), task.coco_iou_type)
        evaluation.params.imgIds = evaluated
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = [round(float(evaluation.stats[i]), 4) for i in task.coco_stats]
    return {"images": len(evaluated), **dict(zip(STAT_NAMES, stats))}
