"""edgepose run side: model card, backends, pre/post-processing. Imports only numpy, opencv and a backend."""
from .card import CARD_NAME, SCHEMA_VERSION, InputSpec, ModelCard, OutputSpec, load_card
from .errors import (BackendUnavailable, CheckpointError, ConfigError, DownloadError, EdgeposeError,
                     ExportError)

__all__ = [
    "CARD_NAME", "SCHEMA_VERSION", "InputSpec", "ModelCard", "OutputSpec", "load_card",
    "BackendUnavailable", "CheckpointError", "ConfigError", "DownloadError", "EdgeposeError", "ExportError",
]
