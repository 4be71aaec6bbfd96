"""`edgepose bench`: the table, JSON and plot a user makes on their board, the board description it carries,
and one-line errors. (It measures; no test here judges a speed.)"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest

from edgepose.runtimes.board import describe
from edgepose.runtimes.third_party import wrap

from ..conftest import RTMDET_ONNX, SHARED, assert_one_line_error, need, run_cli, snapshot

VTEST = SHARED / "data" / "opencv-doc-debian" / "vtest.avi"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, reference_artifact) -> Path:
    root = tmp_path_factory.mktemp("bench")
    shutil.copytree(reference_artifact("rtmpose-t"), root / "pose" / "rtmpose-t-onnx-fp32")
    wrap("rtmdet-ncnn", [need(RTMDET_ONNX.with_suffix(".param")), RTMDET_ONNX.with_suffix(".bin")], root / "det")
    return root


def test_bench_prints_table_and_writes_json_and_plot(artifacts, tmp_path):
    out_json, out_png = tmp_path / "board.json", tmp_path / "board.png"
    result = run_cli("bench", str(artifacts / "pose"), str(artifacts / "det"), "--threads", "1,2", "--runs", "3",
                     "--batch", "3", "--source", str(need(VTEST)), "--frames", "12", "--json", str(out_json),
                     "--plot", str(out_png), "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| rtmpose-t-onnx-fp32 |")]
    assert len(rows) == 4, result.stdout          # threads 1, 2 × batch 1, 3
    data = json.loads(out_json.read_text())
    latency = {(r["artifact"], r["threads"], r["batch"]) for r in data["latency"]}
    assert latency == {("rtmpose-t-onnx-fp32", t, b) for t in (1, 2) for b in (1, 3)} | {("det", 1, 1), ("det", 2, 1)}
    assert all(r["median_ms"] > 0 and r["p90_ms"] >= r["median_ms"] for r in data["latency"])
    assert [(p["threads"], p["prefetch"]) for p in data["pipeline"]] == [(1, False), (1, True), (2, False), (2, True)]
    run = data["pipeline"][0]
    assert run["frames"] == 12 and 0 < run["detector_share"] <= 0.5 and run["fps"] > 0  # interval 5: 3 of 12
    assert set(run["stage_ms"]) == {"pre", "det", "pose", "post", "track"} and run["stage_ms"]["pose"] > 0
    board = data["board"]
    assert board["machine"] and board["physical_cores"] >= 1 and "onnxruntime" in board["backends"]
    image = cv2.imread(str(out_png))
    assert image is not None and image.shape[0] > 100 and image.shape[1] > 100
    assert board["cpu"] in result.stdout.splitlines()[0] or (board["model"] or "") in result.stdout.splitlines()[0]


@pytest.mark.parametrize("args, code, text", [
    (["NOT_AN_ARTIFACT"], 1, "not an artifact folder"),
    (["POSE", "--source", "VIDEO"], 1, "needs a pose artifact and a detector"),
    (["POSE", "--json", "MISSING/out.json"], 1, "does not exist"),
    (["POSE", "--json", "EXISTING"], 1, "already exists; pass --overwrite"),
    (["POSE", "--runs", "0"], 1, "must be ≥ 1"),
    (["POSE", "--threads", "0,2"], 2, ""),
    (["POSE", "DET", "--source", "NOPE"], 1, "nope.mp4: no such file"),
], ids=["not an artifact", "source without detector", "json folder missing", "json exists", "zero runs",
        "zero threads", "missing source"])
def test_bench_errors_are_one_line(artifacts, tmp_path, args, code, text):
    existing = tmp_path / "mine.json"
    existing.write_text("mine")
    names = {"NOT_AN_ARTIFACT": str(tmp_path), "POSE": str(artifacts / "pose" / "rtmpose-t-onnx-fp32"),
             "VIDEO": str(need(VTEST)), "MISSING/out.json": str(tmp_path / "missing" / "out.json"),
             "EXISTING": str(existing), "DET": str(artifacts / "det"), "NOPE": str(tmp_path / "nope.mp4")}
    before = snapshot(tmp_path)
    result = run_cli("bench", *[names.get(a, a) for a in args], "--no-progress")
    if code == 2:
        assert result.returncode == 2 and "usage:" in result.stderr
    else:
        assert_one_line_error(result, code, text)
        assert "median ms" not in result.stdout, "measured before the arguments were checked"
    assert snapshot(tmp_path) == before and existing.read_text() == "mine"


PI5_CPUINFO = "".join(f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 "
                      "atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\n"
                      "CPU part\t: 0xd0b\n\n" for i in range(4))


def test_board_description_reads_a_pi5_and_a_jetson(tmp_path):
    """Recorded /proc and /etc files of a Raspberry Pi 5 and a Jetson Orin (their formats as those boards print
    them), read through `describe(root)`."""
    pi = tmp_path / "pi"
    (pi / "proc" / "device-tree").mkdir(parents=True)
    (pi / "proc" / "cpuinfo").write_text(PI5_CPUINFO)
    (pi / "proc" / "device-tree" / "model").write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    board = describe(pi)
    assert board.cpu == "4x Cortex-A76" and board.model == "Raspberry Pi 5 Model B Rev 1.0"
    assert board.fp16_arithmetic and board.dot_product and board.jetson_release is None
    jetson = tmp_path / "jetson"
    (jetson / "proc").mkdir(parents=True)
    (jetson / "etc").mkdir()
    (jetson / "proc" / "cpuinfo").write_text(PI5_CPUINFO.replace("0xd0b", "0xd42"))
    (jetson / "etc" / "nv_tegra_release").write_text("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: "
                                                      "generic, EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025\n")
    board = describe(jetson)
    assert board.cpu == "4x Cortex-A78AE" and board.jetson_release.startswith("R36 (release), REVISION: 4.3")
    pi4 = describe(_write(tmp_path / "pi4", PI5_CPUINFO.replace("0xd0b", "0xd08").replace(" fphp asimdhp", "")
                          .replace(" asimddp", "")))
    assert pi4.cpu == "4x Cortex-A72" and not pi4.fp16_arithmetic and not pi4.dot_product


def _write(root: Path, cpuinfo: str) -> Path:
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "cpuinfo").write_text(cpuinfo)
    return root
