"""The command line: help text, the zoo table, usage errors and exit codes."""
from __future__ import annotations

import pytest

from edgepose.converters.zoo import ZOO

from ..conftest import run_cli


def test_models_lists_every_zoo_entry_with_its_checkpoint():
    result = run_cli("models")
    assert result.returncode == 0
    for spec in ZOO.values():
        line = next(line for line in result.stdout.splitlines() if line.startswith(spec.name + " "))
        assert spec.sha256_prefix in line and f"{spec.ap:.3f}" in line


def test_zoo_urls_carry_their_hash_fragment():
    for spec in ZOO.values():
        assert f"-{spec.sha256_prefix}" in spec.url, spec.name


@pytest.mark.parametrize("command", [[], ["models"], ["convert"]])
def test_every_command_has_help(command):
    result = run_cli(*command, "--help")
    assert result.returncode == 0 and "usage: edgepose" in result.stdout


def test_convert_help_describes_each_option():
    text = run_cli("convert", "--help").stdout
    for option in ("--target", "--precision", "--weights", "--output", "--opset", "--overwrite", "--no-verify"):
        assert option in text


def test_unknown_model_suggests_close_names_and_writes_nothing(tmp_path):
    result = run_cli("convert", "rtmpose-x", "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "unknown model 'rtmpose-x'; did you mean" in result.stderr and "rtmpose-t" in result.stderr
    assert not (tmp_path / "out").exists()


def test_usage_errors_exit_2():
    assert run_cli("convert", "rtmpose-t").returncode == 2  # --output missing
    assert run_cli("convert", "rtmpose-t", "-o", "x", "--target", "coreml").returncode == 2


def test_onnx_weights_for_a_pose_model_are_refused(tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"x")
    result = run_cli("convert", "rtmpose-t", "--weights", str(fake), "-o", str(tmp_path / "out"))
    assert result.returncode == 1 and "cannot take weights from an ONNX file" in result.stderr


def test_ci_runs_the_readme_test_command():
    from ..conftest import REPO

    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    test_command = next(line for line in ci if "pytest" in line)
    assert test_command in readme, "README's test command and .ci/run have drifted apart"
