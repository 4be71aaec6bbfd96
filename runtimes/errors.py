"""The one exception family of edgepose: every message says what failed and what to do next."""
from __future__ import annotations


class EdgeposeError(Exception):
    """Base class of every error edgepose raises on purpose."""


class ConfigError(EdgeposeError):
    """Bad user input: an unknown model name, an invalid option, a malformed model card."""


class ModelRefused(ConfigError):
    """A backend cannot load or run a model file (corrupt, truncated, or using what this build cannot do,
    such as an int8 layer a kernel lacks). The message carries the backend's own first line."""


class CheckpointError(EdgeposeError):
    """A checkpoint that cannot be read or does not fit the model it is loaded into."""


class DownloadError(EdgeposeError):
    """A download failed (offline, HTTP error) or its sha256 does not match."""


class ExportError(EdgeposeError):
    """A conversion step failed; nothing was written."""


class BackendUnavailable(EdgeposeError):
    """An optional inference backend is not installed; the message names the pip command."""


class ConversionIncomplete(ExportError):
    """A conversion with several artifacts wrote some of them, not all. `written` lists the artifact
    directories that are complete and verified; `not_written` maps each other one to the reason."""

    def __init__(self, message: str, written: list, not_written: dict) -> None:
        super().__init__(message)
        self.written = written
        self.not_written = not_written


class ConversionInterrupted(KeyboardInterrupt):
    """Ctrl-C during a conversion; `written` / `not_written` say what was kept, as for ConversionIncomplete."""

    def __init__(self, written: list, not_written: dict) -> None:
        super().__init__("interrupted")
        self.written = written
        self.not_written = not_written
