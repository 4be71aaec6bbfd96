"""edgepose: MMPose pose models → small, fast, verified edge artifacts (ONNX, NCNN, TFLite), and the
torch-free runtime that runs them.

    import cv2, edgepose
    pipeline = edgepose.Pipeline(edgepose.PoseModel("out/rtmpose-t-onnx-fp32"),
                                 edgepose.Detector("out/rtmdet-nano-onnx-fp32"),
                                 config=edgepose.TrackerConfig(det_interval=5))
    for person in pipeline(cv2.imread("people.jpg")).persons:
        print(person.id, person.box, person.keypoints.shape, person.scores.mean())

Converting (needs the `convert` extra): `edgepose.convert("rtmpose-t", "out/", weights="rtmpose-t.pth")`.
"""
import os as _os

_CHECKOUT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_CHECKOUT, "pyproject.toml")) and _os.path.isdir(_os.path.join(_CHECKOUT, "runtimes")):
    # a source checkout used without installing: edgepose.runtimes, .converters and .calibration are the
    # folders beside this one (an install maps them the same way through pyproject's package-dir)
    __path__.append(_CHECKOUT)

from edgepose.runtimes.backends import BackendOptions  # noqa: E402
from edgepose.runtimes.card import ModelCard, load_card
from edgepose.runtimes.detector import Detections, Detector
from edgepose.runtimes.errors import (BackendUnavailable, CheckpointError, ConfigError, DownloadError,
                                      EdgeposeError, ExportError)
from edgepose.runtimes.pipeline import FrameResult, Pipeline
from edgepose.runtimes.pose import PoseModel, Poses
from edgepose.runtimes.tracker import Person, TrackerConfig
from edgepose.runtimes.version import __version__


def convert(model: str, output: str, weights: str | None = None, card_fields=None, **options):
    """Convert a zoo model (see `edgepose models`), or an .onnx file described by `card_fields` (a dict or a
    JSON path); options are those of `ConvertOptions`. Returns the artifact directories. Needs torch."""
    from edgepose.converters.convert import ConvertOptions
    from edgepose.converters.convert import convert as _convert

    if str(model).lower().endswith(".onnx"):
        from edgepose.converters.convert_onnx import convert_onnx

        if card_fields is None or weights is not None:
            raise ConfigError("an .onnx model needs card_fields and takes no weights")
        return convert_onnx(model, output, card_fields, ConvertOptions(**options))
    return _convert(model, output, weights, ConvertOptions(**options))


__all__ = [
    "BackendOptions", "BackendUnavailable", "CheckpointError", "ConfigError", "Detections", "Detector",
    "DownloadError", "EdgeposeError", "ExportError", "FrameResult", "ModelCard", "Person", "Pipeline",
    "PoseModel", "Poses", "TrackerConfig", "__version__", "convert", "load_card",
]
