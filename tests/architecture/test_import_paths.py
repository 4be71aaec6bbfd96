"""`import edgepose` finds the real package from every place a user may start Python: the folder holding a
clone named `edgepose` (which would otherwise be an empty namespace package shadowing the install), and with
that folder on PYTHONPATH."""
from __future__ import annotations

import subprocess
import sys

import pytest

from ..conftest import REPO

PROBE = ("import edgepose, edgepose.runtimes.pose as pose; "
         "print(edgepose.Pipeline.__name__, edgepose.PoseModel.__name__, pose.__file__)")


@pytest.fixture
def clone_parent(tmp_path):
    (tmp_path / "edgepose").symlink_to(REPO, target_is_directory=True)
    return tmp_path


@pytest.mark.parametrize("how", ["cwd", "PYTHONPATH"])
def test_import_from_the_folder_holding_a_clone_named_edgepose(clone_parent, how):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(clone_parent)}
    if how == "PYTHONPATH":
        env["PYTHONPATH"] = str(clone_parent)
    cwd = clone_parent if how == "cwd" else "/"
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    names, module_file = done.stdout.split()[:2], done.stdout.split()[2]
    assert names == ["Pipeline", "PoseModel"]
    assert module_file == str(clone_parent / "edgepose" / "runtimes" / "pose.py")
