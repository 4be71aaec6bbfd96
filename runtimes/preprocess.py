"""Top-down preprocessing, bit-exact with MMPose 1.x (GetBBoxCenterScale + TopdownAffine + PoseDataPreprocessor).
UDP checkpoints (TopdownAffine use_udp=True) use `warp_matrix_udp`.

box (x1, y1, x2, y2) → center/scale (×padding, grown to the input aspect) → 3-point affine warp
(cv2.getAffineTransform, INTER_LINEAR, border 0) → channel order, mean/std, layout as the card says.
"""
from __future__ import annotations

import cv2
import numpy as np

from .card import InputSpec
from .errors import ConfigError



def _convert_hint(dtype: np.dtype) -> str:
    if dtype.kind == "f":
        return "convert with `(image * 255).clip(0, 255).astype(np.uint8)` if its values are in 0..1"
    if dtype == np.uint16:
        return "convert with `(image >> 8).astype(np.uint8)` (or cv2.normalize for a narrower range)"
    return "convert it to uint8 0..255, or read the file with cv2.imread(path)"


def check_image(image: object) -> np.ndarray:
    """The image check every public entry point uses: → uint8 BGR (H, W, 3), or a ConfigError saying what is
    expected. Grayscale (H, W) / (H, W, 1) and BGRA (H, W, 4) uint8 images are converted to BGR; float and
    other integer images are refused (their value range cannot be guessed)."""
    if image is None:
        raise ConfigError("image is None (cv2.imread returns None for a missing or unreadable file); "
                          "pass a uint8 BGR image of shape (H, W, 3)")
    if not isinstance(image, np.ndarray):
        raise ConfigError(f"image must be a numpy array (uint8 BGR, (H, W, 3)), got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ConfigError(f"uint8 BGR expected, got a {image.dtype} image; {_convert_hint(image.dtype)}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ConfigError(f"image of shape {image.shape}: expected (H, W, 3) BGR, (H, W) grayscale or (H, W, 4) BGRA")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ConfigError(f"image of shape {image.shape} is empty; pass an image of at least 1×1 pixels")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGRA2BGR)
    return image


def check_boxes(boxes: object) -> np.ndarray:
    """Person boxes → (N, 4) float32 xyxy. Takes (N, 4), one (4,) box, or detector output (N, 5) with a score
    column (only the first 4 columns are used); anything else is a ConfigError."""
    if boxes is None:
        raise ConfigError("boxes is None; pass person boxes as an (N, 4) array of x1, y1, x2, y2 in image pixels")
    boxes = getattr(boxes, "boxes", boxes)  # a Detections object
    try:
        array = np.asarray(boxes, np.float32)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"boxes must be numbers, an (N, 4) array of x1, y1, x2, y2; got {boxes!r:.80}") from exc
    if array.size == 0:
        return np.zeros((0, 4), np.float32)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] not in (4, 5):
        raise ConfigError(f"boxes of shape {array.shape}: expected (N, 4) x1, y1, x2, y2 or (N, 5) with a score")
    return np.ascontiguousarray(array[:, :4])


def box_problem(box: np.ndarray) -> str | None:
    """Why one xyxy box cannot be a person box (not finite, or x2 ≤ x1 / y2 ≤ y1), else None."""
    box = np.asarray(box, np.float32)
    if not np.isfinite(box).all():
        return "is not finite"
    if not (box[2] > box[0] and box[3] > box[1]):
        return "has x2 <= x1 or y2 <= y1: boxes are corners x1, y1, x2, y2 in pixels, not x, y, width, height"
    return None


def malformed_boxes(boxes: np.ndarray) -> str | None:
    """The first box of (N, 4) that cannot be a person box and why, else None."""
    for i, box in enumerate(np.asarray(boxes, np.float32).reshape(-1, 4)):
        if problem := box_problem(box):
            return f"box {i} ({', '.join(f'{v:g}' for v in box)}) {problem}"
    return None


def box_to_center_scale(box: np.ndarray, input_wh: tuple[int, int], padding: float) -> tuple[np.ndarray, np.ndarray]:
    """(4,) xyxy → center (2,), scale (2,) float32; scale grows (never shrinks) to aspect input_w/input_h."""
    x1, y1, x2, y2 = np.asarray(box, np.float32)
    center = np.array([(x1 + x2) * 0.5, (y1 + y2) * 0.5], np.float32)
    w, h = np.float32((x2 - x1) * padding), np.float32((y2 - y1) * padding)
    aspect = input_wh[0] / input_wh[1]
    scale = np.array([w, w / aspect] if w > h * aspect else [h * aspect, h], np.float32)
    return center, scale


