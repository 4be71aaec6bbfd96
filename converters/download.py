"""Checkpoint downloads into a cache directory, with a progress bar and a sha256 check.

The file is streamed into a temporary name beside its destination and renamed only once complete and
verified, so an interrupted or corrupt download never sits in the cache under the real name.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from edgepose.runtimes.errors import DownloadError

from .progress import progress_bar

CHUNK = 1 << 20
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8})(?:_\d{8})?\.pth$")


def cache_dir() -> Path:
    """`$EDGEPOSE_CACHE`, else `$XDG_CACHE_HOME/edgepose`, else `~/.cache/edgepose`."""
    if os.environ.get("EDGEPOSE_CACHE"):
        return Path(os.environ["EDGEPOSE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgepose"


def is_url(text: str) -> bool:
    return urlparse(text).scheme in ("http", "https", "file")


def hash_prefix_from_name(url: str) -> str | None:
    """MMPose file names carry the first 8 hex digits of their sha256: `name-e613ba3f_20230127.pth`."""
    m = _HASH_IN_NAME.search(urlparse(url).path)
    return m.group(1) if m else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, sha256_prefix: str | None = None, directory: Path | None = None,
             progress: bool = True, timeout: float = 30.0) -> Path:
    """Return the cached file for `url`, downloading it first if needed.

    `sha256_prefix` (any length, hex) is checked on every call; when omitted, the hash fragment in an
    MMPose-style file name is used. A mismatch or a network failure raises DownloadError and leaves the
    cache without the file.
    """
    expected = (sha256_prefix or hash_prefix_from_name(url) or "").lower()
    directory = directory or cache_dir()
    name = Path(urlparse(url).path).name or "download.bin"
    target = directory / name
    if target.is_file():
        if expected and not sha256_of(target).startswith(expected):
            raise DownloadError(f"cached {target} does not match sha256 {expected}…; delete it and retry")
        return target
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    try:
        digest = _stream(url, fd, name, progress, timeout)
        if expected and not digest.startswith(expected):
            raise DownloadError(f"{url} downloaded, but its sha256 {digest[:16]}… does not start with {expected}; "
                                "the file is corrupt or was replaced — download it yourself and pass --weights PATH")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _stream(url: str, fd: int, label: str, progress: bool, timeout: float) -> str:
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with progress_bar(total, label, progress, unit="B", unit_scale=True) as bar:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"could not download {url} ({reason}); if this machine is offline, download the "
                            "file elsewhere and pass --weights PATH") from exc
    return digest.hexdigest()
