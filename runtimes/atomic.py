"""Write a directory all at once: build it under a hidden temporary name, rename it into place at the end."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .card import CARD_NAME, ENGINE_CACHE
from .errors import ConfigError


def check_replaceable(final: Path, overwrite: bool) -> None:
    """Raise ConfigError unless `final` may be (re)written: it must not exist, or, with `overwrite`, be an
    artifact directory holding only its card and the files the card names (never a user's other files)."""
    final = Path(final)
    if not final.exists() and not final.is_symlink():
        return
    if not overwrite:
        raise ConfigError(f"{final} already exists; pass --overwrite to replace it or choose another --output")
    if final.is_symlink() or not final.is_dir():
        raise ConfigError(f"{final} exists and is not an artifact directory; --overwrite replaces only artifact "
                          "directories: move it away or choose another --output")
    try:
        files = json.loads((final / CARD_NAME).read_text()).get("files", {})
        owned = {CARD_NAME, ENGINE_CACHE, *(str(name) for name in files.values())}
    except (OSError, ValueError, AttributeError):
        raise ConfigError(f"{final} exists and holds no readable {CARD_NAME}; --overwrite replaces only "
                          "artifact directories: move it away or choose another --output") from None
    foreign = sorted(p.name for p in final.iterdir() if p.name not in owned)
    if foreign:
        raise ConfigError(f"{final} holds files that are not part of the artifact ({', '.join(foreign[:3])}); "
                          "--overwrite would delete them: move them away first")


def check_writable(folder: Path) -> None:
    """Raise ConfigError unless `folder` is (or can be created as) a directory this process can write in.
    Creates nothing that stays: a missing folder is created only by the writer, later."""
    folder = Path(folder)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if existing != folder and not existing.is_dir():
        raise ConfigError(f"cannot create {folder}: {existing} is a file, not a folder")
    if existing == folder and not folder.is_dir():
        raise ConfigError(f"--output {folder} is a file; give a folder (it is created if missing)")
    try:
        probe = tempfile.mkdtemp(prefix=".edgepose-write-test-", dir=existing)
    except OSError as exc:
        raise ConfigError(f"cannot write in {existing} ({exc.strerror}); choose another --output") from None
    os.rmdir(probe)


@contextmanager
def atomic_directory(final: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary directory beside `final`; when the block succeeds it becomes `final`
    (replacing an existing artifact directory only with `overwrite`, see `check_replaceable`); when the
    block fails it is removed, and so is a parent directory this call created."""
    final = Path(final)
    check_replaceable(final, overwrite)
    created = [p for p in (final.parent, *final.parent.parents) if not p.exists()]
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    except OSError as exc:
        raise ConfigError(f"cannot write in {final.parent} ({exc.strerror}); choose another --output") from None
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; an artifact is an ordinary directory
        yield tmp
        check_replaceable(final, overwrite)  # the folder may have changed while the block ran
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
            os.replace(final, old)  # onto an empty directory of a name nobody else uses
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for parent in created:  # innermost first
            if parent.exists() and not any(parent.iterdir()):
                parent.rmdir()
        raise


def check_output_file(path: str | Path, flag: str, overwrite: bool = False) -> Path:
    """The output policy of every command that writes a file (run, bench, profile): a new file, or with
    `overwrite` an existing regular file, in an existing folder we can write to — never a folder or device.
    Returns it with symbolic links resolved, so the file is replaced, never the link."""
    path = Path(path).resolve()
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a folder; name a file inside it instead")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{flag} {path} exists and is not a regular file (a device or pipe); name a file")
    if path.exists() and not overwrite:
        raise ConfigError(f"{flag} {path} already exists; pass --overwrite to replace it or choose another name")
    check_writable_folder(path.parent, flag)
    return path


def check_writable_folder(folder: Path, flag: str) -> None:
    """Raise ConfigError unless `folder` exists and a file can be created in it."""
    if not folder.is_dir():
        raise ConfigError(f"{flag}: output folder {folder} does not exist; create it first")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError(f"{flag}: cannot write in {folder} ({exc.strerror or exc})") from None