def warp_matrix(center: np.ndarray, scale: np.ndarray, output_wh: tuple[int, int]) -> np.ndarray:
    """(2, 3) float64 affine map from image to crop (MMPose get_warp_matrix, rot 0, no shift, no UDP)."""
    out_w, out_h = output_wh
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = center + np.array([scale[0] * -0.5, 0.0])
    dst[0] = [out_w * 0.5, out_h * 0.5]
    dst[1] = np.array([out_w * 0.5, out_h * 0.5]) + np.array([out_w * -0.5, 0.0])
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    return cv2.getAffineTransform(np.float32(src), np.float32(dst))


def warp_matrix_udp(center: np.ndarray, scale: np.ndarray, output_wh: tuple[int, int]) -> np.ndarray:
    """(2, 3) UDP affine map (Huang et al., CVPR 2020; MMPose get_udp_warp_matrix, rot 0): the box edges land
    on pixel centres 0 and size-1, so flip and resolution changes stay unbiased."""
    sx = (output_wh[0] - 1) / scale[0]
    sy = (output_wh[1] - 1) / scale[1]
    return np.array([[sx, 0.0, sx * (-center[0] + 0.5 * scale[0])],
                     [0.0, sy, sy * (-center[1] + 0.5 * scale[1])]], np.float32)


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The point that makes a right angle at b: b + rot90(a - b)."""
    d = a - b
    return b + np.r_[-d[1], d[0]]


def crop_person(image: np.ndarray, box: np.ndarray, input_wh: tuple[int, int], padding: float,
                udp: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BGR uint8 image (H, W, 3) → crop (input_h, input_w, 3) uint8, center (2,), scale (2,)."""
    center, scale = box_to_center_scale(box, input_wh, padding)
    matrix = warp_matrix_udp(center, scale, input_wh) if udp else warp_matrix(center, scale, input_wh)
    crop = cv2.warpAffine(image, matrix, input_wh, flags=cv2.INTER_LINEAR)
    return crop, center, scale


def to_network_input(crops: np.ndarray, spec: InputSpec) -> np.ndarray:
    """(N, H, W, 3) uint8 BGR crops → the tensor the model takes (colour, normalization, layout, dtype).

    Normalization is written channel by channel straight into the output layout: the same float32
    arithmetic as MMPose's `(x - mean) / std`, bit for bit, without a separate transpose pass.
    """
    order = (2, 1, 0) if spec.color == "RGB" else (0, 1, 2)
    if spec.mean is None:  # raw pixels; the model normalizes
        x = np.stack([cv2.cvtColor(c, cv2.COLOR_BGR2RGB) for c in crops]) if spec.color == "RGB" else crops
        x = x.transpose(0, 3, 1, 2) if spec.layout == "NCHW" else x
        return np.ascontiguousarray(x, dtype=np.dtype(spec.dtype))
    n, h, w, _ = crops.shape
    out = np.empty((n, 3, h, w) if spec.layout == "NCHW" else (n, h, w, 3), np.float32)
    mean, std = np.asarray(spec.mean, np.float32), np.asarray(spec.std, np.float32)
    for c, src in enumerate(order):
        dst = out[:, c] if spec.layout == "NCHW" else out[..., c]
        np.subtract(crops[..., src], mean[c], out=dst, dtype=np.float32)
        np.divide(dst, std[c], out=dst)
    if spec.quantization and spec.dtype in ("int8", "uint8"):
        q = spec.quantization
        info = np.iinfo(np.dtype(spec.dtype))
        out = np.clip(np.round(out / q["scale"] + q["zero_point"]), info.min, info.max)
    return out.astype(np.dtype(spec.dtype), copy=False)


def to_image_coords(keypoints: np.ndarray, center: np.ndarray, scale: np.ndarray,
                    input_wh: tuple[int, int]) -> np.ndarray:
    """(N, K, 2) input-pixel coordinates → image pixels, per person center (N, 2) and scale (N, 2)."""
    wh = np.asarray(input_wh, np.float64)
    out = keypoints / wh * scale[:, None, :] + center[:, None, :] - 0.5 * scale[:, None, :]
    return out.astype(np.float32)
