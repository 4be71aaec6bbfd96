"""Planted one-line bugs in the Android demo's Java core, each run against its JUnit tests (.ci/java.sh): the
mutation check for the Java side, where PIT cannot be installed from the package sources this project reaches.

    python benchmarks/java_planted_bugs.py [--list]

Each bug is applied to a temporary copy of android_demo/ and .ci/ (the checkout is never touched); a bug is
caught when the JUnit run fails. Every bug must still compile (a compile error would count as caught for the
wrong reason: the script checks that javac succeeded). Prints one row per bug and the share caught. A
measurement for docs/mutation.md, not a test; about 10 s per bug.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORE = Path("android_demo/core/src/main/java/org/edgepose/core")
BUGS = [  # (file, original line part, planted replacement, what it breaks)
    ("PoseDecoders.java", "int xs = shift && x > 0 ? x - 1 : x;", "int xs = shift && x < w - 1 ? x + 1 : x;",
     "heatmap flip test shifts the wrong way"),
    ("PoseDecoders.java", "Math.min(mx, my)", "Math.max(mx, my)", "SimCC score is the larger maximum"),
    ("PoseDecoders.java", "boolean off = score <= 0;", "boolean off = score < 0;", "zero-score keypoints placed"),
    ("PoseDecoders.java", "f = 1.0f - f;", "f = -f;", "MoveNet flip mirrors x about 0"),
    ("Tracker.java", "detectNext = detBoxes == null && (lost || current.size() < lastConfident);",
     "detectNext = lost || current.size() < lastConfident;", "detect-next rule also after a detector frame"),
    ("Tracker.java", "/ (config.boxExpand * config.boxExpand);", "/ config.boxExpand;",
     "duplicate OKS area ignores the box expansion squared"),
    ("Tracker.java", "boolean due = frameIndex % config.detInterval == 0;",
     "boolean due = frameIndex % config.detInterval == 1;", "detector schedule off by one"),
    ("Tracker.java", "if (n < 2) {", "if (n < 1) {", "a keypoint box from one keypoint"),
    ("Tracker.java", "lost |= followed.contains(t.id);", "lost |= !followed.contains(t.id);",
     "a waiting track counts as lost"),
    ("Tracker.java", "if (t.state == Track.State.ACTIVE || reported.contains(t.id)) {",
     "if (t.state == Track.State.ACTIVE) {", "detected persons with few keypoints dropped"),
    ("Boxes.java", "if (iou(boxes[i], boxes[r]) <= iouThreshold) {", "if (iou(boxes[i], boxes[r]) < iouThreshold) {",
     "NMS suppresses a box exactly at the threshold"),
    ("RtmdetDecoder.java", "if (!(bestScore > scoreThreshold)) {", "if (!(bestScore >= scoreThreshold)) {",
     "detector keeps a score exactly at the threshold"),
    ("Warp.java", "int newW = (int) (image.width * scale + 0.5)", "int newW = (int) (image.width * scale)",
     "letterbox width truncated instead of rounded"),
    ("Affine.java", "float cx = (x1 + x2) * 0.5f, cy = (y1 + y2) * 0.5f;",
     "float cx = (x1 + x2) * 0.5f, cy = (y1 + y1) * 0.5f;", "crop centre's y from one edge"),
    ("OneEuroFilter.java", "double tau = 1.0 / (2 * Math.PI * cutoff);", "double tau = 1.0 / (Math.PI * cutoff);",
     "smoothing cutoff halved"),
    ("ModelCard.java", "if (!(v >= 1e-3f && v <= 1e6f)) {", "if (!(v >= 0 && v <= 1e6f)) {",
     "card accepts std 0 (pixels divided by zero)"),
]


def run_java(root: Path, build: Path) -> tuple[int, str]:
    env = {**os.environ, "JAVA_BUILD_DIR": str(build)}
    done = subprocess.run(["bash", str(root / ".ci" / "java.sh")], cwd=root, env=env, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the bugs and exit")
    args = parser.parse_args()
    if args.list:
        for file, _, _, what in BUGS:
            print(f"{file}: {what}")
        return
    with tempfile.TemporaryDirectory(prefix="edgepose-java-bugs-") as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "android_demo", root / "android_demo", ignore=shutil.ignore_patterns("build"))
        shutil.copytree(REPO / ".ci", root / ".ci")
        code, out = run_java(root, root / "build")
        if code != 0:
            sys.exit(f"the Java core fails without any planted bug:\n{out[-2000:]}")
        print("| file | planted bug | caught |\n|---|---|---|")
        caught = 0
        for file, old, new, what in BUGS:
            path = root / CORE / file
            source = path.read_text()
            if source.count(old) != 1:
                sys.exit(f"{file}: {old!r} is not in the source exactly once; update the bug list")
            path.write_text(source.replace(old, new))
            try:
                code, out = run_java(root, root / "build")
            finally:
                path.write_text(source)
            result = re.search(r"(\d+) passed, (\d+) failed", out)
            if result is None:
                sys.exit(f"{file}: with the planted bug ({what}) no test ran (does it compile?):\n{out[-1500:]}")
            found = int(result[2]) > 0
            caught += found
            print(f"| {file} | {what} | {'yes' if found else 'NO'} |", flush=True)
        print(f"\n{caught} of {len(BUGS)} caught ({caught / len(BUGS):.0%})")


if __name__ == "__main__":
    main()
