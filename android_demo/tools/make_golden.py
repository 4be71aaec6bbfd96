#!/usr/bin/env python3
"""Golden vectors for the Android core's JVM tests, written by the Python runtime (edgepose.runtimes) itself.

    make_golden.py POSE_OR_DET_ARTIFACT IMAGE [--boxes x1,y1,x2,y2 ...] [--flip] -o golden.json
    make_golden.py POSE_ARTIFACT VIDEO --track DET_ARTIFACT [--frames 60 --det-interval 5] -o golden.json

A pose golden holds, per box (and per flip setting): center/scale, the warp matrix, the crop, a hash of the
network input, the raw model outputs, and the keypoints and scores the Python decoders make of exactly those
outputs. A detection golden holds the letterbox scale and canvas, a hash of the network input, the raw
outputs and the decoded detections. A tracking golden records a video run of detector + tracker + pose model:
per frame the detector decision, the detections, the boxes posed, the poses, and the persons with their ids.
The source image is stored as the region the crops read (pixels outside it are never read) or, for the
detector, whole. `--compact` keeps committed files small: crops and canvases as SHA-256 only (the Java test
then requires exact equality), raw outputs as float16 (decoded again in Python from the float16 values).
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import json
import sys
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgepose.runtimes.decoding import decoder_for
from edgepose.runtimes.detector import Detector, letterbox
from edgepose.runtimes.pose import PoseModel, pose_inputs, usable_boxes
from edgepose.runtimes.preprocess import crop_person, to_image_coords, warp_matrix, warp_matrix_udp
from edgepose.runtimes.tracker import Tracker, TrackerConfig

FORMAT = "edgepose-golden/1"


def array(values: np.ndarray, dtype: str | None = None) -> dict[str, Any]:
    """An array as {dtype, shape, zlib_b64}: little-endian bytes, zlib, base64 (dtype f4, f2 or u1). Images
    (u1, last axis 3) are stored as differences to the same channel of the previous pixel ("filter": "sub3"),
    which zlib packs much better."""
    values = np.asarray(values)
    dtype = dtype or {"float32": "f4", "float16": "f2", "uint8": "u1"}[values.dtype.name]
    raw = np.ascontiguousarray(values.astype("<" + dtype)).tobytes()
    out: dict[str, Any] = {"dtype": dtype, "shape": list(values.shape)}
    if dtype == "u1" and values.ndim >= 2 and values.shape[-1] == 3:
        flat = np.frombuffer(raw, np.uint8)
        raw = np.concatenate([flat[:3], (flat[3:].astype(np.int16) - flat[:-3]).astype(np.uint8)]).tobytes()
        out["filter"] = "sub3"
    out["zlib_b64"] = base64.b64encode(zlib.compress(raw, 9)).decode()
    return out


def digest(values: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()


def tensor_bytes_hash(x: np.ndarray) -> str:
    """SHA-256 of the network input as the model's element type, little-endian."""
    return digest(x.astype(x.dtype.newbyteorder("<")))


def lossy(values: np.ndarray, compact: bool, role: str = "") -> tuple[np.ndarray, dict[str, Any]]:
    """Raw outputs as stored and the float32 values the decoders then see (exactly the stored ones). Compact:
    float16 rounded to multiples of 2^-10 (heatmaps: 2^-6, whose dense maps would not pack otherwise)."""
    values = np.asarray(values, np.float32)
    if compact:
        step = 64 if role == "heatmaps" else 1024
        half = (np.round(values * step) / step).astype(np.float16)
        return half.astype(np.float32), array(half)
    return values, array(values)


def read_image(path: str) -> np.ndarray:
    image = cv2.imread(path)
    if image is None:
        cap = cv2.VideoCapture(path)
        ok, image = cap.read()
        if not ok:
            sys.exit(f"cannot read an image or a first video frame from {path}")
    return image


