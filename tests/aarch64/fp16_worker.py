"""Run pose artifacts on real crops × input scales and detector artifacts on images; save what a drift check needs.

    python fp16_worker.py JOB.json OUT.npz   JOB: {"pose": [dir], "detector": [dir], "images": [[path, [box, ...]]],
                                                   "scales": [1, 100], "options": {"threads": 1},
                                                   "detector_options": {"ncnn_fp16": true}}

Pose inputs are the crops of every box of every image, preprocessed (normalized) and multiplied by each scale —
the network input itself is scaled, which stresses fp16 range far more than image contrast can (pixels
saturate at 255). Runtime imports only.
"""
from __future__ import annotations

import json
import sys

import cv2
import numpy as np

from edgepose.runtimes.backends import BackendOptions
from edgepose.runtimes.detector import Detector
from edgepose.runtimes.pose import PoseModel


def run(job: dict) -> dict[str, np.ndarray]:
    options = BackendOptions(**job.get("options", {}))
    det_options = BackendOptions(**{**job.get("options", {}), **job.get("detector_options", {})})
    images = [(cv2.imread(path, cv2.IMREAD_COLOR), np.asarray(boxes, np.float32)) for path, boxes in job["images"]]
    results: dict[str, np.ndarray] = {}
    for artifact in job.get("pose", []):
        model = PoseModel(artifact, options)
        results["pose|fp16"] = np.array(model.backend.fp16)
        crops = np.concatenate([model.preprocess(image, boxes)[0] for image, boxes in images])
        for scale in job["scales"]:
            raw = model.infer(np.ascontiguousarray(crops * np.float32(scale)))
            keypoints, scores = model.decode(raw)
            results[f"pose|{scale}|keypoints"], results[f"pose|{scale}|scores"] = keypoints, scores
            for name, value in raw.items():
                results[f"pose|{scale}|raw|{name}"] = np.asarray(value, np.float32)
    for artifact in job.get("detector", []):
        detector = Detector(artifact, det_options)
        results["det|fp16"] = np.array(detector.backend.fp16)
        for i, (image, _) in enumerate(images):
            inputs, scale = detector.preprocess(image)
            found = detector.decode(detector.infer(inputs), scale, image.shape)
            results[f"det|{i}|boxes"], results[f"det|{i}|scores"] = found.boxes, found.scores
    return results


if __name__ == "__main__":
    np.savez(sys.argv[2], **run(json.loads(open(sys.argv[1]).read())))
