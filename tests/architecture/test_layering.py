"""The four floors (edgepose → converters → calibration → runtimes) import only downward, and the run
side stays free of torch and ONNX tooling."""
from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from ..conftest import REPO

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


PACKAGES = {"edgepose": "edgepose", "converters": "edgepose.converters", "calibration": "edgepose.calibration",
            "runtimes": "edgepose.runtimes"}


def package_modules() -> dict[str, object]:
    """Every module of the installed package by dotted name → its source path."""
    modules = {}
    for folder, package in PACKAGES.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = [package, *path.relative_to(REPO / folder).with_suffix("").parts]
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """module → the package modules it imports anywhere in its body (function-level imports included),
    relative imports resolved, `from pkg import module` counted as importing that module."""
    modules = package_modules()
    graph = {}
    for name, path in modules.items():
        base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                parent = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else node.module
                found |= {parent, *(f"{parent}.{alias.name}" for alias in node.names)}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_card_imports_nothing_of_the_runtime_but_its_errors():
    assert import_graph()["edgepose.runtimes.card"] == {"edgepose.runtimes.errors"}


def test_each_public_constant_is_defined_once():
    places: dict[str, list[str]] = {}
    for name, path in package_modules().items():
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign) else []
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper() and not target.id.startswith("_"):
                    places.setdefault(target.id, []).append(name)
    assert {k: v for k, v in places.items() if len(v) > 1} == {}


def test_registries_cover_exactly_the_names_the_card_owns():
    from edgepose.runtimes import card
    from edgepose.runtimes.backends import BACKENDS
    from edgepose.runtimes.decoding import DECODERS
    from edgepose.runtimes.tasks import TASKS_BY_NAME

    assert tuple(BACKENDS) == card.FORMATS
    assert tuple(DECODERS) == card.DECODER_TYPES
    assert tuple(TASKS_BY_NAME) == card.TASKS


JAVA_CARD = REPO / "android_demo" / "core" / "src" / "main" / "java" / "org" / "edgepose" / "core" / "ModelCard.java"


def java_constants() -> dict[str, object]:
    """The Java core's card constants: `static final List<String> X = Arrays.asList(...)` and String constants."""
    import re

    text = JAVA_CARD.read_text()
    lists = {m[1]: tuple(re.findall(r'"([^"]*)"', m[2]))
             for m in re.finditer(r"static final List<String> (\w+)\s*=\s*Arrays\.asList\(([^)]*)\)", text)}
    strings = dict(re.findall(r'static final String (\w+) = "([^"]*)";', text))
    return {**lists, **strings}


def test_java_core_constants_equal_python():
    from edgepose.runtimes import card

    java = java_constants()
    names = ("TASKS", "FORMATS", "LAYOUTS", "COLORS", "DTYPES", "PRECISIONS", "OUTPUT_ROLES", "DECODER_TYPES",
             "CARD_NAME", "SCHEMA_VERSION")
    assert {n: java.get(n) for n in names} == {n: getattr(card, n) for n in names}
