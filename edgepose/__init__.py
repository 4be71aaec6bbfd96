"""edgepose: MMPose pose models → small, fast, verified edge artifacts (ONNX, NCNN, TFLite)."""
from importlib.metadata import PackageNotFoundError, version

from edgepose.runtimes.card import ModelCard, load_card
from edgepose.runtimes.errors import EdgeposeError

try:
    __version__ = version("edgepose")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

__all__ = ["EdgeposeError", "ModelCard", "load_card", "__version__"]
