"""`edgepose profile`: the parsers on real published tool outputs (tests/e2e/fixtures/profile, each with its source
on the first line), and the adb flow against a fake `adb` on PATH that replays a recorded session."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from edgepose.profile_parsers import (format_table, parse_app_report, parse_benchmark_model, parse_benchncnn,
                                      parse_hub_profile, percentile)
from edgepose.runtimes.card import InputSpec, ModelCard, OutputSpec
from edgepose.runtimes.errors import EdgeposeError
from edgepose.runtimes.keypoints import COCO17

from ..conftest import assert_one_line_error, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "profile"


def fixture(name: str) -> str:
    """A fixture's text without its '# source:' line."""
    lines = (FIXTURES / name).read_text().splitlines(keepends=True)
    assert lines[0].startswith("# source: https://"), name
    return "".join(lines[1:])


# -- parsers on real outputs ------------------------------------------------------------------------------------

def test_benchmark_model_with_op_profiling_imx8mp_cpu():
    t = parse_benchmark_model(fixture("benchmark_model_imx8mp_cpu.txt"), "mobilenet", "cpu")
    assert (t.runs, t.avg_ms, t.min_ms, t.max_ms) == (50, 162.98, 162.744, 163.299)   # regular runs, not warmup
    assert t.median_ms is None and t.p90_ms is None                                    # the tool prints none
    assert len(t.ops) == 31                                                            # not the init table's 1
    assert (t.ops[0].type, t.ops[0].name, t.ops[0].ms) == (
        "CONV_2D", "MobilenetV1/MobilenetV1/Conv2d_3_pointwise/Relu6", 13.847)
    assert [o.ms for o in t.ops] == sorted((o.ms for o in t.ops), reverse=True)
    assert sum(o.ms for o in t.ops) == pytest.approx(162.9, abs=0.2)                   # the ops add up to a run
    assert t.fps == pytest.approx(1000 / 162.98)


def test_benchmark_model_fully_delegated_imx8mp_npu():
    t = parse_benchmark_model(fixture("benchmark_model_imx8mp_npu.txt"), "mobilenet", "nnapi")
    assert (t.runs, t.avg_ms) == (379, pytest.approx(2.52559))
    assert [(o.type, o.ms) for o in t.ops] == [("Vx Delegate", 2.504)]


def test_benchmark_model_readme_sample_without_summary_lines():
    """The official README sample has only the op tables and the 'Timings (microseconds)' line."""
    t = parse_benchmark_model(fixture("benchmark_model_tflite_readme.txt"), "mobilenet", "cpu")
    assert (t.runs, t.min_ms, t.max_ms) == (50, 77.385, 88.213)
    assert t.avg_ms == pytest.approx(79.7609)       # 'Average inference timings in us: ... Inference: 79760.9'
    assert len(t.ops) == 31 and t.ops[0].ms == 6.652 and t.ops[-1].ms == 0.002   # times called 0 → once


def test_benchmark_model_new_info_prefixed_layout():
    """Newer LiteRT prefixes every line with 'INFO: '; the same real log with that prefix parses the same."""
    text = fixture("benchmark_model_imx8mp_cpu.txt")
    a = parse_benchmark_model(text, "m", "cpu")
    b = parse_benchmark_model("".join("INFO: " + line for line in text.splitlines(True)), "m", "cpu")
    assert (a.runs, a.avg_ms, [o.ms for o in a.ops]) == (b.runs, b.avg_ms, [o.ms for o in b.ops])


def test_benchmark_model_failure_output_is_an_error():
    with pytest.raises(EdgeposeError, match="printed no timings"):
        parse_benchmark_model("STARTING!\nFailed to load model\n", "m", "cpu")


def test_benchncnn_snapdragon855_gpu():
    timings = parse_benchncnn(fixture("benchncnn_snapdragon855.txt"), "gpu")
    assert len(timings) == 20 and all(t.runs == 8 and t.tool == "benchncnn" for t in timings)
    vgg = next(t for t in timings if t.model == "vgg16")
    assert (vgg.min_ms, vgg.max_ms, vgg.avg_ms) == (159.00, 183.80, 170.15)


def test_ai_hub_profile():
    t = parse_hub_profile(json.loads(fixture("aihub_profile_qai_hub_0.56.json")), "m", "qnn")
    assert t.runs == 2 and t.median_ms == pytest.approx((10.003 + 4.205) / 2)
    assert t.p90_ms == pytest.approx(4.205 + 0.9 * (10.003 - 4.205))
    assert t.notes["hub_estimate_ms"] == 3.652 and t.notes["layers_per_unit"] == {"CPU": 1, "NPU": 1}
    assert [(o.type, o.unit, o.ms) for o in t.ops] == [("TRANSPOSE", "NPU", 0.127), ("MUL", "CPU", 0.023)]


