"""Progress bars for long conversion steps: tqdm redrawing in place on a terminal; into a log file or a pipe,
one plain line every PROGRESS_LINE_EVERY_S seconds instead of a stream of `\\r` redraws (as `edgepose run`)."""
from __future__ import annotations

import sys

from edgepose.runtimes.runner import PROGRESS_LINE_EVERY_S


class _Lines:
    """A file for tqdm that turns each in-place redraw into one finished line (and drops blank clears)."""

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip()
        if line:
            sys.stderr.write(line + "\n")

    def flush(self) -> None:
        sys.stderr.flush()


def progress_bar(total: int | None, label: str, enabled: bool, **options):
    """A tqdm bar (`options` go to tqdm) that suits where stderr goes; disabled unless `enabled`."""
    from tqdm import tqdm

    if sys.stderr.isatty():
        return tqdm(total=total, desc=label, disable=not enabled, leave=False, **options)
    return tqdm(total=total, desc=label, disable=not enabled, leave=False, file=_Lines(),
                mininterval=PROGRESS_LINE_EVERY_S, maxinterval=PROGRESS_LINE_EVERY_S * 6, ascii=True, **options)
