"""Keypoint drift of an ncnn RTMPose artifact with fp16 arithmetic on an emulated fp16 CPU, against fp32 on
this machine: the numbers behind the "ncnn fp16" rows of docs/convert.md.

    python benchmarks/ncnn_fp16_emulated.py FP32_ARTIFACT FP16_ARTIFACT [--images 6] [--scales 1 10 100]
        [--cpu cortex-a76] [--fp16 default|on]

Crops: up to 2 ground-truth persons of each of the first N images of ../shared/data/combined_coco17_gt.json;
each network input is also scaled ×10 / ×100 to stress the fp16 range. The fp16 artifact runs under
`qemu-aarch64-static -cpu CPU` with the aarch64 sysroot of .ci/aarch64_sysroot.sh (.arm/sysroot), with the
runtime's default options (`--fp16 on` forces fp16 on, e.g. for an fp32 artifact: the whole net in fp16).
Emulation checks arithmetic, not speed: it prints no timings. A measurement, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGEPOSE_SHARED", REPO.parent / "shared"))
SYSROOT = REPO / ".arm" / "sysroot"
WORKER = REPO / "tests" / "aarch64" / "fp16_worker.py"


def crops(images: int) -> list[list]:
    data = json.loads((SHARED / "data" / "combined_coco17_gt.json").read_text())
    jobs = []
    for image in data["images"][:images]:
        boxes = [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                 for a in data["annotations"] if a["image_id"] == image["id"]][:2]
        if boxes:
            jobs.append([str(SHARED / "data" / image["file_name"]), boxes])
    return jobs


def run(artifact: Path, images: list, scales: list[int], options: dict, cpu: str | None, folder: Path) -> dict:
    job, out = folder / f"{artifact.name}.json", folder / f"{artifact.name}.npz"
    job.write_text(json.dumps({"pose": [str(artifact)], "images": images, "scales": scales, "options": options}))
    command = [sys.executable, str(WORKER), str(job), str(out)]
    env = dict(os.environ)
    if cpu is not None:
        qemu = shutil.which("qemu-aarch64-static")
        if qemu is None or not (SYSROOT / "site" / ".complete").exists():
            sys.exit("needs qemu-aarch64-static and the aarch64 sysroot: bash .ci/aarch64_sysroot.sh")
        command = [qemu, "-cpu", cpu, "-L", str(SYSROOT), str(SYSROOT / "usr" / "bin" / "python3.11"), *command[1:]]
        env["PYTHONPATH"] = os.pathsep.join([str(SYSROOT / "site"), str(REPO)])
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder)
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    return dict(np.load(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fp32", type=Path, help="the fp32 ncnn artifact (run here, the reference)")
    parser.add_argument("fp16", type=Path, help="the ncnn artifact to run emulated")
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--cpu", default="cortex-a76", help="qemu CPU with fp16 arithmetic (default cortex-a76)")
    parser.add_argument("--fp16", choices=["default", "on"], default="default")
    args = parser.parse_args()
    images = crops(args.images)
    options = {"threads": 1, **({"ncnn_fp16": True} if args.fp16 == "on" else {})}
    with tempfile.TemporaryDirectory() as folder:
        ref = run(args.fp32.resolve(), images, args.scales, {"threads": 1}, None, Path(folder))
        got = run(args.fp16.resolve(), images, args.scales, options, args.cpu, Path(folder))
    print(f"{args.fp16.name} on emulated {args.cpu}, fp16 arithmetic {'on' if got['pose|fp16'] else 'off'}, "
          f"vs {args.fp32.name} here\n")
    print("| input scale | crops | max raw diff | keypoints mean px | max px | within 0.5 px | max px at score ≥ 0.4 |")
    print("|---|---|---|---|---|---|---|")
    for scale in args.scales:
        px = np.abs(got[f"pose|{scale}|keypoints"] - ref[f"pose|{scale}|keypoints"]).max(-1)
        raw = max(float(np.abs(got[k] - ref[k]).max()) for k in ref if k.startswith(f"pose|{scale}|raw"))
        confident = ref[f"pose|{scale}|scores"] >= 0.4
        print(f"| ×{scale} | {px.shape[0]} | {raw:.3g} | {px.mean():.2f} | {px.max():.1f} | {(px <= 0.5).mean():.0%} | "
              f"{px[confident].max(initial=0):.2f} |")


if __name__ == "__main__":
    main()
