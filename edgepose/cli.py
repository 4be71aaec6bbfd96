"""The `edgepose` command line: a thin layer over the Python API.

Exit codes: 0 success, 1 an edgepose error (one line on stderr; `--debug` shows the traceback),
2 a usage error (argparse), 130 interrupted.
"""
from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from edgepose.calibration.observers import METHODS
from edgepose.converters.options import FLOAT_PRECISIONS, MIN_OPSET, ConvertOptions
from edgepose.runtimes.card import FORMATS
from edgepose.runtimes.errors import ConfigError, EdgeposeError

EPILOG_CONVERT = """examples:
  edgepose convert rtmpose-t --target onnx --weights rtmpose-t.pth --output out/
  edgepose convert rtmdet-nano --weights rtmdet-nano.onnx --output out/   # import a BN-folded ONNX export
  edgepose convert rtmpose-s --output out/                               # downloads the official checkpoint
  edgepose convert my-detector.onnx --card-fields fields.json --target ncnn,tflite --output out/
  edgepose convert rtmpose-t --target tflite --int8 --calib person_keypoints.json --output out/
"""


def build_parser() -> argparse.ArgumentParser:
    from edgepose import __version__

    parser = argparse.ArgumentParser(
        prog="edgepose", description="Convert MMPose pose models into verified edge artifacts and run them.")
    parser.add_argument("--version", action="version", version=f"edgepose {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    d = ConvertOptions()   # every convert default below comes from here

    sub.add_parser("models", help="list the model zoo (names, input size, COCO AP, official checkpoint)",
                   description="List the models `edgepose convert` can build, with their official checkpoints.")

    convert = sub.add_parser(
        "convert", help="convert a zoo model into an artifact directory (model files + edgepose.json)",
        description="Build a zoo model in PyTorch, load its checkpoint, export it, check the export against "
                    "PyTorch and write <OUTPUT>/<model>-<target>-<precision>/ with the model files and "
                    "edgepose.json. Each artifact directory appears only once it is complete and verified; a failing "
                    "step leaves nothing of that artifact behind.",
        epilog=EPILOG_CONVERT, formatter_class=argparse.RawDescriptionHelpFormatter)
    allow_negative_numbers(convert)  # --verify-box -50,10,200,300
    convert.add_argument("model", metavar="MODEL",
                         help="zoo name, e.g. rtmpose-t (see `edgepose models`), or your own .onnx file "
                              "(then --card-fields is required)")
    convert.add_argument("--card-fields", metavar="JSON",
                         help="for an .onnx MODEL: what the file does not say (task, colour, mean/std, output roles, "
                              "decoder, keypoints); see docs/own-onnx.md")
    convert.add_argument("--target", default=d.targets, type=_choice_list(*FORMATS),
                         help=f"artifact format(s): {', '.join(FORMATS)}, comma-separated, or all "
                              f"(default: {','.join(d.targets)})")
    convert.add_argument("--precision", default=d.precisions, type=_choice_list(*FLOAT_PRECISIONS),
                         help=f"{', '.join(FLOAT_PRECISIONS)} (fp16: weights stored as float16), comma-separated, or "
                              f"all (default: {','.join(d.precisions)}); INT8: --int8")
    convert.add_argument("--weights", metavar="PATH_OR_URL",
                         help="checkpoint: an MMPose/MMDet .pth file or URL (http, https, file); for rtmdet-nano "
                              "also a BN-folded ONNX export. Default: download the official checkpoint "
                              "(sha256-checked) into $EDGEPOSE_CACHE or ~/.cache/edgepose")
    convert.add_argument("--output", "-o", metavar="DIR", required=True,
                         help="directory that receives the artifact directory (created if missing)")
    convert.add_argument("--opset", type=int, default=d.opset,
                         help=f"ONNX opset, {MIN_OPSET}..{d.opset} (default: {d.opset})")
    convert.add_argument("--verify-image", metavar="IMAGE",
                         help="verify on this real image instead of seeded noise (pose: the crop of --verify-box); "
                              "fp16 must then also keep keypoints within 0.5 px / boxes within 1 px")
    convert.add_argument("--verify-box", metavar="x1,y1,x2,y2", type=_box,
                         help="person box in --verify-image for pose models (default: the whole image)")
    convert.add_argument("--overwrite", action="store_true", help="replace existing artifact directories")
    convert.add_argument("--no-verify", dest="verify", action="store_false",
                         help="keep the artifact even if it disagrees with PyTorch (the card still says so)")
    convert.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")
    int8 = convert.add_argument_group(
        "INT8", "calibrate on real images, keep the most sensitive layers in float until --max-error holds, and "
                "report fidelity against fp32 on held-out images (written as <model>-<target>-int8)")
    int8.add_argument("--int8", action="store_true", help="also write an INT8 artifact per target")
    int8.add_argument("--calib", nargs="+", action="extend", metavar="PATH", default=[],
                      help="calibration data: image folders, COCO keypoint .json files (their person boxes are used "
                           "for pose models), videos (clip.mp4#0-635 takes frames 0..635 only); several allowed")
    int8.add_argument("--calib-det", metavar="DIR",
                      help="detector artifact that finds the people in --calib images/videos for pose models")
    int8.add_argument("--holdout", nargs="+", action="extend", metavar="PATH", default=[],
                      help="held-out data for the fidelity report (default: every 5th calibration sample)")
    int8.add_argument("--samples", type=int, default=d.samples, metavar="N",
                      help=f"calibration samples: images for detectors, person crops for pose (default {d.samples}; "
                           "fewer than 100 crops warns)")
    int8.add_argument("--max-error", type=_budget, default=d.max_error, metavar="PX",
                      help="error budget in input pixels (p95 keypoint shift, or p95 box-corner shift with no "
                           f"person lost and mean score drop ≤ 0.05); 'off' quantizes every layer "
                           f"(default {d.max_error})")
    int8.add_argument("--eval-coco", metavar="ANN.json",
                      help="also report COCO AP (keypoints for pose on its ground-truth boxes, person boxes for "
                           "detectors) of fp32 and INT8; needs pycocotools (edgepose[eval])")
    int8.add_argument("--images", metavar="DIR", help="image folder of --eval-coco (file_name is relative to it)")
    int8.add_argument("--method", choices=METHODS, default=d.method,
                      help=f"activation ranges: minmax, percentile (99.99 %%), entropy (ncnn's KL) "
                           f"(default {d.method})")
    _add_run_parser(sub)
    _add_bench_parser(sub)
    card = sub.add_parser(
        "card", help="wrap third-party model files (RTMDet-nano ONNX/NCNN, MoveNet TFLite) with a model card",
        description="Copy model files that edgepose did not convert into an artifact directory and write the "
                    "edgepose.json that the runtime needs to run them.")
    card.add_argument("kind", choices=["rtmdet-onnx", "rtmdet-ncnn", "movenet-tflite"],
                      help="what the files are: rtmdet-onnx (one .onnx), rtmdet-ncnn (.param and .bin), "
                           "movenet-tflite (one .tflite)")
    card.add_argument("files", nargs="+", metavar="FILE", help="the model file(s), in the order the kind lists")
    card.add_argument("--output", "-o", metavar="DIR", required=True, help="artifact directory to create")
    card.add_argument("--overwrite", action="store_true", help="replace DIR if it exists")
    _add_profile_parser(sub)
    return parser


def _add_profile_parser(sub) -> None:
    from edgepose.profile import DELEGATES, DESCRIPTION, ProfileOptions

    p = ProfileOptions()

    prof = sub.add_parser("profile", description=DESCRIPTION,
                          help="time artifacts on an Android phone (adb) or on Qualcomm AI Hub, per delegate")
    prof.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help="artifact directories (with edgepose.json)")
    where = prof.add_mutually_exclusive_group(required=True)
    where.add_argument("--adb", nargs="?", const="", metavar="SERIAL",
                       help="run on the phone adb sees (SERIAL when several are attached)")
    where.add_argument("--hub", metavar="DEVICE", help='Qualcomm AI Hub device name, e.g. "Samsung Galaxy S24 (Family)"; '
                                                       'needs pip install "edgepose[hub]"')
    prof.add_argument("--delegate", type=_choice_list(*DELEGATES), default=p.delegates,
                      help=f"cpu (XNNPACK), gpu, nnapi, qnn, comma-separated, or all (default: {','.join(p.delegates)})")
    prof.add_argument("--benchmark-binary", metavar="PATH",
                      help="android-arm64 benchmark_model (TFLite artifacts) or benchncnn (ncnn artifacts) instead "
                           "of the demo app")
    prof.add_argument("--qnn-delegate", metavar="PATH", help="libQnnTFLiteDelegate.so for benchmark_model --delegate qnn")
    prof.add_argument("--runs", type=int, default=p.runs, help=f"timed runs per model for the binaries (default {p.runs})")
    prof.add_argument("--threads", type=int, default=p.threads, help=f"CPU threads (default {p.threads})")
    prof.add_argument("--frames", type=int, default=p.frames,
                      help=f"frames for the demo app's benchmark (default {p.frames})")
    prof.add_argument("--timeout", type=float, default=p.timeout,
                      help=f"seconds to wait per run or job (default {p.timeout:g})")
    prof.add_argument("--json", metavar="OUT.json", help="write device, timings and ops as JSON")
    prof.add_argument("--overwrite", action="store_true", help="replace an existing --json or --plot file")
    prof.add_argument("--plot", metavar="OUT.png", help="bar chart of latency per model and delegate (matplotlib)")


