"""Shared fixtures. Real-data tests read ../shared (beside the repository) and skip when it is absent."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGEPOSE_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "reference" / "mmpose"
POSE_MODELS = ("rtmpose-t", "rtmpose-s", "litehrnet-18", "litehrnet-30", "mobilenetv2")
RTMDET_ONNX = SHARED / "models" / "rtmdet-nano" / "rtmdet-nano.onnx"


def need(path: Path) -> Path:
    """Skip the calling test when a shared data file is missing (e.g. on a user's machine)."""
    if not path.exists():
        pytest.skip(f"shared test data not found: {path} (clone with ../shared beside the repository)")
    return path


def reference(model: str, name: str) -> Path:
    return need(REFERENCE / model / name)


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python -m edgepose ARGS` in a fresh process; returns the completed process (text mode)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "edgepose", *args], capture_output=True, text=True, env=full_env,
                          timeout=600)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Downloads go to a per-test cache, never to the user's ~/.cache."""
    monkeypatch.setenv("EDGEPOSE_CACHE", str(tmp_path_factory.mktemp("cache")))
