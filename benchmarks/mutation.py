"""Mutation testing of the run side and the target writers with cosmic-ray: one-line changes to a module, each
run against that module's own fast tests; a mutant the tests do not notice "survives".

    pip install -e ".[mutation]"        # cosmic-ray
    python benchmarks/mutation.py [MODULE ...] [--list-survivors] [--keep DIR]

MODULE is a path such as runtimes/tracker.py (default: every module of MODULE_TESTS). The mutants are applied
in a git worktree of HEAD beside a link to ../shared (never in this checkout), so the working tree stays
untouched while it runs. Operators: one replacement per arithmetic operator, comparison boundaries and
negations, and/or, True/False, `not` added, unary minus removed, numbers ±1, loops run zero times, exceptions
swallowed, break/continue swapped (cosmic-ray's full set repeats each binary operator ten ways). Prints one
row per module (mutants, killed, survived, timeouts, score = killed / (killed + survived)) and, with
`--list-survivors`, each surviving mutant with its source line. A measurement for docs/mutation.md, not a
test; a full run over MODULE_TESTS takes hours on two cores.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAST = "-x -q -n 0 -p no:cacheprovider -m 'not slow'"
MODULE_TESTS = {  # module → its fast tests (tests mirror the code)
    "runtimes/tracker.py": "tests/runtimes/test_tracker.py",
    "runtimes/boxes.py": "tests/runtimes/test_boxes.py tests/runtimes/test_tracker.py",
    "runtimes/smoothing.py": "tests/runtimes/test_tracker.py",
    "runtimes/decoders.py": "tests/runtimes/test_decoders.py",
    "runtimes/decoding.py": "tests/runtimes/test_decoders.py tests/runtimes/test_detector.py",
    "runtimes/preprocess.py": "tests/runtimes/test_runtime_api.py tests/runtimes/test_detector.py",
    "runtimes/card.py": "tests/runtimes/test_card.py tests/runtimes/test_card_properties.py "
                        "tests/runtimes/test_card_at_open.py",
    "runtimes/pipeline.py": "tests/runtimes/test_pipeline_prefetch.py tests/runtimes/test_runtime_api.py "
                            "tests/runtimes/test_tracker.py",
    "runtimes/keypoints.py": "tests/runtimes/test_card.py tests/runtimes/test_decoders.py",
    "runtimes/detector.py": "tests/runtimes/test_detector.py",
    "runtimes/pose.py": "tests/runtimes/test_runtime_api.py",
    "runtimes/backends.py": "tests/runtimes/test_backends.py tests/runtimes/test_card_at_open.py",
    "converters/targets/ncnn/param.py": "tests/converters/test_ncnn_param.py",
    "converters/targets/ncnn/bin.py": "tests/converters/test_ncnn_param.py tests/converters/test_int8_parts.py",
    "converters/targets/onnx/qdq.py": "tests/converters/test_int8_parts.py",
}
KEEP = {  # operators run; every other cosmic-ray operator is filtered out
    *(f"core/ReplaceBinaryOperator_{a}_{b}" for a, b in
      [("Add", "Sub"), ("Sub", "Add"), ("Mul", "Div"), ("Div", "Mul"), ("FloorDiv", "Div"), ("Mod", "FloorDiv"),
       ("Pow", "Mul")]),
    *(f"core/ReplaceComparisonOperator_{a}_{b}" for a, b in
      [("Lt", "LtE"), ("LtE", "Lt"), ("Gt", "GtE"), ("GtE", "Gt"), ("Lt", "GtE"), ("LtE", "Gt"), ("Gt", "LtE"),
       ("GtE", "Lt"), ("Eq", "NotEq"), ("NotEq", "Eq"), ("Is", "IsNot"), ("IsNot", "Is"), ("In", "NotIn"),
       ("NotIn", "In")]),
    "core/ReplaceAndWithOr", "core/ReplaceOrWithAnd", "core/ReplaceTrueWithFalse", "core/ReplaceFalseWithTrue",
    "core/AddNot", "core/ReplaceUnaryOperator_USub_Delete", "core/NumberReplacer", "core/ZeroIterationForLoop",
    "core/ExceptionReplacer", "core/ReplaceBreakWithContinue", "core/ReplaceContinueWithBreak",
}


def cosmic_ray(*args: str, cwd: Path) -> str:
    exe = Path(sys.executable).with_name("cosmic-ray")
    done = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"cosmic-ray {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def test_command(module: str, work: Path) -> str:
    """The module's fast tests on the worktree's code (PYTHONPATH: its parent, where the root __init__.py wins)."""
    return f"env PYTHONPATH={work.parent} {sys.executable} -m pytest {FAST} {MODULE_TESTS[module]}"


def config(module: str, work: Path) -> Path:
    every = cosmic_ray("operators", cwd=work).split()
    exclude = [f"^{re.escape(op)}$" for op in every if op not in KEEP]
    path = work.parent / f"{Path(module).stem}.toml"
    path.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{module}"\ntimeout = 60.0\nexcluded-modules = []\n'
        f'test-command = "{test_command(module, work)}"\n'
        '[cosmic-ray.distributor]\nname = "local"\n'
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = {json.dumps(exclude)}\n")
    return path


def run_module(module: str, work: Path) -> tuple[dict[str, int], list[str]]:
    baseline = subprocess.run(test_command(module, work), shell=True, cwd=work, capture_output=True, text=True)
    if baseline.returncode != 0:
        sys.exit(f"{module}: its tests fail before any mutation:\n{baseline.stdout[-2000:]}")
    cfg, session = config(module, work), work.parent / f"{Path(module).stem}.sqlite"
    cosmic_ray("init", str(cfg), str(session), "--force", cwd=work)
    subprocess.run([str(Path(sys.executable).with_name("cr-filter-operators")), str(session), str(cfg)], cwd=work,
                   check=True, capture_output=True)
    cosmic_ray("exec", str(cfg), str(session), cwd=work)
    counts = {"killed": 0, "survived": 0, "incompetent": 0}
    survivors = []
    lines = (work / module).read_text().splitlines()
    for line in cosmic_ray("dump", str(session), cwd=work).splitlines():
        job, result = json.loads(line)
        if result is None or result.get("worker_outcome") == "skipped":
            continue
        outcome = result["test_outcome"]
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == "survived":
            mutation = job["mutations"][0]
            row = mutation["start_pos"][0]
            survivors.append(f"{module}:{row} {mutation['operator_name'].split('/')[-1]} "
                             f"#{mutation['occurrence']}: {lines[row - 1].strip()}")
    return counts, survivors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", default=list(MODULE_TESTS), metavar="MODULE")
    parser.add_argument("--list-survivors", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the worktree and the session files here")
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in MODULE_TESTS]
    if unknown:
        sys.exit(f"no tests mapped for {unknown}; known: {', '.join(MODULE_TESTS)}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="edgepose-mutation-"))
    work = root / "edgepose"   # named like the package: tests import this copy through the root __init__.py
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "shared").exists():
        (root / "shared").symlink_to((REPO.parent / "shared").resolve())
    subprocess.run(["git", "worktree", "add", "--detach", str(work), "HEAD"], cwd=REPO, check=True,
                   capture_output=True)
    try:
        print("| module | mutants | killed | survived | timeout/incompetent | score |\n|---|---|---|---|---|---|")
        every_survivor = []
        for module in args.modules:
            counts, survivors = run_module(module, work)
            judged = counts["killed"] + counts["survived"]
            print(f"| {module} | {sum(counts.values())} | {counts['killed']} | {counts['survived']} | "
                  f"{counts['incompetent']} | {counts['killed'] / max(judged, 1):.1%} |", flush=True)
            every_survivor += survivors
        if args.list_survivors:
            print("\nsurvivors:\n" + "\n".join(every_survivor))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(work)], cwd=REPO, capture_output=True)
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