def _add_bench_parser(sub) -> None:
    from edgepose.runtimes.bench import BenchOptions

    b = BenchOptions()
    bench = sub.add_parser(
        "bench", help="measure artifacts on this machine: latency per thread count, batch, pipeline FPS",
        description="Time each artifact through the runtime an app would use (median and p90 of --runs calls on "
                    "seeded noise; pose models also on a batch of crops), and with --source the whole pipeline "
                    "(detector every 5 frames + tracker + pose) per thread count. Prints the machine it ran on "
                    "(CPU, cores, Pi / Jetson model, fp16 and dot-product support) and a table; --json and "
                    "--plot keep them.",
        epilog="example:\n  edgepose bench out/ det/ --threads 1,2,4 --source clip.mp4 --json pi5.json --plot pi5.png",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help="artifact folders, or folders of them")
    bench.add_argument("--threads", type=_int_list, default=b.threads, metavar="N[,N...]",
                       help=f"thread counts to measure (default {','.join(map(str, b.threads))})")
    bench.add_argument("--device", default=b.device, metavar="DEVICE",
                       help=f"accelerator, as for `edgepose run` (default {b.device}); the table says what ran")
    bench.add_argument("--runs", type=int, default=b.runs, metavar="N",
                       help=f"timed calls per measurement (default {b.runs})")
    bench.add_argument("--batch", type=int, default=b.batch, metavar="N",
                       help=f"crops per call for the pose-model batch row (default {b.batch}; 1 = no batch row)")
    bench.add_argument("--source", metavar="VIDEO", help="also run the pipeline on this video or image folder")
    bench.add_argument("--frames", type=int, default=b.frames, metavar="N", help=f"pipeline frames (default {b.frames})")
    bench.add_argument("--json", metavar="OUT.json", help="write the results and the machine description as JSON")
    bench.add_argument("--overwrite", action="store_true", help="replace an existing --json or --plot file")
    bench.add_argument("--plot", metavar="OUT.png", help="bar chart of the latencies (needs matplotlib)")
    bench.add_argument("--no-progress", dest="progress", action="store_false", help="do not say what runs")


