"""Silence the chatter of third-party libraries (C++ logs, progress bars on stdout/stderr).

Converters such as pnnx, litert-torch and ai-edge-quantizer, and LiteRT's interpreter, print at the
file-descriptor level, which
Python's redirect_stdout cannot catch; `quiet` redirects fds 1 and 2 into a temporary file for the
duration of the block and logs what was captured at DEBUG level (and keeps it when --debug is on).
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator

log = logging.getLogger(__name__)


@contextmanager
def quiet(label: str) -> Iterator[None]:
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sink.seek(0)
            captured = sink.read().decode(errors="replace").strip()
            if captured:
                log.debug("%s said:\n%s", label, captured[-4000:])
