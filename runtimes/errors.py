"""The one exception family of edgepose: every message says what failed and what to do next."""
from __future__ import annotations


class EdgeposeError(Exception):
    """Base class of every error edgepose raises on purpose."""


class ConfigError(EdgeposeError):
    """Bad user input: an unknown model name, an invalid option, a malformed model card."""


class CheckpointError(EdgeposeError):
    """A checkpoint that cannot be read or does not fit the model it is loaded into."""


class DownloadError(EdgeposeError):
    """A download failed (offline, HTTP error) or its sha256 does not match."""


class ExportError(EdgeposeError):
    """A conversion step failed; nothing was written."""


class BackendUnavailable(EdgeposeError):
    """An optional inference backend is not installed; the message names the pip command."""
