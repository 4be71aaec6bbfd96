"""Downloads against a local HTTP server and file:// URLs: caching, sha256 checks, offline errors."""
from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest

from edgepose.converters.download import download, hash_prefix_from_name
from edgepose.runtimes.errors import DownloadError

from ..conftest import reference, run_cli


@pytest.fixture
def server(tmp_path):
    """Serve `tmp_path/www` on localhost; yields the base URL."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()


def test_download_verifies_sha256_and_caches(server, tmp_path):
    base, root = server
    payload = b"weights" * 1000
    sha = hashlib.sha256(payload).hexdigest()
    (root / "model.pth").write_bytes(payload)
    cache = tmp_path / "cache"
    path = download(f"{base}/model.pth", sha[:8], cache, progress=False)
    assert path.read_bytes() == payload
    (root / "model.pth").unlink()  # a second call must not need the server
    assert download(f"{base}/model.pth", sha[:8], cache, progress=False) == path


def test_hash_mismatch_leaves_nothing_in_the_cache(server, tmp_path):
    base, root = server
    (root / "model.pth").write_bytes(b"tampered")
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="does not start with deadbeef"):
        download(f"{base}/model.pth", "deadbeef", cache, progress=False)
    assert list(cache.iterdir()) == []


def test_hash_fragment_in_mmpose_file_name_is_checked(server, tmp_path):
    base, root = server
    (root / "rtmpose-t-0badc0de_20230127.pth").write_bytes(b"not the real file")
    assert hash_prefix_from_name(f"{base}/rtmpose-t-0badc0de_20230127.pth") == "0badc0de"
    with pytest.raises(DownloadError, match="0badc0de"):
        download(f"{base}/rtmpose-t-0badc0de_20230127.pth", directory=tmp_path / "c", progress=False)


def test_http_error_is_a_download_error(server, tmp_path):
    base, _ = server
    with pytest.raises(DownloadError, match="--weights PATH"):
        download(f"{base}/missing.pth", directory=tmp_path / "c", progress=False)


@pytest.mark.slow
def test_convert_from_url_downloads_then_converts(server, tmp_path):
    base, root = server
    checkpoint = reference("litehrnet-18", "checkpoint_published.pth")
    (root / "lite.pth").write_bytes(checkpoint.read_bytes())
    result = run_cli("convert", "litehrnet-18", "--weights", f"{base}/lite.pth", "-o", str(tmp_path / "out"),
                     "--no-progress", env={"EDGEPOSE_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cache" / "lite.pth").is_file()
    assert (tmp_path / "out" / "litehrnet-18-onnx-fp32" / "edgepose.json").is_file()


def test_file_url_is_accepted(tmp_path):
    checkpoint = reference("litehrnet-18", "checkpoint_published.pth")
    path = download(checkpoint.as_uri(), directory=tmp_path / "c", progress=False)
    assert path.read_bytes() == checkpoint.read_bytes()


def test_no_weights_and_no_network_is_one_clear_line(tmp_path):
    # an unreachable proxy stands in for "no network", whatever the machine running the tests can reach
    offline = {"https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
               "EDGEPOSE_CACHE": str(tmp_path / "cache")}
    result = run_cli("convert", "rtmpose-t", "--output", str(tmp_path / "out"), env=offline)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--weights PATH" in lines[0] and "could not download" in lines[0], result.stderr
    assert not (tmp_path / "out").exists()
    assert not any((tmp_path / "cache").glob("*")), "a partial download was left in the cache"


def test_progress_bars_print_plain_lines_into_a_pipe(capsys):
    """Into a log file or a pipe (not a terminal): finished lines, at most one per PROGRESS_LINE_EVERY_S,
    never `\\r` redraws."""
    from edgepose.converters.progress import progress_bar

    with progress_bar(1000, "download x", True, unit="B") as bar:
        for _ in range(10):
            bar.update(100)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.startswith("download x") and err.count("\n") == 1, err