def image_region(image: np.ndarray, matrices: list[np.ndarray], size_wh: tuple[int, int]) -> dict[str, Any]:
    """The source pixels the warps read (inverse-mapped crop corners + 2 px), the rest zero."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = w, h, 0, 0
    for m in matrices:
        inv = cv2.invertAffineTransform(m)
        corners = np.array([[0, 0, 1], [size_wh[0], 0, 1], [0, size_wh[1], 1], [size_wh[0], size_wh[1], 1]], float)
        pts = corners @ inv.T
        x0, y0 = min(x0, int(np.floor(pts[:, 0].min())) - 2), min(y0, int(np.floor(pts[:, 1].min())) - 2)
        x1, y1 = max(x1, int(np.ceil(pts[:, 0].max())) + 3), max(y1, int(np.ceil(pts[:, 1].max())) + 3)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    return {"width": w, "height": h, "region": [x0, y0, x1 - x0, y1 - y0], "bgr": array(image[y0:y1, x0:x1])}


def pose_golden(artifact: str, image: np.ndarray, boxes: np.ndarray, flips: list[bool], compact: bool,
                decoders: list[dict[str, Any]]) -> dict[str, Any]:
    """One case per box and warp kind (plain, or UDP when a decoder variant asks for it); each case decoded
    once per decoder variant (fields over the card's decoder) and flip setting."""
    model = PoseModel(artifact)
    card, wh = model.card, model.input_wh
    variants = [{**card.decoder, **d} for d in decoders] or [dict(card.decoder)]
    cases, matrices = [], []
    for box in boxes:
        for udp in sorted({v.get("refine") == "udp" for v in variants}):
            crop, center, scale = crop_person(image, box, wh, card.bbox_padding, udp)
            matrix = (warp_matrix_udp if udp else warp_matrix)(center, scale, wh)
            matrices.append(matrix)
            warp_card = dataclasses.replace(card, decoder={**card.decoder, "refine": "udp" if udp else "quarter_offset"})
            inputs, _, _ = pose_inputs(warp_card, image, box[None])
            axis = 3 if card.input.layout == "NCHW" else 2
            flipped_inputs = np.ascontiguousarray(np.flip(inputs, axis))
            stored, outputs = {}, {}
            for role, value in model._by_role(model.backend.run(inputs)).items():
                stored[role], outputs[role] = lossy(value, compact, role)
            case = {"box": [float(v) for v in box], "udp": udp,
                    "center_scale": [float(v) for v in (*center, *scale)],
                    "matrix": np.asarray(matrix, float).ravel().tolist(), "crop_sha256": digest(crop),
                    "input_sha256": tensor_bytes_hash(inputs),
                    "input_flipped_sha256": tensor_bytes_hash(flipped_inputs), "outputs": outputs, "decoded": []}
            if not compact:
                case["crop"] = array(crop)
            if True in flips:
                flipped, case["flipped_outputs"] = {}, {}
                for role, value in model._by_role(model.backend.run(flipped_inputs)).items():
                    flipped[role], case["flipped_outputs"][role] = lossy(value, compact, role)
            for variant in (v for v in variants if (v.get("refine") == "udp") == udp):
                decoder = decoder_for(dataclasses.replace(card, decoder=variant), "pose")
                for flip in flips:
                    merged = decoder.merge_flip(stored, flipped, model.flip_idx) if flip else stored
                    kpts, scores = decoder.decode(merged)
                    case["decoded"].append({
                        "decoder": variant, "flip": flip, "keypoints_input": array(np.asarray(kpts, np.float32)),
                        "keypoints": array(to_image_coords(kpts, center[None], scale[None], wh)),
                        "scores": array(np.asarray(scores, np.float32))})
            cases.append(case)
    return {"format": FORMAT, "kind": "pose", "card": card.to_dict(),
            "image": image_region(image, matrices, wh), "cases": cases}


def detection_golden(artifact: str, image: np.ndarray, compact: bool) -> dict[str, Any]:
    det = Detector(artifact)
    inputs, scale = det.preprocess(image)
    canvas, _ = letterbox(image, (det.card.input.height, det.card.input.width),
                          int(det.card.decoder.get("letterbox_pad_value", 114)))
    raw = det.infer(inputs)
    stored, outputs = {}, {}
    for name, value in raw.items():
        stored[name], outputs[name] = lossy(value, compact)
    dets = det.decode(stored, scale, image.shape)
    h, w = image.shape[:2]
    case = {"scale": scale, "canvas_sha256": digest(canvas), "input_sha256": tensor_bytes_hash(inputs),
            "outputs": outputs, "boxes": array(dets.boxes.reshape(-1, 4)), "scores": array(dets.scores),
            "labels": dets.labels.astype(int).tolist()}
    if not compact:
        case["canvas"] = array(canvas)
    return {"format": FORMAT, "kind": "detection", "card": det.card.to_dict(),
            "image": {"width": w, "height": h, "region": [0, 0, w, h], "bgr": array(image)}, "cases": [case]}


def tracking_golden(pose_dir: str, det_dir: str, video: str, frames: int, config: TrackerConfig,
                    det_score: float) -> dict[str, Any]:
    """Pipeline.__call__'s detector/tracker/pose loop, recording what each step saw and decided."""
    pose, det = PoseModel(pose_dir), Detector(det_dir)
    tracker = Tracker(config, pose.card.sigmas or [0.05] * pose.num_keypoints)
    cap = cv2.VideoCapture(video)
    records = []
    for _ in range(frames):
        ok, frame = cap.read()
        if not ok:
            break
        detect = tracker.needs_detection()
        det_boxes = None
        record: dict[str, Any] = {"detector_ran": bool(detect)}
        if detect:
            dets = det(frame)
            dets = dets[dets.scores >= det_score]
            boxes, owners = tracker.boxes_from_detections(dets.boxes)
            det_boxes = boxes
            record["detections"] = np.asarray(boxes, np.float32).reshape(-1, 4).tolist()
        else:
            boxes, owners = tracker.boxes_from_tracks()
        record["owners"] = [None if o is None else o.id for o in owners]
        record["posed_boxes"] = np.asarray(boxes, np.float32).reshape(-1, 4).tolist()
        poses = pose(frame, boxes)
        record["pose_indices"] = poses.indices.astype(int).tolist()
        record["pose_keypoints"] = array(np.asarray(poses.keypoints, np.float32))
        record["pose_scores"] = array(np.asarray(poses.scores, np.float32))
        persons = tracker.update(poses.keypoints, poses.scores, [owners[i] for i in poses.indices],
                                 None if det_boxes is None else det_boxes[poses.indices])
        k = pose.num_keypoints
        record["persons"] = {"ids": [p.id for p in persons],
                             "boxes": array(np.asarray([p.box for p in persons], np.float32).reshape(-1, 4)),
                             "keypoints": array(np.asarray([p.keypoints for p in persons], np.float32).reshape(-1, k, 2))}
        records.append(record)
    h, w = frame.shape[:2]
    return {"format": FORMAT, "kind": "tracking", "card": pose.card.to_dict(), "video": Path(video).name,
            "frame_size": [w, h], "det_score": det_score, "tracker": dataclasses.asdict(config), "frames": records}


def parse_box(text: str) -> list[float]:
    values = [float(v) for v in text.split(",")]
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"a box is x1,y1,x2,y2, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("artifact", help="artifact directory (pose or RTMDet detection card)")
    ap.add_argument("source", help="image (or video: its first frame) / video for --track")
    ap.add_argument("--boxes", nargs="+", type=parse_box, help="person boxes x1,y1,x2,y2 (default: whole image)")
    ap.add_argument("--flip", action="store_true", help="also write flip-test cases")
    ap.add_argument("--decoder", type=json.loads, action="append", default=[],
                    help="a decoder variant: fields over the card's, e.g. '{\"refine\": \"dark\"}' (repeatable)")
    ap.add_argument("--compact", action="store_true", help="hashes for crops, float16 raw outputs (committed files)")
    ap.add_argument("--track", metavar="DET_ARTIFACT", help="record a tracking run on the video with this detector")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--det-interval", type=int, default=5)
    ap.add_argument("--det-score", type=float, default=0.5)
    ap.add_argument("--smooth", action="store_true", help="tracking: One-Euro smoothing on")
    ap.add_argument("-o", "--output", required=True, type=Path)
    args = ap.parse_args(argv)
    if args.track:
        golden = tracking_golden(args.artifact, args.track, args.source, args.frames,
                                 TrackerConfig(det_interval=args.det_interval, smooth=args.smooth), args.det_score)
    else:
        image = read_image(args.source)
        card = json.loads((Path(args.artifact) / "edgepose.json").read_text())
        if card["task"] == "detection":
            golden = detection_golden(args.artifact, image, args.compact)
        else:
            h, w = image.shape[:2]
            boxes = np.asarray(args.boxes or [[0, 0, w, h]], np.float32)
            boxes = boxes[usable_boxes(boxes, image.shape)]
            golden = pose_golden(args.artifact, image, boxes, [False, True] if args.flip else [False], args.compact,
                                 args.decoder)
    golden["source"] = {"artifact": Path(args.artifact).name, "input": Path(args.source).name}
    args.output.write_text(json.dumps(golden, separators=(",", ":")) + "\n")
    print(f"wrote {args.output} ({args.output.stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
