"""The four floors (edgepose → converters → calibration → runtimes) import only downward, and the run
side stays free of torch and ONNX tooling."""
from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from .conftest import REPO

FLOORS = {"edgepose": 3, "converters": 2, "calibration": 1, "runtimes": 0}
FORBIDDEN_EVERYWHERE = ("mmcv", "mmengine", "mmpose", "mmdet")


def imported_modules(path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def floor_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "edgepose":
        return None
    return FLOORS[parts[1]] if len(parts) > 1 and parts[1] in FLOORS else FLOORS["edgepose"]


@pytest.mark.parametrize("folder", list(FLOORS))
def test_imports_only_run_downward(folder):
    for path in (REPO / folder).rglob("*.py"):
        for module in imported_modules(path):
            target = floor_of(module)
            assert target is None or target <= FLOORS[folder], f"{path.relative_to(REPO)} imports {module} (upward)"
            assert module.split(".")[0] not in FORBIDDEN_EVERYWHERE, f"{path.relative_to(REPO)} imports {module}"


def test_runtime_import_loads_no_torch_or_onnx_tooling():
    modules = sorted(p.stem for p in (REPO / "runtimes").glob("*.py") if p.stem != "__init__")
    code = ("import sys, importlib, edgepose; "
            + "; ".join(f"importlib.import_module('edgepose.runtimes.{m}')" for m in modules)
            + "; bad = [m for m in ('torch', 'onnx', 'onnxslim', 'onnxsim', 'tqdm') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"importing edgepose.runtimes loaded {out}"
