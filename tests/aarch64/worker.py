"""Run artifacts through `edgepose.runtimes` on a few images and save everything a drift check needs.

The same script runs natively (x86) and under qemu-user (aarch64); `tests/aarch64/test_aarch64.py` compares the two.
It imports only the runtime (numpy, opencv, one backend), as a Pi install would.

    python worker.py JOB.json OUT.npz      JOB: {"artifacts": [dir, ...], "images": [[path, [x1,y1,x2,y2], ...]],
                                                 "options": {"threads": 1, "ncnn_fp16": false}}
"""
from __future__ import annotations

import json
import platform
import sys

import cv2
import numpy as np

from edgepose.runtimes.backends import BackendOptions
from edgepose.runtimes.card import load_card
from edgepose.runtimes.detector import Detector
from edgepose.runtimes.pose import PoseModel
from edgepose.runtimes.preprocess import to_image_coords


def run(job: dict) -> dict[str, np.ndarray]:
    options = BackendOptions(**job.get("options", {}))
    results: dict[str, np.ndarray] = {}
    for artifact in job["artifacts"]:
        card = load_card(artifact)
        model = PoseModel(artifact, options) if card.task == "pose" else Detector(artifact, options)
        for i, (path, boxes) in enumerate(job["images"]):
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            key = f"{artifact}|{i}"
            if card.task == "pose":
                inputs, centers, scales = model.preprocess(image, np.asarray(boxes, np.float32))
                raw = model.infer(inputs)
                keypoints, scores = model.decode(raw)
                results[f"{key}|keypoints"] = to_image_coords(keypoints, centers, scales, model.input_wh)
                results[f"{key}|scores"] = scores
            else:
                inputs, scale = model.preprocess(image)
                raw = model.infer(inputs)
                found = model.decode(raw, scale, image.shape)
                results[f"{key}|boxes"], results[f"{key}|scores"] = found.boxes, found.scores
            for name, value in raw.items():
                results[f"{key}|raw|{name}"] = np.asarray(value, np.float32)
    results["machine"] = np.array(platform.machine())
    return results


if __name__ == "__main__":
    np.savez(sys.argv[2], **run(json.loads(open(sys.argv[1]).read())))
