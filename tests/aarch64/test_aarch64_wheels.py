"""The runtime installs on aarch64 boards from wheels alone: every dependency of `edgepose[onnx]`, `[tflite]`
and `[ncnn]`, at the versions we pin, has an aarch64 wheel for the Python of each board — cp310 (JetPack 6,
constraints-jetpack6.txt), cp311 (Raspberry Pi OS bookworm) and cp312 (constraints.txt). Resolved by pip
against the package index (dry run, nothing installed)."""
from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from ..conftest import REPO

PLATFORMS = ["manylinux_2_28_aarch64", "manylinux_2_27_aarch64", "manylinux_2_24_aarch64", "manylinux2014_aarch64",
             "manylinux_2_17_aarch64"]


def runtime_requirements(extra: str) -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + project["optional-dependencies"][extra]


@pytest.mark.parametrize("python, constraints", [("3.10", "constraints-jetpack6.txt"), ("3.11", "constraints.txt"),
                                                 ("3.12", "constraints.txt")], ids=["jetpack6-cp310", "pi-cp311",
                                                                                    "cp312"])
@pytest.mark.parametrize("extra", ["onnx", "tflite", "ncnn"])
def test_runtime_resolves_from_aarch64_wheels(tmp_path, python, constraints, extra):
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--target", str(tmp_path / "site"), "--only-binary=:all:", "--python-version", python,
               "--implementation", "cp", "-c", str(REPO / constraints), *runtime_requirements(extra)]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
    assert done.returncode == 0, f"edgepose[{extra}] on aarch64 cp{python}: " + " | ".join(errors[-3:])
