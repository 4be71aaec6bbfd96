"""`edgepose profile`: time artifacts on an Android phone over adb — through the demo app's BenchmarkActivity,
LiteRT's `benchmark_model` or ncnn's `benchncnn` — or on Qualcomm AI Hub, once per delegate. Host side only:
subprocess + json; parsing and reporting live in `profile_parsers`."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from edgepose.runtimes.errors import BackendUnavailable, ConfigError, EdgeposeError

from .profile_parsers import Timing, parse_app_report, parse_benchmark_model, parse_benchncnn, parse_hub_profile

DESCRIPTION = ("Push artifacts to a phone and time them once per delegate with the demo app's BenchmarkActivity "
               "(default) or with --benchmark-binary (LiteRT benchmark_model with per-op profiling, or ncnn "
               "benchncnn); or profile them on a Qualcomm AI Hub device. Prints median/p90 ms, FPS and the 10 "
               "slowest ops.")
DELEGATES = ("cpu", "gpu", "nnapi", "qnn")
APP = "org.edgepose.demo"
APP_FILES = f"/sdcard/Android/data/{APP}/files"     # the app's getExternalFilesDir(null): adb can push and pull
REMOTE = "/data/local/tmp/edgepose"
BENCHMARK_MODEL_FLAGS = {"cpu": ["--use_xnnpack=true"], "gpu": ["--use_gpu=true"], "nnapi": ["--use_nnapi=true"]}
HUB_COMPUTE_UNIT = {"cpu": "cpu", "gpu": "gpu", "nnapi": "npu", "qnn": "npu"}


@dataclass
class ProfileOptions:
    delegates: tuple[str, ...] = ("cpu",)
    benchmark_binary: str | None = None
    qnn_delegate: str | None = None     # libQnnTFLiteDelegate.so for benchmark_model --delegate qnn
    runs: int = 50
    threads: int = 4
    frames: int = 300
    timeout: float = 600.0


class Adb:
    """The `adb` client bound to one device, chosen from `adb devices` (one line errors that say what to do)."""

    def __init__(self, serial: str | None) -> None:
        self.exe = shutil.which("adb")
        if self.exe is None:
            raise ConfigError("adb not found on PATH: install Android platform-tools "
                              "(https://developer.android.com/tools/releases/platform-tools) and add them to PATH")
        self.serial = self._choose(serial or None)

    def _choose(self, serial: str | None) -> str:
        listed = self._devices()
        if serial is not None:
            if serial not in listed:
                found = ", ".join(listed) or "none"
                raise ConfigError(f"device {serial!r} is not attached (adb devices lists: {found})")
            chosen = serial
        elif not listed:
            raise ConfigError("no Android device found by `adb devices`: connect a phone with USB debugging on "
                              "(Settings > Developer options) and accept its prompt")
        elif len(listed) > 1:
            raise ConfigError(f"{len(listed)} devices attached ({', '.join(listed)}): pick one with --adb SERIAL")
        else:
            chosen = next(iter(listed))
        state = listed[chosen]
        if state == "unauthorized":
            raise ConfigError(f"device {chosen} is unauthorized: unlock it, accept the 'Allow USB debugging' prompt, "
                              "then retry")
        if state != "device":
            raise ConfigError(f"device {chosen} is {state}: reconnect it (or run `adb kill-server`), then retry")
        return chosen

    def _devices(self) -> dict[str, str]:
        out = self._call(["devices"], "adb devices")
        listed = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and not line.startswith(("List of devices", "*")):
                listed[parts[0]] = " ".join(parts[1:])
        return listed

    def _call(self, args: list[str], what: str, timeout: float = 300.0) -> str:
        try:
            result = subprocess.run([self.exe, *args], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise EdgeposeError(f"{what} did not finish within {timeout:.0f} s; check the phone and the cable") from None
        if result.returncode != 0:
            last = (result.stderr.strip() or result.stdout.strip() or f"exit code {result.returncode}").splitlines()[-1]
            raise EdgeposeError(f"{what} failed on {getattr(self, 'serial', 'adb')}: {last}")
        return result.stdout

    def run(self, *args: str, timeout: float = 300.0) -> str:
        return self._call(["-s", self.serial, *args], "adb " + " ".join(args[:2]), timeout)

    def shell(self, command: str, timeout: float = 300.0) -> str:
        return self.run("shell", command, timeout=timeout)

    def getprop(self, name: str) -> str:
        return self.shell(f"getprop {name}").strip()

    def device_info(self) -> dict:
        return {"serial": self.serial, "model": self.getprop("ro.product.model"),
                "soc": self.getprop("ro.soc.model"), "board": self.getprop("ro.board.platform")}


def profile_adb(artifacts: list[Path], serial: str | None, options: ProfileOptions) -> tuple[dict, list[Timing]]:
    """Device info and one Timing per (artifact, delegate), measured on the phone."""
    cards = _cards(artifacts)
    binary = None
    if options.benchmark_binary is not None:
        binary = Path(options.benchmark_binary)
        if not binary.is_file():
            raise ConfigError(f"--benchmark-binary {binary}: no such file; build LiteRT's benchmark_model or ncnn's "
                              "benchncnn for android-arm64 and give its path")
    adb = Adb(serial)
    device = adb.device_info()
    if binary is None:
        return device, _via_app(adb, artifacts, cards, options)
    if "benchncnn" in binary.name:
        return device, _via_benchncnn(adb, binary, artifacts, cards, options)
    return device, _via_benchmark_model(adb, binary, artifacts, cards, options)


def _cards(artifacts: list[Path]) -> list:
    from edgepose.runtimes.card import load_card

    return [load_card(a) for a in artifacts]


def _via_app(adb: Adb, artifacts: list[Path], cards: list, options: ProfileOptions) -> list[Timing]:
    if f"package:{APP}" not in adb.shell(f"pm list packages {APP}").split():
        raise ConfigError(f"the edgepose demo app ({APP}) is not installed on {adb.serial}: build and install "
                          "android_demo/app (android_demo/README.md), or pass --benchmark-binary PATH")
    if any(c.format != "tflite" for c in cards):
        raise ConfigError("the demo app runs TFLite artifacts only; convert with --target tflite, or pass "
                          "--benchmark-binary benchncnn for ncnn artifacts")
    adb.shell(f"mkdir -p {APP_FILES}/artifacts {APP_FILES}/reports")
    for art in artifacts:
        adb.run("push", str(art), f"{APP_FILES}/artifacts/")
    names = ",".join(a.name for a in artifacts)
    timings = []
    for delegate in options.delegates:
        report = f"{APP_FILES}/reports/profile-{delegate}.json"
        adb.shell(f"rm -f {report}")
        adb.shell(f"am start -W -n {APP}/.BenchmarkActivity --es artifacts {names} --es delegate {delegate} "
                  f"--ei frames {options.frames} --ei threads {options.threads} --es report {report}")
        timings.append(parse_app_report(json.loads(_wait_pull(adb, report, options.timeout)), delegate))
    return timings


def _wait_pull(adb: Adb, remote: str, timeout: float) -> str:
    """Poll until the app has written `remote`, then pull it; the app writes the report last, atomically."""
    deadline = time.monotonic() + timeout
    while "MISSING" in adb.shell(f"[ -f {remote} ] && echo FOUND || echo MISSING"):
        if time.monotonic() > deadline:
            raise EdgeposeError(f"the demo app wrote no report within {timeout:.0f} s; watch `adb logcat -s "
                                "edgepose` and raise --timeout for long runs")
        time.sleep(1.0)
    with tempfile.TemporaryDirectory() as tmp:
        adb.run("pull", remote, tmp)
        return (Path(tmp) / Path(remote).name).read_text()


def _via_benchmark_model(adb: Adb, binary: Path, artifacts: list[Path], cards: list,
                         options: ProfileOptions) -> list[Timing]:
    if any(c.format != "tflite" for c in cards):
        raise ConfigError(f"{binary.name} times TFLite artifacts; give tflite artifacts or ncnn's benchncnn")
    if "qnn" in options.delegates and options.qnn_delegate is None:
        raise ConfigError("--delegate qnn with benchmark_model needs --qnn-delegate libQnnTFLiteDelegate.so "
                          "(from Qualcomm's QAIRT SDK)")
    exe = _push_binary(adb, binary)
    flags = dict(BENCHMARK_MODEL_FLAGS)
    if options.qnn_delegate is not None:
        lib = Path(options.qnn_delegate)
        if not lib.is_file():
            raise ConfigError(f"--qnn-delegate {lib}: no such file")
        adb.run("push", str(lib), f"{REMOTE}/{lib.name}")
        flags["qnn"] = [f"--external_delegate_path={REMOTE}/{lib.name}", "--external_delegate_options=backend_type:htp"]
    timings = []
    for art, card in zip(artifacts, cards):
        model = f"{REMOTE}/{art.name}.tflite"
        adb.run("push", str(art / card.files["model"]), model)
        for delegate in options.delegates:
            cmd = [exe, f"--graph={model}", "--enable_op_profiling=true", f"--num_runs={options.runs}",
                   f"--num_threads={options.threads}", *flags[delegate]]
            out = adb.shell(f"cd {REMOTE} && LD_LIBRARY_PATH={REMOTE} " + " ".join(cmd) + " 2>&1", options.timeout)
            timings.append(parse_benchmark_model(out, art.name, delegate))
    return timings


def _via_benchncnn(adb: Adb, binary: Path, artifacts: list[Path], cards: list, options: ProfileOptions) -> list[Timing]:
    if any(c.format != "ncnn" for c in cards):
        raise ConfigError(f"{binary.name} times ncnn artifacts; give ncnn artifacts or LiteRT's benchmark_model")
    if set(options.delegates) - {"cpu", "gpu"}:
        raise ConfigError("benchncnn runs on cpu or gpu (Vulkan) only: use --delegate cpu,gpu")
    exe = _push_binary(adb, binary)
    timings = []
    for art, card in zip(artifacts, cards):
        param = f"{art.name}.param"
        adb.run("push", str(art / card.files["param"]), f"{REMOTE}/{param}")
        c, h, w = (card.input.shape[1:] if card.input.layout == "NCHW"
                   else (card.input.shape[3], card.input.shape[1], card.input.shape[2]))
        for delegate in options.delegates:
            gpu = 0 if delegate == "gpu" else -1
            out = adb.shell(f"cd {REMOTE} && {exe} {options.runs} {options.threads} 0 {gpu} 0 param={param} "
                            f"shape=[{w},{h},{c}] 2>&1", options.timeout)
            for t in parse_benchncnn(out, delegate):
                # an fp16 RTMPose keeps its SimCC head as a second net (fp32); benchncnn times one net
                t.model = art.name + (" (body; fp32 head net not timed)" if "head_param" in card.files else "")
                timings.append(t)
    return timings


def _push_binary(adb: Adb, binary: Path) -> str:
    adb.shell(f"mkdir -p {REMOTE}")
    adb.run("push", str(binary), f"{REMOTE}/{binary.name}")
    adb.shell(f"chmod +x {REMOTE}/{binary.name}")
    return f"{REMOTE}/{binary.name}"


def profile_hub(artifacts: list[Path], device_name: str, options: ProfileOptions) -> tuple[dict, list[Timing]]:
    """One AI Hub profile job per (artifact, delegate); waits with a progress line on stderr."""
    try:
        import qai_hub as hub
    except ImportError:
        raise BackendUnavailable('--hub needs the Qualcomm AI Hub client: pip install "edgepose[hub]", then '
                                 "`qai-hub configure --api_token TOKEN`") from None
    cards = _cards(artifacts)
    if any(c.format not in ("tflite", "onnx") for c in cards):
        raise ConfigError("AI Hub profiles TFLite or ONNX artifacts; convert with --target tflite or onnx")
    device = hub.Device(device_name)
    timings = []
    for art, card in zip(artifacts, cards):
        for delegate in options.delegates:
            job = _submit(hub, art / card.files["model"], device, f"--compute_unit {HUB_COMPUTE_UNIT[delegate]}",
                          f"edgepose {art.name} {delegate}")
            status = _wait(job, f"{art.name} {delegate}", options.timeout)
            if not status.success:
                raise EdgeposeError(f"AI Hub job {job.job_id} failed: {status.message}; see {job.url}")
            t = parse_hub_profile(job.download_profile(), art.name, delegate)
            t.notes["job_url"] = job.url
            timings.append(t)
    return {"hub_device": device_name}, timings


def _submit(hub, model: Path, device, options: str, name: str):
    try:
        return hub.submit_profile_job(model=str(model), device=device, name=name, options=options)
    except Exception as exc:  # noqa: BLE001 (the client's own errors: one line)
        raise EdgeposeError(f"AI Hub refused the profile job: {' '.join(str(exc).split())[:200]} "
                            "(check the device name with `qai-hub list-devices` and your token)") from exc


def _wait(job, label: str, timeout: float):
    """Poll the job until it ends: a progress line with state and elapsed time (stderr)."""
    start, spin, tty = time.monotonic(), "|/-\\", sys.stderr.isatty()
    last, i = None, 0
    while True:
        status = job.get_status()
        if status.finished:
            if tty:
                print(file=sys.stderr)
            return status
        state = getattr(status, "code", str(status))
        elapsed = time.monotonic() - start
        if elapsed > timeout:
            raise EdgeposeError(f"AI Hub job {job.job_id} still {state} after {timeout:.0f} s; see {job.url}")
        if tty:
            print(f"\r[hub] {label}: {state} {spin[i % 4]} {elapsed:.0f} s", end="", file=sys.stderr, flush=True)
        elif state != last:
            print(f"[hub] {label}: {state} ({elapsed:.0f} s)", file=sys.stderr, flush=True)
        last, i = state, i + 1
        time.sleep(2.0)