def test_percentile_is_numpys_linear():
    assert percentile([1.0, 2.0, 3.0, 4.0], 90) == pytest.approx(3.7)
    assert percentile([5.0], 50) == 5.0


def test_table_format():
    t = parse_benchmark_model(fixture("benchmark_model_imx8mp_cpu.txt"), "mobilenet", "cpu")
    lines = format_table([t], {"model": "Pixel 7", "soc": "Tensor G2", "board": "gs201"}).splitlines()
    assert lines[0] == "device: model Pixel 7, soc Tensor G2, board gs201"
    assert lines[1].split() == ["model", "delegate", "tool", "runs", "median", "ms", "p90", "ms", "mean", "ms",
                                "min", "ms", "FPS"]
    assert lines[2].split() == ["mobilenet", "cpu", "benchmark_model", "50", "-", "-", "162.98", "162.74", "6.1"]
    assert lines[4] == "slowest ops (mobilenet, cpu):"
    assert len([line for line in lines if line.startswith("  ") and " ms " in line]) == 10


# -- the adb flow against a fake adb ----------------------------------------------------------------------------

FAKE_ADB = r'''#!{python}
import json, os, re, shutil, sys
session = json.load(open(os.environ["FAKE_ADB_SESSION"]))
args = sys.argv[1:]
with open(os.environ["FAKE_ADB_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if args[:1] == ["-s"]:
    args = args[2:]
line = " ".join(args)
if args[0] == "pull":
    src = session["files"].get(args[1])
    if src is None:
        sys.stderr.write("adb: error: remote object '%s' does not exist\n" % args[1]); sys.exit(1)
    shutil.copy(src, os.path.join(args[2], os.path.basename(args[1]))); sys.exit(0)
for pattern, out, code in session["rules"]:
    if re.search(pattern, line):
        sys.stdout.write(open(out[1:]).read() if out.startswith("@") else out); sys.exit(code)
sys.exit(0)
'''


def card_dir(root: Path, name: str, fmt: str = "tflite") -> Path:
    files = {"tflite": {"model": "m.tflite"}, "ncnn": {"param": "m.param", "bin": "m.bin"}}[fmt]
    card = ModelCard(
        task="pose", format=fmt, files=files,
        input=InputSpec("input", [1, 256, 192, 3], "NHWC", "float32", "RGB", [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]),
        outputs=[OutputSpec("simcc_x", "simcc_x", [1, 17, 384]), OutputSpec("simcc_y", "simcc_y", [1, 17, 512])],
        decoder={"type": "simcc", "split_ratio": 2.0}, keypoints=list(COCO17.names), skeleton=[[0, 1]],
        flip_pairs=[list(p) for p in COCO17.flip_pairs], sigmas=[0.1] * 17, bbox_padding=1.25, precision="int8",
        source={"model": "rtmpose-t"})
    (root / name).mkdir()
    path = root / name
    card.save(path)
    for f in files.values():
        (path / f).write_bytes(b"\0")
    return path


