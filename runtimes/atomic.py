"""Write a directory all at once: build it under a hidden temporary name, rename it into place at the end."""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import ConfigError


@contextmanager
def atomic_directory(final: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary directory beside `final`; when the block succeeds it becomes `final`
    (replacing an existing one only with `overwrite`); when the block fails it is removed, and so is a
    parent directory this call created."""
    final = Path(final)
    if final.exists() and not overwrite:
        raise ConfigError(f"{final} already exists; pass --overwrite to replace it or choose another --output")
    created = [p for p in (final.parent, *final.parent.parents) if not p.exists()]
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; an artifact is an ordinary directory
        yield tmp
        old = final.with_name(f".{final.name}.old") if final.exists() else None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
        tmp.rename(final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for parent in created:  # innermost first
            if parent.exists() and not any(parent.iterdir()):
                parent.rmdir()
        raise
