"""What machine a benchmark ran on: CPU, cores, board model (Raspberry Pi device tree, Jetson release file),
the ARM features that decide which fast paths exist (fp16 arithmetic, dot product), and backend versions."""
from __future__ import annotations

import os
import platform
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

# ARM part numbers (/proc/cpuinfo "CPU part", implementer 0x41) of the cores edge boards use.
ARM_PARTS = {"0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
             "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76",
             "0xd0c": "Neoverse-N1", "0xd0d": "Cortex-A77", "0xd41": "Cortex-A78", "0xd42": "Cortex-A78AE",
             "0xd44": "Cortex-X1", "0xd46": "Cortex-A510", "0xd47": "Cortex-A710", "0xd48": "Cortex-X2",
             "0xd4d": "Cortex-A715", "0xd4e": "Cortex-X3"}


@dataclass(frozen=True)
class Board:
    machine: str                     # platform.machine(): x86_64, aarch64, ...
    cpu: str                         # CPU model name, or the ARM core names
    logical_cores: int
    physical_cores: int
    model: str | None = None         # /proc/device-tree/model (Raspberry Pi, Jetson, most ARM boards)
    jetson_release: str | None = None  # first line of /etc/nv_tegra_release (JetPack's L4T version)
    fp16_arithmetic: bool = False    # ARMv8.2 half-precision arithmetic (cpuinfo "asimdhp"): ncnn's fp16 path
    dot_product: bool = False        # ARMv8.2 dot product ("asimddp"): faster int8
    system: str = ""
    python: str = ""
    backends: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        parts = [self.model or self.cpu, f"{self.physical_cores} cores"]
        if self.machine in ("aarch64", "arm64"):
            yes = {True: "yes", False: "no"}
            parts.append(f"fp16 {yes[self.fp16_arithmetic]}, dotprod {yes[self.dot_product]}")
        if self.jetson_release:
            parts.append(self.jetson_release)
        return f"{', '.join(parts)} ({self.machine}, {self.system}, Python {self.python})"


def describe(root: Path = Path("/")) -> Board:
    """The board this process runs on (`root` lets tests read a recorded /proc and /etc)."""
    cpuinfo = _read(root / "proc" / "cpuinfo") or ""
    listed = re.search(r"^(?:Features|flags)\s*:\s*(.*)$", cpuinfo, re.M)
    features = set(listed.group(1).split()) if listed else set()
    model = _read(root / "proc" / "device-tree" / "model")
    jetson = _read(root / "etc" / "nv_tegra_release")
    return Board(machine=platform.machine(), cpu=_cpu_name(cpuinfo), logical_cores=os.cpu_count() or 1,
                 physical_cores=physical_cores(), model=model.strip("\x00 \n") if model else None,
                 jetson_release=jetson.splitlines()[0].strip("# ") if jetson else None,
                 fp16_arithmetic="asimdhp" in features, dot_product="asimddp" in features,
                 system=f"{platform.system()} {platform.release()}", python=platform.python_version(),
                 backends=backend_versions())


def physical_cores() -> int:
    """Physical cores among the CPUs this process may run on (hyper-threads counted once); ≥ 1."""
    try:
        cpus = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(((topology / "physical_package_id").read_text().strip(),
                       (topology / "core_id").read_text().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))
    return max(1, len(cores))


def usable_cpus() -> int:
    """Logical CPUs this process may run on; ≥ 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def free_cores() -> int:
    """Physical cores not already busy: the physical cores less the 1-minute load average (rounded), at least 1.
    A thread team larger than the idle cores waits at every layer for threads the OS has parked: beside two busy
    processes the README's run example (ncnn detector) ran at 2.6 FPS with two threads, 21.1 FPS with one."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return max(1, physical_cores() - int(load + 0.5))


def backend_versions() -> dict[str, str]:
    """Versions of the installed inference runtimes (those that import)."""
    versions = {}
    for name, module in (("onnxruntime", "onnxruntime"), ("ai-edge-litert", "ai_edge_litert"), ("ncnn", "ncnn"),
                         ("opencv", "cv2"), ("numpy", "numpy")):
        try:
            versions[name] = str(getattr(__import__(module), "__version__", "installed"))
        except ImportError:
            continue
    return versions


def _cpu_name(cpuinfo: str) -> str:
    named = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    if named:
        return named.group(1).strip()
    parts = re.findall(r"^CPU part\s*:\s*(0x[0-9a-f]+)", cpuinfo, re.M)
    if parts:
        counts: dict[str, int] = {}
        for part in parts:
            name = ARM_PARTS.get(part, f"ARM part {part}")
            counts[name] = counts.get(name, 0) + 1
        return " + ".join(f"{n}x {name}" for name, n in counts.items())
    return platform.processor() or platform.machine()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None
