"""Timings of `edgepose profile`: parsers for what the timing tools print (LiteRT `benchmark_model` with per-op
profiling, ncnn `benchncnn`, a Qualcomm AI Hub profile, the demo app's benchmark report) into one `Timing`,
and the table, JSON and plot made from them. Pure Python: no numpy, no device."""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edgepose.runtimes.errors import ConfigError, EdgeposeError


@dataclass
class Op:
    """One operator (or delegate partition): its time per inference, in ms."""
    name: str
    type: str
    ms: float
    unit: str | None = None        # AI Hub compute unit (CPU/GPU/NPU)


@dataclass
class Timing:
    """One model on one delegate. Times are per inference in ms; None = the tool did not report it."""
    model: str
    delegate: str
    tool: str                      # benchmark_model | benchncnn | app | hub
    runs: int | None = None
    avg_ms: float | None = None
    median_ms: float | None = None
    p90_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    ops: list[Op] = field(default_factory=list)   # slowest first
    stages_ms: dict[str, float] = field(default_factory=dict)   # the app's per-stage means
    detector_share: float | None = None           # the app: share of frames that ran the detector
    notes: dict = field(default_factory=dict)

    @property
    def latency_ms(self) -> float | None:
        """The headline number: the median when the tool gives one, else the mean."""
        return self.median_ms if self.median_ms is not None else self.avg_ms

    @property
    def fps(self) -> float | None:
        lat = self.latency_ms
        return None if not lat else 1000.0 / lat

    def to_json(self) -> dict:
        out = asdict(self)
        out["fps"] = self.fps
        return out


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default) of a non-empty list."""
    v = sorted(values)
    pos = (len(v) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


_PREFIX = re.compile(r"^(?:INFO|WARNING|VERBOSE):\s?")
_STAT = re.compile(r"count=(\d+)(?: first=\S+)?(?: curr=\S+)? min=(\S+) max=(\S+) avg=(\S+)")
_AVG = re.compile(r"Inference(?: \(avg\))?: ([\d.e+]+)")


def parse_benchmark_model(text: str, model: str, delegate: str) -> Timing:
    """LiteRT/TFLite `benchmark_model` output (old tab-separated or new `INFO:`-prefixed layout). Mean, min
    and max come from the regular runs' `count=... min=... max=... avg=...` line; the tool prints no
    percentiles. Ops come from the per-op "Run Order" table of the regular runs (not of initialization); an
    op's time is its `[avg ms]` times `[times called]`."""
    lines = [_PREFIX.sub("", line.rstrip("\n")) for line in text.splitlines()]
    t = Timing(model=model, delegate=delegate, tool="benchmark_model")
    runs = [m for line in lines if not line.startswith("Timings (microseconds)") and (m := _STAT.search(line))]
    profiled = [m for line in lines if line.startswith("Timings (microseconds)") and (m := _STAT.search(line))]
    stat = runs[-1] if runs else (profiled[-1] if profiled else None)
    if stat is not None:
        t.runs = int(stat[1])
        t.min_ms, t.max_ms, t.avg_ms = (float(stat[i]) / 1000 for i in (2, 3, 4))
    for line in lines:
        if "inference timings in us" in line.lower() and (m := _AVG.search(line)):
            t.avg_ms = float(m[1]) / 1000
    if t.avg_ms is None:
        raise EdgeposeError("benchmark_model printed no timings (no 'count=... avg=...' line); run it by hand "
                            "with the same flags to see why")
    t.ops = _run_order_ops(lines)
    return t


def _run_order_ops(lines: list[str]) -> list[Op]:
    section, ops, i = "run", [], 0
    while i < len(lines):
        line = lines[i]
        if "Profiling Info for Benchmark Initialization" in line:
            section = "init"
        elif "Operator-wise Profiling Info" in line:
            section = "run"
        elif "= Run Order =" in line and section == "run" and i + 1 < len(lines):
            cols = re.findall(r"\[([^\]]+)\]", lines[i + 1])
            numeric = cols[1:-1]
            row = re.compile(r"^\s*(.+?)\s+" + r"\s+".join([r"(-?[\d.]+%?)"] * len(numeric)) + r"\s+(.*\S)\s*$")
            i += 2
            while i < len(lines) and (m := row.match(lines[i])):
                values = dict(zip(numeric, m.groups()[1:-1]))
                calls = int(float(values.get("times called", "1")))
                avg = float(values["avg ms"]) * max(calls, 1)
                name = re.sub(r":\d+$", "", m[len(numeric) + 2]).strip("[]")
                ops.append(Op(name=name, type=m[1].strip(), ms=avg))
                i += 1
            return sorted(ops, key=lambda o: -o.ms)
        i += 1
    return ops


_NCNN_ROW = re.compile(r"^\s*(\S+)\s+min =\s*([\d.]+)\s+max =\s*([\d.]+)\s+avg =\s*([\d.]+)")


def parse_benchncnn(text: str, delegate: str) -> list[Timing]:
    """ncnn `benchncnn` output: one `NAME min = .. max = .. avg = ..` line per model (ms); loop_count = runs."""
    loops = re.search(r"loop_count = (\d+)", text)
    out = []
    for line in text.splitlines():
        if m := _NCNN_ROW.match(line):
            out.append(Timing(model=m[1], delegate=delegate, tool="benchncnn", runs=int(loops[1]) if loops else None,
                              min_ms=float(m[2]), max_ms=float(m[3]), avg_ms=float(m[4])))
    if not out:
        raise EdgeposeError("benchncnn printed no 'NAME min = .. max = .. avg = ..' line; run it by hand with the "
                            "same arguments to see why")
    return out


