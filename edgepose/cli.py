"""The `edgepose` command line: a thin layer over the Python API.

Exit codes: 0 success, 1 an edgepose error (one line on stderr; `--debug` shows the traceback),
2 a usage error (argparse), 130 interrupted.
"""
from __future__ import annotations

import argparse
import logging
import sys

from edgepose.runtimes.errors import EdgeposeError

EPILOG_CONVERT = """examples:
  edgepose convert rtmpose-t --target onnx --weights rtmpose-t.pth --output out/
  edgepose convert rtmdet-nano --weights rtmdet-nano.onnx --output out/   # import a BN-folded ONNX export
  edgepose convert rtmpose-s --output out/                               # downloads the official checkpoint
"""


def build_parser() -> argparse.ArgumentParser:
    from edgepose import __version__

    parser = argparse.ArgumentParser(
        prog="edgepose", description="Convert MMPose pose models into verified edge artifacts and run them.")
    parser.add_argument("--version", action="version", version=f"edgepose {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("models", help="list the model zoo (names, input size, COCO AP, official checkpoint)",
                   description="List the models `edgepose convert` can build, with their official checkpoints.")

    convert = sub.add_parser(
        "convert", help="convert a zoo model into an artifact directory (model files + edgepose.json)",
        description="Build a zoo model in PyTorch, load its checkpoint, export it, check the export against "
                    "PyTorch and write <OUTPUT>/<model>-<target>-<precision>/ with the model files and "
                    "edgepose.json. Nothing is written if any step fails.",
        epilog=EPILOG_CONVERT, formatter_class=argparse.RawDescriptionHelpFormatter)
    convert.add_argument("model", metavar="MODEL", help="zoo name, e.g. rtmpose-t (see `edgepose models`)")
    convert.add_argument("--target", default="onnx", choices=["onnx"],
                         help="artifact format (default: onnx)")
    convert.add_argument("--precision", default="fp32", choices=["fp32"], help="weight precision (default: fp32)")
    convert.add_argument("--weights", metavar="PATH_OR_URL",
                         help="checkpoint: an MMPose/MMDet .pth file or URL (http, https, file); for rtmdet-nano "
                              "also a BN-folded ONNX export. Default: download the official checkpoint "
                              "(sha256-checked) into $EDGEPOSE_CACHE or ~/.cache/edgepose")
    convert.add_argument("--output", "-o", metavar="DIR", required=True,
                         help="directory that receives the artifact directory (created if missing)")
    convert.add_argument("--opset", type=int, default=17, help="ONNX opset, 13..17 (default: 17)")
    convert.add_argument("--overwrite", action="store_true", help="replace an existing artifact directory")
    convert.add_argument("--no-verify", dest="verify", action="store_false",
                         help="keep the artifact even if it disagrees with PyTorch (the card still says so)")
    convert.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")
    return parser


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
    from edgepose.converters.convert import ConvertOptions, convert

    options = ConvertOptions(target=args.target, precision=args.precision, opset=args.opset, verify=args.verify,
                             overwrite=args.overwrite, progress=args.progress)
    path = convert(args.model, args.output, args.weights, options)
    from edgepose.runtimes.card import load_card

    card = load_card(path)
    if card.verification:
        status = "passed" if card.verification["passed"] else "FAILED (kept because of --no-verify)"
        print(f"verification vs PyTorch {status}: {card.verification['summary']}")
    print(f"wrote {path}")
    return 0


COMMANDS = {"models": cmd_models, "convert": cmd_convert}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return COMMANDS[args.command](args)
    except EdgeposeError as exc:
        if args.debug:
            raise
        print(f"edgepose: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("edgepose: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
