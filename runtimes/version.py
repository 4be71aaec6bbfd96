"""The installed edgepose version (written into every model card)."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("edgepose")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0+source"