def parse_hub_profile(profile: dict, model: str, delegate: str) -> Timing:
    """A Qualcomm AI Hub profile (`ProfileJob.download_profile()`): times in µs; every run's time is in
    `all_inference_times`, ops (with their compute unit) in `execution_detail`."""
    summary = profile.get("execution_summary")
    if not isinstance(summary, dict):
        raise EdgeposeError("the AI Hub profile has no execution_summary; open the job page to see what failed")
    t = Timing(model=model, delegate=delegate, tool="hub")
    times = [float(v) / 1000 for v in summary.get("all_inference_times") or []]
    if times:
        t.runs, t.avg_ms = len(times), sum(times) / len(times)
        t.median_ms, t.p90_ms = percentile(times, 50), percentile(times, 90)
        t.min_ms, t.max_ms = min(times), max(times)
    elif summary.get("estimated_inference_time") is not None:
        t.avg_ms = float(summary["estimated_inference_time"]) / 1000
    else:
        raise EdgeposeError("the AI Hub profile has no inference times; open the job page to see what failed")
    if summary.get("estimated_inference_time") is not None:
        t.notes["hub_estimate_ms"] = float(summary["estimated_inference_time"]) / 1000
    if summary.get("estimated_inference_peak_memory") is not None:
        t.notes["peak_memory_mb"] = round(float(summary["estimated_inference_peak_memory"]) / 2**20, 1)
    units: dict[str, int] = {}
    for op in profile.get("execution_detail") or []:
        units[op.get("compute_unit", "?")] = units.get(op.get("compute_unit", "?"), 0) + 1
        if op.get("execution_time") is not None:
            t.ops.append(Op(name=str(op.get("name", "?")), type=str(op.get("type", "?")),
                            ms=float(op["execution_time"]) / 1000, unit=op.get("compute_unit")))
    t.ops.sort(key=lambda o: -o.ms)
    t.notes["layers_per_unit"] = units
    return t


def parse_app_report(report: dict, delegate: str) -> Timing:
    """The demo app's BenchmarkActivity report (android_demo/app, `frame_ms` and `stages_ms` in ms)."""
    if report.get("error"):
        raise EdgeposeError(f"the demo app's benchmark failed on the phone: {report['error']}")
    frame = report.get("frame_ms")
    if not isinstance(frame, dict) or "median" not in frame:
        raise EdgeposeError("the demo app's report has no frame_ms.median; update the app (android_demo/app)")
    return Timing(model=" + ".join(report.get("artifacts") or ["?"]), delegate=report.get("delegate", delegate),
                  tool="app", runs=report.get("frames"), avg_ms=frame.get("mean"), median_ms=frame["median"],
                  p90_ms=frame.get("p90"), min_ms=frame.get("min"), max_ms=frame.get("max"),
                  stages_ms=dict(report.get("stages_ms") or {}), detector_share=report.get("detector_share"))


def _cell(value: float | int | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_table(timings: list[Timing], device: dict, top: int = 10) -> str:
    """The report `edgepose profile` prints (docs/bench-profile.md)."""
    rows = [("model", "delegate", "tool", "runs", "median ms", "p90 ms", "mean ms", "min ms", "FPS")]
    for t in timings:
        rows.append((t.model, t.delegate, t.tool, _cell(t.runs, "d"), _cell(t.median_ms, ".2f"), _cell(t.p90_ms, ".2f"),
                     _cell(t.avg_ms, ".2f"), _cell(t.min_ms, ".2f"), _cell(t.fps, ".1f")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    desc = ", ".join(f"{k} {v}" for k, v in device.items() if v)
    out = [f"device: {desc}"]
    out += ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]
    for t in timings:
        if t.stages_ms:
            stages = ", ".join(f"{k} {v:.2f}" for k, v in t.stages_ms.items())
            share = "" if t.detector_share is None else f"; detector on {100 * t.detector_share:.0f}% of frames"
            out.append(f"\nstages ({t.model}, {t.delegate}), mean ms: {stages}{share}")
        if t.ops:
            total = sum(o.ms for o in t.ops)
            out.append(f"\nslowest ops ({t.model}, {t.delegate}):")
            for rank, op in enumerate(t.ops[:top], 1):
                unit = f" [{op.unit}]" if op.unit else ""
                out.append(f"  {rank:2d}. {op.ms:8.3f} ms {100 * op.ms / total if total else 0:5.1f}%  "
                           f"{op.type}{unit}  {op.name}")
    return "\n".join(out)


def write_plot(timings: list[Timing], path: str | Path) -> None:
    """Bar chart of latency (median, else mean) per model and delegate; needs matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("--plot needs matplotlib: pip install matplotlib (or drop --plot)") from None
    labels = [f"{t.model}\n{t.delegate}" for t in timings]
    values = [t.latency_ms or 0.0 for t in timings]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(timings)), 3.5))
    ax.bar(range(len(values)), values, color="#4c72b0")
    ax.set_xticks(range(len(values)), labels, fontsize=7)
    ax.set_ylabel("ms per inference (median, else mean)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
