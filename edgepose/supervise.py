"""Run a long command in a child process that Ctrl-C can always stop within a couple of seconds.

A conversion spends most of its time inside C++ (torch export, the TFLite converter, pnnx, onnxruntime),
where Python cannot act on a signal until the call returns, and some libraries swallow the interrupt. So
`edgepose convert` runs as a supervised child in its own process group: the supervisor (this module, which
imports nothing heavy) passes Ctrl-C on; the child stops cleanly and prints its summary; a child that has
not exited after `GRACE_S` is killed with everything it started, its hidden temporary folders are removed
and the supervisor prints the summary from the report the child kept on disk. A supervisor that is itself
killed (SIGKILL, a test's timeout) takes the child with it (Linux: the parent-death signal) instead of
leaving it to run on for minutes as an orphan.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

WORKER_ENV = "EDGEPOSE_SUPERVISED_STATE"   # set in the child: the folder holding report.json and its temp files
GRACE_S = 1.5
INTERRUPTED = 130


def state_dir() -> Path | None:
    """In a supervised child: the supervisor's state folder; None otherwise."""
    value = os.environ.get(WORKER_ENV)
    return Path(value) if value else None


def supervise(argv: list[str], output: Path) -> int:
    """Run `edgepose ARGV` as a child; return its exit code, or 130 when it had to be stopped."""
    state = Path(tempfile.mkdtemp(prefix="edgepose-run-"))
    before = _hidden_entries(output)
    created_output = not output.exists()
    env = {**os.environ, WORKER_ENV: str(state), "TMPDIR": str(state)}
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with it ignored
    try:
        child = subprocess.Popen([sys.executable, "-m", "edgepose", *argv], env=env, start_new_session=True,
                                 preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        try:
            return child.wait()
        except KeyboardInterrupt:
            return _stop(child, state, output, before, created_output)
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        shutil.rmtree(state, ignore_errors=True)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _die_with_parent(parent: int = os.getpid()) -> None:
    """In the child before exec: SIGKILL when the supervisor dies (prctl PR_SET_PDEATHSIG), even if it already
    has."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _stop(child: subprocess.Popen, state: Path, output: Path, before: set[str], created_output: bool) -> int:
    """Ask the child to stop; kill its whole process group if it has not after GRACE_S."""
    try:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=GRACE_S)
        return INTERRUPTED  # the child cleaned up and printed its own summary
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        pass
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()
    for name in _hidden_entries(output) - before:  # the child's half-built artifacts
        shutil.rmtree(output / name, ignore_errors=True)
    if created_output and output.is_dir() and not any(output.iterdir()):
        output.rmdir()
    print_interrupted(_read_report(state / "report.json"))
    return INTERRUPTED


def _hidden_entries(folder: Path) -> set[str]:
    try:
        return {p.name for p in folder.iterdir() if p.name.startswith(".")}
    except OSError:
        return set()


def _read_report(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def print_interrupted(report: dict) -> None:
    """The end of an interrupted conversion: what stays on disk and what was not written."""
    written = report.get("written", [])
    not_written = report.get("not_written", {})
    planned = report.get("planned", [])
    missing = [p for p in planned if p not in written and p not in not_written]
    for path in written:
        print(f"kept {path} (complete and verified)")
    for path in [*not_written, *missing]:
        print(f"not written: {path} ({not_written.get(path, 'interrupted before it was complete')})")
    kept = f"; kept {len(written)} finished artifact(s) listed above" if written else "; nothing was written"
    print(f"edgepose: interrupted{kept}", file=sys.stderr)