def _int_list(text: str) -> tuple[int, ...]:
    """argparse type: '1,2,4' → (1, 2, 4), each ≥ 1."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of counts ≥ 1")
    return values


def _add_run_parser(sub) -> None:
    from edgepose.runtimes.pipeline import DET_SCORE
    from edgepose.runtimes.tracker import TrackerConfig

    d = TrackerConfig()
    run = sub.add_parser(
        "run", help="run a pose artifact (with a detector or fixed boxes) on images, a video or a camera",
        description="Top-down pose estimation. With --det the detector runs every --det-interval frames and "
                    "people are tracked with persistent ids in between; with --boxes the given boxes are "
                    "posed on every frame. Outputs are checked before any work and appear only when the source "
                    "is done or Ctrl-C stops the run (the current frame is finished; exit 130).")
    allow_negative_numbers(run)
    run.add_argument("--pose", required=True, metavar="DIR", help="pose artifact directory (with edgepose.json)")
    run.add_argument("--det", metavar="DIR", help="detector artifact directory (RTMDet)")
    run.add_argument("--boxes", metavar="'x1,y1,x2,y2;...'",
                     help="fixed person boxes in image pixels (may be negative), instead of --det")
    run.add_argument("--source", required=True, help="image file, folder of images, video file or camera index")
    run.add_argument("--det-interval", type=int, default=d.det_interval, metavar="N",
                     help=f"run the detector every N frames (default {d.det_interval}; 1 = every frame)")
    run.add_argument("--det-score", type=float, default=DET_SCORE,
                     help=f"least person score kept from the detector (default {DET_SCORE})")
    run.add_argument("--kpt-threshold", type=float, default=d.kpt_threshold,
                     help=f"keypoint score counted as confident for tracking and drawing (default {d.kpt_threshold})")
    run.add_argument("--smooth", action="store_true", help="One-Euro smoothing of keypoints and boxes")
    run.add_argument("--flip-test", action="store_true", help="average with the horizontally flipped crop (2x pose cost)")
    run.add_argument("--threads", type=int, metavar="N",
                     help="CPU threads per backend (default: the idle physical cores; at most the CPUs present)")
    run.add_argument("--ncnn-fp16", action=argparse.BooleanOptionalAction, default=None,
                     help="ncnn: fp16 storage and arithmetic. Default: on for edgepose fp16 artifacts of fp16-safe "
                          "models (RTMPose; its head stays fp32) on CPUs with fp16 arithmetic (Pi 5, Jetson Orin), "
                          "off otherwise; --no-ncnn-fp16 keeps fp32 (docs/arm-boards.md)")
    run.add_argument("--async", dest="async_mode", choices=["auto", "on", "off"], default="auto",
                     help="video: run the detector on the next frame in a second thread while the pose model runs "
                          "(same results, sooner on multi-core CPUs); auto = on with 4 or more physical cores")
    run.add_argument("--device", default="cpu", metavar="DEVICE",
                     help="accelerator: cpu (default); onnx: cuda, tensorrt, xnnpack, coreml, qnn, nnapi, openvino, "
                          "dml; tflite: gpu, delegate:/path/lib.so; ncnn: vulkan. Refused if not installed")
    run.add_argument("--json", metavar="OUT.jsonl", help="write one JSON line per frame")
    run.add_argument("--out", metavar="OUT.mp4|DIR",
                     help="draw skeletons and ids: for a video or camera a video file (.mp4, .mov, .avi or .mkv); "
                          "for images a new folder with one annotated image per input (one image: also an "
                          "image file)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing --json or --out file")
    run.add_argument("--show", action="store_true",
                     help="show frames in a window (q or Esc stops); needs opencv-python, not the headless build")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")


def allow_negative_numbers(parser: argparse.ArgumentParser) -> None:
    """Let option values start with a minus sign and a digit (`--boxes -50,10,200,300`, `--verify-box -5,...`):
    argparse otherwise reads anything like '-50,10' as an unknown option. Safe while `parser` has no option
    spelled like a negative number."""
    if parser._has_negative_number_optionals:
        raise ValueError(f"{parser.prog} has options that look like negative numbers")
    parser._negative_number_matcher = re.compile(r"^-\.?\d")


def _choice_list(*choices: str):
    """argparse type: 'a,b' or 'all' → a tuple of known choices (usage error otherwise)."""
    def parse(text: str) -> tuple[str, ...]:
        items = list(choices) if text == "all" else [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(choices)} or all")
        return tuple(dict.fromkeys(items))
    return parse


def _budget(text: str) -> float | None:
    if text.lower() in ("off", "none"):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of pixels or 'off'") from None


def _box(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"{text!r} is not x1,y1,x2,y2")
    return values  # type: ignore[return-value]


def cmd_models(_: argparse.Namespace) -> int:
    from edgepose.converters.zoo import ZOO

    rows = [("name", "task", "input (HxW)", "COCO AP", "sha256", "official checkpoint")]
    for spec in ZOO.values():
        rows.append((spec.name, spec.task, "x".join(map(str, spec.input_hw)), f"{spec.ap:.3f}", spec.sha256_prefix,
                     spec.url.rsplit("/", 1)[-1]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print("\nAP: pose models on COCO val2017 as MMPose reports them; rtmdet-nano: person box AP.")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from edgepose.converters.convert import ConversionReport, ConvertOptions, convert
    from edgepose.runtimes.errors import ConversionIncomplete

    from .supervise import state_dir

    precisions = args.precision + (("int8",) if args.int8 else ())
    options = ConvertOptions(targets=args.target, precisions=precisions, opset=args.opset, verify=args.verify,
                             verify_image=args.verify_image, verify_box=args.verify_box, overwrite=args.overwrite,
                             progress=args.progress, calib=tuple(args.calib), calib_det=args.calib_det,
                             holdout=tuple(args.holdout), samples=args.samples, max_error=args.max_error,
                             method=args.method, eval_coco=args.eval_coco, eval_images=args.images)
    state = state_dir()
    report = ConversionReport([], path=None if state is None else state / "report.json")
    try:
        if args.model.lower().endswith(".onnx"):
            from edgepose.converters.convert_onnx import convert_onnx

            if args.card_fields is None:
                raise ConfigError(f"{args.model} is an ONNX file: pass --card-fields FIELDS.json "
                                  "(docs/own-onnx.md)")
            if args.weights is not None:
                raise ConfigError("--weights does not apply to an ONNX MODEL: the file carries its weights")
            written = convert_onnx(args.model, args.output, args.card_fields, options, report)
        elif args.card_fields is not None:
            raise ConfigError("--card-fields applies only when MODEL is an .onnx file; zoo models have their card")
        else:
            written = convert(args.model, args.output, args.weights, options, report)
    except ConversionIncomplete as exc:
        _print_written(exc.written)
        raise
    _print_written(written)
    return 0


def _print_written(paths) -> None:
    from edgepose.runtimes.card import load_card

    for path in paths:
        card = load_card(path)
        size = sum(f.stat().st_size for f in path.iterdir()) / 1e6
        check = card.verification
        if card.precision == "int8":
            from edgepose.converters.convert_int8 import fidelity_table

            print(f"wrote {path} ({size:.1f} MB); INT8\n{fidelity_table(card)}")
            continue
        status = "not verified" if check is None else (
            ("verified" if check["passed"] else "FAILED verification (kept: --no-verify)") + f": {check['summary']}")
        print(f"wrote {path} ({size:.1f} MB); {status}")


def cmd_run(args: argparse.Namespace) -> int:
    from edgepose.runtimes.backends import BackendOptions
    from edgepose.runtimes.detector import Detector
    from edgepose.runtimes.draw import check_display
    from edgepose.runtimes.pipeline import Pipeline
    from edgepose.runtimes.pose import PoseModel
    from edgepose.runtimes.runner import parse_boxes, plan_outputs, run_stream
    from edgepose.runtimes.sources import FrameSource
    from edgepose.runtimes.third_party import model_load_errors
    from edgepose.runtimes.tracker import TrackerConfig

    if (args.det is None) == (args.boxes is None):
        raise ConfigError("give exactly one of --det DIR (a detector) or --boxes 'x1,y1,x2,y2;...'")
    if args.show:
        check_display()
    options = BackendOptions(threads=args.threads, device=args.device, ncnn_fp16=args.ncnn_fp16)
    config = TrackerConfig(det_interval=args.det_interval, kpt_threshold=args.kpt_threshold, smooth=args.smooth)
    boxes = parse_boxes(args.boxes) if args.boxes else None
    source = FrameSource(args.source)
    plan_outputs(args.json, args.out, source, args.overwrite)  # every output is checked before models load
    config = TrackerConfig(**{**config.__dict__, "fps": source.fps})
    with model_load_errors(f"--pose {args.pose}"):
        pose = PoseModel(args.pose, options, flip_test=args.flip_test)
    detector = None
    if args.det:
        with model_load_errors(f"--det {args.det}"):
            detector = Detector(args.det, options)
    pipeline = Pipeline(pose, detector, boxes, config, det_score=args.det_score)
    from edgepose.runtimes.board import physical_cores

    prefetch = detector is not None and (args.async_mode == "on" or (args.async_mode == "auto"
                                                                     and physical_cores() >= 4))
    summary = run_stream(pipeline, source, args.json, args.out, args.show, args.progress, prefetch, args.overwrite)
    _print_run_summary(summary, pipeline)
    if prefetch and source.is_video:
        print("detector ran on the next frame in parallel with the pose model (--async)")
    if summary.interrupted:
        wrote = f"wrote {', '.join(map(str, summary.written))}" if summary.written else "no outputs asked for"
        print(f"edgepose: interrupted after {summary.frames} frames; {wrote}", file=sys.stderr)
        return 130
    for path in summary.written:
        print(f"wrote {path}")
    return 0


def _print_run_summary(summary, pipeline) -> None:
    """One stdout line: frames, skipped images, detector share, FPS, threads used, ms per frame by stage."""
    stages = ", ".join(f"{k} {v:.1f}" for k, v in summary.stage_ms.items())
    n = len(summary.skipped)
    skipped = f" ({n} unreadable image{'s' if n != 1 else ''} skipped)" if n else ""
    early = f" (video ended early: header lists {summary.expected})" if summary.expected else ""
    threads = f"pose {pipeline.pose.backend.threads}" + (
        f", det {pipeline.detector.backend.threads}" if pipeline.detector is not None else "")
    devices = {pipeline.pose.backend.device} | ({pipeline.detector.backend.device} if pipeline.detector else set())
    print(f"{summary.frames} frames{skipped}{early}, detector on {summary.detector_frames} "
          f"({100 * summary.detector_frames / max(summary.frames, 1):.0f}%), {summary.fps:.1f} FPS; "
          f"threads: {threads}; device: {', '.join(sorted(devices))}; ms/frame: {stages}")


def cmd_bench(args: argparse.Namespace) -> int:
    from edgepose.runtimes.atomic import check_output_file
    from edgepose.runtimes.bench import BenchOptions, format_report, plot_report, run_bench

    if args.runs < 1 or args.batch < 1 or args.frames < 1:
        raise ConfigError("--runs, --batch and --frames must be ≥ 1")
    for path, flag in ((args.json, "--json"), (args.plot, "--plot")):
        if path:
            check_output_file(path, flag, args.overwrite)
    if args.plot:
        import importlib.util
        if importlib.util.find_spec("matplotlib") is None:
            raise ConfigError('--plot needs matplotlib: pip install "edgepose[plot]"')
    say = (lambda text: print(f"  {text}", file=sys.stderr, flush=True)) if args.progress else None
    options = BenchOptions(threads=tuple(args.threads), runs=args.runs, batch=args.batch, source=args.source,
                           frames=args.frames, device=args.device)
    report = run_bench([Path(p) for p in args.artifacts], options, say)
    print(format_report(report))
    if args.json:
        report.save_json(Path(args.json))
        print(f"wrote {args.json}")
    if args.plot:
        plot_report(report, Path(args.plot))
        print(f"wrote {args.plot}")
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from edgepose.runtimes.third_party import wrap

    print(f"wrote {wrap(args.kind, args.files, args.output, args.overwrite)}")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from edgepose.profile import ProfileOptions, profile_adb, profile_hub
    from edgepose.profile_parsers import format_table, write_plot
    from edgepose.runtimes.atomic import check_output_file

    for path, flag in ((args.json, "--json"), (args.plot, "--plot")):
        if path:
            check_output_file(path, flag, args.overwrite)
    if min(args.runs, args.threads, args.frames) < 1 or args.timeout <= 0:
        raise ConfigError("--runs, --threads, --frames and --timeout must be positive")
    options = ProfileOptions(delegates=args.delegate, benchmark_binary=args.benchmark_binary,
                             qnn_delegate=args.qnn_delegate, runs=args.runs, threads=args.threads,
                             frames=args.frames, timeout=args.timeout)
    artifacts = [Path(a) for a in args.artifacts]
    if args.hub is not None:
        device, timings = profile_hub(artifacts, args.hub, options)
    else:
        device, timings = profile_adb(artifacts, args.adb, options)
    print(format_table(timings, device))
    if args.json:
        import json

        Path(args.json).write_text(json.dumps({"device": device, "results": [t.to_json() for t in timings]}, indent=2))
        print(f"wrote {args.json}")
    if args.plot:
        write_plot(timings, args.plot)
        print(f"wrote {args.plot}")
    return 0


COMMANDS = {"models": cmd_models, "convert": cmd_convert, "run": cmd_run, "card": cmd_card, "bench": cmd_bench,
            "profile": cmd_profile}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(message)s")
    if not args.debug:   # OpenCV's own "[ WARN ]" lines (a camera it cannot open, ...) precede our one-line errors
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    from .supervise import print_interrupted, state_dir, supervise

    if args.command == "convert" and state_dir() is None:
        return supervise(argv, Path(args.output))
    try:
        return COMMANDS[args.command](args)
    except EdgeposeError as exc:
        if args.debug:
            raise
        print(f"edgepose: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        if hasattr(exc, "written"):  # a conversion: say what stays on disk
            print_interrupted({"written": [str(p) for p in exc.written],
                               "not_written": {str(k): v for k, v in exc.not_written.items()}})
        else:
            print("edgepose: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 (a bug: one line, the traceback with --debug)
        if args.debug:
            raise
        print(f"edgepose: internal error ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
              "re-run with --debug for the traceback and report it", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
