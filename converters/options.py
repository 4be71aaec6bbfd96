"""What a conversion is asked to do: `ConvertOptions` and its INT8 part `Int8Options`, with their defaults and
checks. The CLI takes its defaults and choices from here; importing this module loads no torch."""
from __future__ import annotations

from dataclasses import dataclass

from edgepose.calibration.observers import METHODS
from edgepose.calibration.sources import check_sources
from edgepose.runtimes.backends import BackendOptions
from edgepose.runtimes.card import FORMATS, PRECISIONS
from edgepose.runtimes.errors import ConfigError

OPSET = 17         # highest ONNX opset: the dynamo exporter's 18 makes pnnx mis-convert ScaleNorm
MIN_OPSET = 13     # per-channel QDQ (INT8) needs 13
FLOAT_PRECISIONS = tuple(p for p in PRECISIONS if p != "int8")   # --precision; INT8 needs calibration (--int8)
# Every model run inside a conversion (verification, calibration, the INT8 search and report, COCO AP) uses one
# thread: the same numbers on every machine, and no collapse of a multi-threaded runtime when other work
# shares the CPU — with ncnn's default two-thread team, the RTMDet-nano ncnn INT8 search ran 19 min and more
# beside a second test worker (its ONNX target: 2 min)
MEASURE = BackendOptions(threads=1)


@dataclass(frozen=True)
class Int8Options:
    method: str = "percentile"              # activation range: minmax | percentile | entropy
    max_error: float | None = None          # budget in input px (see Task.error_px); None = all layers int8
    progress: bool = True
    eval_coco: tuple[str, str] | None = None  # (annotation json, image folder): COCO AP of fp32 and INT8
    float_layers: tuple[str, ...] | None = None  # keep exactly these float, no search (a mix found before)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"--method {self.method!r}: choose {', '.join(METHODS)}")
        if self.max_error is not None and self.max_error < 0:
            raise ConfigError("--max-error must be ≥ 0 (input pixels)")


@dataclass(frozen=True)
class ConvertOptions:
    targets: tuple[str, ...] = ("onnx",)     # artifact formats; see converters/targets
    precisions: tuple[str, ...] = ("fp32",)  # fp32, or fp16 weights (compute stays fp32 where the backend allows)
    opset: int = OPSET                       # ONNX opset (13..17)
    verify: bool = True                      # run each artifact and compare with PyTorch; a mismatch is an error
    verify_image: str | None = None          # real image to verify on (pose: crop of verify_box); default noise
    verify_box: tuple[float, float, float, float] | None = None  # person box in verify_image (default: all)
    overwrite: bool = False                  # replace existing artifact directories
    progress: bool = True                    # show download / calibration progress bars
    # INT8 (precision "int8"): see converters/convert_int8.py
    calib: tuple[str, ...] = ()              # calibration sources: image folders, COCO .json, videos
    calib_det: str | None = None             # detector artifact giving person boxes (pose, folders/videos)
    holdout: tuple[str, ...] = ()            # held-out sources for the fidelity report (default: 1 in 5)
    samples: int = 128                       # calibration samples (images for detectors, crops for pose)
    max_error: float | None = 1.0            # mixed-precision budget in input px; None = every layer int8
    method: str = Int8Options.method         # activation ranges: minmax | percentile | entropy
    eval_coco: str | None = None             # COCO annotation json: also report COCO AP of fp32 and INT8
    eval_images: str | None = None           # its image folder

    def __post_init__(self) -> None:
        for target in self.targets:   # what each target writes: converters.convert.plan_of
            if target not in FORMATS:
                raise ConfigError(f"target {target!r} is not supported (supported: {', '.join(FORMATS)}, all)")
        for precision in self.precisions:
            if precision not in PRECISIONS:
                raise ConfigError(f"precision {precision!r} is not supported (supported: {', '.join(PRECISIONS)})")
        if not MIN_OPSET <= self.opset <= OPSET:
            raise ConfigError(f"opset {self.opset} is out of range; use {MIN_OPSET}..{OPSET}")
        if self.verify_box is not None and self.verify_image is None:
            raise ConfigError("--verify-box needs --verify-image")
        if "int8" in self.precisions:
            if not self.calib:
                raise ConfigError("--int8 needs calibration data: --calib PATH (image folder, COCO .json or video)")
            if self.samples < 1:
                raise ConfigError(f"--samples must be ≥ 1, got {self.samples}")
            Int8Options(self.method, self.max_error)  # validates method and budget
            check_sources(self.calib, "--calib")      # before any conversion work
            check_sources(self.holdout, "--holdout")
        if (self.eval_coco is None) != (self.eval_images is None):
            raise ConfigError("--eval-coco and --images go together")
