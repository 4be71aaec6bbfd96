"""edgepose: MMPose pose models → small, fast, verified edge artifacts (ONNX, NCNN, TFLite)."""
from edgepose.runtimes.card import ModelCard, load_card
from edgepose.runtimes.errors import EdgeposeError
from edgepose.runtimes.version import __version__

__all__ = ["EdgeposeError", "ModelCard", "load_card", "__version__"]