def fake_adb(tmp_path: Path, rules: list, files: dict | None = None) -> dict:
    """Write the fake adb and its session; returns the env that puts it first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "adb"
    exe.write_text(FAKE_ADB.replace("{python}", sys.executable))
    exe.chmod(0o755)
    session = tmp_path / "session.json"
    session.write_text(json.dumps({"rules": rules, "files": files or {}}))
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_ADB_SESSION": str(session),
            "FAKE_ADB_LOG": str(tmp_path / "adb.log")}


ONE_PHONE = [[r"^devices", "List of devices attached\n35201FDH2000KX\tdevice\n\n", 0],
             [r"getprop ro.product.model", "Pixel 7\n", 0], [r"getprop ro.soc.model", "Tensor G2\n", 0],
             [r"getprop ro.board.platform", "gs201\n", 0]]


def calls(tmp_path: Path) -> list[list[str]]:
    return [json.loads(line) for line in (tmp_path / "adb.log").read_text().splitlines()]


def test_adb_benchmark_model_flow(tmp_path):
    """A stand-in for a phone, which cannot exist here: a fake `adb` replays a recorded session (device list,
    getprop, and the real i.MX benchmark_model logs as the binary's output); the test checks what was pushed
    and run, once per delegate, and the printed table, JSON and plot."""
    art = card_dir(tmp_path, "rtmpose-t-tflite-int8")
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF")
    rules = ONE_PHONE + [[r"--use_xnnpack=true", "@" + str(FIXTURES / "benchmark_model_imx8mp_cpu.txt"), 0],
                         [r"--use_gpu=true", "@" + str(FIXTURES / "benchmark_model_imx8mp_npu.txt"), 0]]
    env = fake_adb(tmp_path, rules)
    out_json, out_png = tmp_path / "p.json", tmp_path / "p.png"
    result = run_cli("profile", str(art), "--adb", "--benchmark-binary", str(binary), "--delegate", "cpu,gpu",
                     "--json", str(out_json), "--plot", str(out_png), env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "device: serial 35201FDH2000KX, model Pixel 7, soc Tensor G2, board gs201"
    assert lines[2].split()[:3] == ["rtmpose-t-tflite-int8", "cpu", "benchmark_model"]
    assert lines[3].split()[:3] == ["rtmpose-t-tflite-int8", "gpu", "benchmark_model"]
    assert "slowest ops (rtmpose-t-tflite-int8, cpu):" in lines
    report = json.loads(out_json.read_text())
    assert report["device"]["soc"] == "Tensor G2" and [r["delegate"] for r in report["results"]] == ["cpu", "gpu"]
    assert report["results"][0]["avg_ms"] == 162.98 and len(report["results"][0]["ops"]) == 31
    assert out_png.read_bytes()[:4] == b"\x89PNG"
    log = calls(tmp_path)
    assert all(c[:2] == ["-s", "35201FDH2000KX"] for c in log[1:])
    pushed = [c[3:] for c in log if c[2:3] == ["push"]]
    assert [str(binary), "/data/local/tmp/edgepose/benchmark_model"] in pushed
    assert [str(art / "m.tflite"), "/data/local/tmp/edgepose/rtmpose-t-tflite-int8.tflite"] in pushed
    runs = [c[3] for c in log if c[2:3] == ["shell"] and "benchmark_model --graph" in c[3]]
    assert len(runs) == 2 and all("--enable_op_profiling=true" in r for r in runs)


def test_adb_app_flow(tmp_path):
    """A stand-in for a phone: the fake adb says the demo app is installed and hands back a recorded
    BenchmarkActivity report; the test checks the intent and the printed stages and detector share."""
    det, pose = card_dir(tmp_path, "rtmdet-nano-tflite-int8"), card_dir(tmp_path, "rtmpose-t-tflite-int8")
    report = tmp_path / "report.json"
    report.write_text(json.dumps({
        "artifacts": ["rtmdet-nano-tflite-int8", "rtmpose-t-tflite-int8"], "delegate": "gpu", "frames": 300,
        "frame_ms": {"median": 21.5, "p90": 30.25, "mean": 22.0, "min": 15.0, "max": 41.0},
        "stages_ms": {"detector": 9.5, "pose": 7.25, "preprocess": 2.0, "tracker": 0.25}, "detector_share": 0.22,
        "device": {"model": "Pixel 7"}}))
    remote = "/sdcard/Android/data/org.edgepose.demo/files/reports/profile-gpu.json"
    env = fake_adb(tmp_path, ONE_PHONE + [[r"pm list packages", "package:org.edgepose.demo\n", 0],
                                          [r"\[ -f ", "FOUND\n", 0]], files={remote: str(report)})
    result = run_cli("profile", str(det), str(pose), "--adb", "35201FDH2000KX", "--delegate", "gpu", env=env)
    assert result.returncode == 0, result.stderr
    assert "stages (rtmdet-nano-tflite-int8 + rtmpose-t-tflite-int8, gpu), mean ms: detector 9.50, pose 7.25, " \
           "preprocess 2.00, tracker 0.25; detector on 22% of frames" in result.stdout
    row = result.stdout.splitlines()[2].split()
    assert row[-6:] == ["300", "21.50", "30.25", "22.00", "15.00", "46.5"]
    starts = [c[3] for c in calls(tmp_path) if c[2:3] == ["shell"] and c[3].startswith("am start")]
    assert starts == ["am start -W -n org.edgepose.demo/.BenchmarkActivity --es artifacts "
                      "rtmdet-nano-tflite-int8,rtmpose-t-tflite-int8 --es delegate gpu --ei frames 300 --ei threads 4 "
                      f"--es report {remote}"]


def test_app_report_error_is_reported():
    with pytest.raises(EdgeposeError, match="GPU delegate unavailable"):
        parse_app_report({"error": "GPU delegate unavailable on this phone"}, "gpu")


@pytest.mark.parametrize("rules, args, contains", [
    ([[r"^devices", "List of devices attached\n\n", 0]], [], "no Android device found"),
    ([[r"^devices", "List of devices attached\nA1\tdevice\nB2\tdevice\n", 0]], [], "pick one with --adb SERIAL"),
    ([[r"^devices", "List of devices attached\nA1\tunauthorized\n", 0]], [], "unauthorized"),
    ([[r"^devices", "List of devices attached\nA1\tdevice\n", 0]], ["C3"], "'C3' is not attached"),
    (ONE_PHONE + [[r"pm list packages", "\n", 0]], [], "demo app (org.edgepose.demo) is not installed"),
])
def test_adb_errors_are_one_line(tmp_path, rules, args, contains):
    art = card_dir(tmp_path, "rtmpose-t-tflite-int8")
    result = run_cli("profile", str(art), "--adb", *args, env=fake_adb(tmp_path, rules))
    assert_one_line_error(result, 1, contains)


def test_no_adb_on_path_is_one_line(tmp_path):
    art = card_dir(tmp_path, "rtmpose-t-tflite-int8")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("profile", str(art), "--adb", env={"PATH": str(empty)})
    assert_one_line_error(result, 1, "adb not found on PATH")


def test_missing_benchmark_binary_is_one_line(tmp_path):
    art = card_dir(tmp_path, "rtmpose-t-tflite-int8")
    result = run_cli("profile", str(art), "--adb", "--benchmark-binary", str(tmp_path / "nope"),
                     env=fake_adb(tmp_path, ONE_PHONE))
    assert_one_line_error(result, 1, "--benchmark-binary")


def test_benchncnn_refuses_nnapi_and_tflite(tmp_path):
    binary = tmp_path / "benchncnn"
    binary.write_bytes(b"\x7fELF")
    ncnn = card_dir(tmp_path, "rtmpose-t-ncnn-fp32", "ncnn")
    env = fake_adb(tmp_path, ONE_PHONE)
    result = run_cli("profile", str(ncnn), "--adb", "--benchmark-binary", str(binary), "--delegate", "nnapi", env=env)
    assert_one_line_error(result, 1, "cpu or gpu (Vulkan) only")
    tfl = card_dir(tmp_path, "rtmpose-t-tflite-int8")
    result = run_cli("profile", str(tfl), "--adb", "--benchmark-binary", str(binary), env=env)
    assert_one_line_error(result, 1, "times ncnn artifacts")


def test_hub_without_client_names_the_extra(tmp_path):
    try:
        import qai_hub  # noqa: F401
        pytest.skip("qai-hub is installed")
    except ImportError:
        pass
    art = card_dir(tmp_path, "rtmpose-t-tflite-int8")
    result = run_cli("profile", str(art), "--hub", "Samsung Galaxy S24 (Family)")
    assert_one_line_error(result, 1, 'pip install "edgepose[hub]"')


def test_hub_flow_with_a_stand_in_client(tmp_path):
    """qai_hub replaced by a stand-in module (no account or network here) that returns the recorded profile."""
    art = card_dir(tmp_path, "rtmpose-t-tflite-int8")
    stub = tmp_path / "stub" / "qai_hub"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(f'''import json
class Device:
    def __init__(self, name): self.name = name
class _Status:
    finished, success, code, message = True, True, "SUCCESS", ""
class _Job:
    job_id, url = "j1", "https://app.aihub.qualcomm.com/jobs/j1/"
    def get_status(self): return _Status()
    def download_profile(self):
        text = open({str(FIXTURES / "aihub_profile_qai_hub_0.56.json")!r}).read()
        return json.loads(text.split("\\n", 1)[1])
SUBMITTED = []
def submit_profile_job(model, device, name, options):
    open({str(tmp_path / "hub.log")!r}, "a").write(json.dumps([model, device.name, options]) + "\\n")
    return _Job()
''')
    env = {"PYTHONPATH": f"{stub.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = run_cli("profile", str(art), "--hub", "Samsung Galaxy S24 (Family)", "--delegate", "cpu,qnn", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "device: hub_device Samsung Galaxy S24 (Family)"
    assert "TRANSPOSE [NPU]" in result.stdout
    submitted = [json.loads(line) for line in (tmp_path / "hub.log").read_text().splitlines()]
    assert [s[2] for s in submitted] == ["--compute_unit cpu", "--compute_unit npu"]
    assert submitted[0][0] == str(art / "m.tflite")
