"""Check an artifact against PyTorch by running it through `edgepose.runtimes`, the code that runs it on
the device. Raw outputs are compared (max |diff|, cosine), then decoded: keypoint displacement in input
pixels for pose models, box corner displacement for detectors."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from edgepose.runtimes.card import ModelCard, load_card
from edgepose.runtimes.errors import ConfigError
from edgepose.runtimes.tasks import Sample, task_of

from .options import MEASURE

FP32_TOLERANCE = 1e-3     # max|diff| ≤ tol · max(1, max|ref|)
FP16_MIN_COSINE = 0.999   # raw outputs; decoded keypoints and boxes are judged by the task (runtimes/tasks.py)


@dataclass(frozen=True)
class ProbeInput:
    """What an artifact is verified on: a real image (with a person box for person-crop tasks) or seeded
    noise. The network input comes from the artifact's own runtime preprocessing (`network_input`), so
    verification sees exactly the input the model will see on the device (UDP, padding and pad value from
    its card)."""
    image: np.ndarray | None   # BGR image; None = seeded standard-normal noise
    box: np.ndarray | None     # (4,) person box for person-crop tasks
    input_hw: tuple[int, int]
    description: str

    @property
    def real(self) -> bool:
        return self.image is not None

    @classmethod
    def create(cls, task: str, input_hw: tuple[int, int], image: str | None = None,
               box: tuple[float, float, float, float] | None = None) -> "ProbeInput":
        if image is None:
            return cls(None, None, tuple(input_hw), "seeded standard normal")
        pixels = cv2.imread(image, cv2.IMREAD_COLOR)
        if pixels is None:
            raise ConfigError(f"--verify-image {image} could not be read as an image")
        if task_of(task).person_crops:
            box = box or (0.0, 0.0, float(pixels.shape[1]), float(pixels.shape[0]))
            check_box_in_image(box, pixels.shape, "--verify-box")
            return cls(pixels, np.asarray(box, np.float32), tuple(input_hw), f"{Path(image).name} box {list(box)}")
        if box is not None:
            raise ConfigError("--verify-box applies to pose models; a detector is verified on the whole image")
        return cls(pixels, None, tuple(input_hw), f"{Path(image).name} letterboxed")

    def network_input(self, card: ModelCard) -> np.ndarray:
        """The batch-1 input of `card`'s model, in its layout."""
        if self.image is None:
            noise = np.random.default_rng(0).standard_normal((1, 3, *self.input_hw)).astype(np.float32)
            return noise if card.input.layout == "NCHW" else np.ascontiguousarray(noise.transpose(0, 2, 3, 1))
        return task_of(card).network_input(card, Sample(self.image, self.box, self.description))


def check_box_in_image(box, image_shape: tuple[int, ...], what: str) -> None:
    """Raise ConfigError unless `box` (x1, y1, x2, y2) is finite, has area and overlaps the image."""
    h, w = image_shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    if not np.isfinite([x1, y1, x2, y2]).all() or x2 <= x1 or y2 <= y1:
        raise ConfigError(f"{what} {x1:g},{y1:g},{x2:g},{y2:g} has no area; give x1,y1,x2,y2 with x2 > x1, y2 > y1")
    if x2 <= 0 or y2 <= 0 or x1 >= w or y1 >= h:
        raise ConfigError(f"{what} {x1:g},{y1:g},{x2:g},{y2:g} lies outside the {w}x{h} image")


Reference = Callable[[np.ndarray], list[np.ndarray]]   # NCHW input → outputs in card order


def verify_artifact(directory: Path, reference: Reference, probe: ProbeInput, precision: str,
                    against: str = "pytorch") -> dict[str, Any]:
    """Compare the artifact in `directory` with `reference` on `probe`; returns the card's `verification`
    block (`against` names what the reference is)."""
    card = load_card(directory)
    task = task_of(card)
    runner = task.open(directory, MEASURE)  # opens the backend once
    feed = probe.network_input(card)
    nchw = feed if card.input.layout == "NCHW" else np.ascontiguousarray(feed.transpose(0, 3, 1, 2))
    got = runner.backend.run(feed)
    ref = {spec.name: arr for spec, arr in zip(card.outputs, reference(nchw))}
    per_output, passed = {}, True
    for spec in card.outputs:
        r, g = ref[spec.name], got[spec.name].reshape(ref[spec.name].shape)
        diff = float(np.abs(r - g).max())
        cos = float(np.dot(r.ravel(), g.ravel()) / (np.linalg.norm(r) * np.linalg.norm(g) + 1e-12))
        entry = {"max_abs_diff": diff, "cosine": cos}
        if precision == "fp32":
            entry["tolerance"] = FP32_TOLERANCE * max(1.0, float(np.abs(r).max()))
            passed &= diff <= entry["tolerance"]
        else:
            passed &= cos >= FP16_MIN_COSINE
        per_output[spec.role if spec.stride is None else f"{spec.role}_s{spec.stride}"] = entry
        got[spec.name] = g
    result: dict[str, Any] = {"against": against, "input": probe.description, "outputs": per_output}
    key, decoded, decoded_ok = task.compare_decoded(runner, ref, got, precision == "fp32", probe.real)
    result[key] = decoded
    passed &= decoded_ok
    worst = min(per_output, key=lambda n: per_output[n]["cosine"])
    result["passed"] = bool(passed)
    result["summary"] = (f"worst output {worst}: max|diff| {per_output[worst]['max_abs_diff']:.3g}, "
                         f"cosine {per_output[worst]['cosine']:.6f}")
    if "keypoint_displacement_px" in result:
        result["summary"] += f"; keypoints moved ≤ {result['keypoint_displacement_px']['max']:.2f} px"
    if "boxes" in result:
        result["summary"] += f"; boxes moved ≤ {result['boxes']['max_corner_shift_px']:.2f} px"
    return result
