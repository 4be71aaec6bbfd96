"""fp32 artifact → INT8 artifact: calibrate, rank layers by sensitivity, keep the most sensitive in float
until the error budget is met, write, and measure the result against the fp32 artifact on held-out data.

Each target's `Int8Writer` (converters/targets/) knows its quantizable layers, how to observe their inputs
and how to write a model with a chosen set of them in int8; the stages here (calibrate, rank, search,
write, report) are shared. A trial model the backend cannot load or run (`ModelRefused`) counts as over
budget; any other error is a bug and propagates.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgepose.calibration.sources import MIN_DET_SCORE, load_samples, split_holdout
from edgepose.runtimes.backends import open_backend
from edgepose.runtimes.card import ModelCard, load_card
from edgepose.runtimes.detector import Detector
from edgepose.runtimes.errors import ConfigError, ExportError, ModelRefused
from edgepose.runtimes.tasks import Sample, task_of
from edgepose.runtimes.timing import time_calls

from .options import MEASURE, Int8Options
from .progress import progress_bar
from .targets import INT8_WRITERS, Calibration, Int8Model, Int8Writer

log = logging.getLogger(__name__)

SENSITIVITY_INPUTS = 8      # calibration inputs used to rank layers
SEARCH_SAMPLES = 24         # calibration samples used to check the budget during the search
HOLDOUT_SLACK = 1.25        # held-out error may pass the budget by this factor unwarned (p95 px moves in steps)
DISAGREE = 2.0              # held-out error this many times the calibration error gives a warning
IN_SAMPLE = "calibration (none held out: too few samples)"   # fidelity split when nothing could be held out
PRUNE_TRIALS = 24           # most trials of the pass that returns float layers to int8 after the bisection
LOST = "a person was lost or the mean score dropped by more than 0.05"   # what an infinite error_px means


def calibration_sets(task: str, options) -> tuple[list[Sample], list[Sample], list[str]]:
    """(calibration samples, held-out samples, source names) from a ConvertOptions' calib/holdout/samples.
    Without explicit held-out sources, one sample in five is held out."""
    detect = None
    if options.calib_det is not None:
        detector = Detector(options.calib_det, MEASURE)

        def detect(image: np.ndarray) -> np.ndarray:
            found = detector(image)
            return found.boxes[found.scores >= MIN_DET_SCORE]
    if options.holdout:
        calib = load_samples(list(options.calib), task, options.samples, detect)
        holdout = load_samples(list(options.holdout), task, options.samples, detect, flag="--holdout")
    else:
        calib, holdout = split_holdout(load_samples(list(options.calib), task, options.samples * 5 // 4, detect))
        if not holdout:
            log.warning("calibration: %d sample(s), too few to hold one in five out; the fidelity report is measured "
                        "on the calibration samples themselves (in-sample, optimistic): add data or give --holdout",
                        len(calib))
    log.info("calibration: %d samples, held out: %d", len(calib), len(holdout))
    return calib, holdout, [Path(p).name for p in options.calib]


def network_inputs(samples: list[Sample], card: ModelCard) -> np.ndarray:
    """(N, 3, H, W) float32 inputs, made by the runtime's own preprocessing for this card (in NCHW whatever
    the card's layout: the observers work on NCHW)."""
    nchw = replace(card, input=replace(card.input, layout="NCHW", shape=[1, 3, card.input.height, card.input.width]))
    task = task_of(card)
    return np.concatenate([task.network_input(nchw, s) for s in samples])


def int8_card(card: ModelCard, model: Int8Model, **changes: Any) -> ModelCard:
    """`card` for the INT8 model a writer wrote: its files and (where writing renamed them) tensor names."""
    card = replace(card, files=model.files, precision="int8", **changes)
    if model.input_name is not None:
        card = replace(card, input=replace(card.input, name=model.input_name))
    if model.output_names is not None:
        card = replace(card, outputs=[replace(o, name=n) for o, n in zip(card.outputs, model.output_names)])
    return card


def quantize_artifact(fp32: Path, directory: Path, calib: list[Sample], holdout: list[Sample],
                      options: Int8Options, sources: list[str]) -> ModelCard:
    """Write the INT8 version of the fp32 artifact `fp32` into `directory` (an empty directory) and return its
    card, with `calibration` and `fidelity` filled in. The stages: calibrate → choose the int8 layers (rank +
    search, or the mix given) → write → report."""
    card = load_card(fp32)
    if card.format not in INT8_WRITERS:
        raise ConfigError(f"INT8 for {card.format} artifacts is not available yet "
                          f"(available: {', '.join(INT8_WRITERS)})")
    writer = INT8_WRITERS[card.format](fp32, card)
    if not writer.layers:
        raise ConfigError(f"{fp32.name} has no layer that can run in int8")
    start = time.perf_counter()
    inputs = network_inputs(calib, card)
    calibration = calibrate(writer, inputs, options, card.format)
    with tempfile.TemporaryDirectory(prefix="edgepose-int8-") as scratch:
        trials = _Trials(writer, card, fp32, Path(scratch), calibration)
        int8_layers, search = choose_int8_layers(trials, inputs, calib, options)
        speed = _speed(trials, fp32, int8_layers)
    model = writer.write(directory, calibration, int8_layers)
    summary = {"method": options.method, "samples": len(calib), "sources": sources,
               "int8_layers": len(int8_layers), "float_layers": [n for n in writer.layers if n not in int8_layers],
               "int16_activation_layers": [n for n in writer.int16_layers if n in int8_layers],
               "quantizable_layers": len(writer.layers), "max_error_px": options.max_error,
               "search": search, "latency_ms_1_thread": speed, "seconds": round(time.perf_counter() - start, 1)}
    return report(fp32, directory, int8_card(card, model, calibration=summary, verification=None), calib, holdout,
                  options)


def calibrate(writer: Int8Writer, inputs: np.ndarray, options: Int8Options, label: str = "") -> Calibration:
    """Stage 1: observe every quantizable layer's activations over the calibration inputs."""
    with _bar(options, len(inputs), f"calibrate {label}".strip()) as bar:
        observers = writer.collect(inputs, bar)
    return Calibration(observers, options.method, inputs[:1])


def choose_int8_layers(trials: "_Trials", inputs: np.ndarray, calib: list[Sample], options: Int8Options
                       ) -> tuple[list[str], dict[str, Any] | None]:
    """Stages 2–3: the layers to write in int8 — the mix given by name, every layer (no budget), or the
    fewest float layers within the budget (ranking by sensitivity, then search); with the search's summary."""
    layers = trials.writer.layers
    if options.float_layers is not None:
        return _explicit_mix(layers, options.float_layers), None
    if options.max_error is None:
        return list(layers), None
    return trials.search(lambda: trials.sensitivity(inputs[:SENSITIVITY_INPUTS], options), calib, options)


def report(fp32: Path, directory: Path, card: ModelCard, calib: list[Sample], holdout: list[Sample],
           options: Int8Options) -> ModelCard:
    """Stage 5: measure the written INT8 artifact against fp32 on held-out samples (COCO AP too when asked),
    check the budget holds there, and save the card. The card is saved first without the report because
    the runtime measures the artifact as it lies on disk."""
    card.save(directory)
    search, task = card.calibration["search"], task_of(card)
    split = "held-out" if holdout else IN_SAMPLE
    try:
        fidelity = measure(fp32, directory, holdout or calib)
        if options.eval_coco is not None:
            from edgepose.calibration.coco_eval import coco_ap

            fidelity["coco_ap"] = {"annotations": Path(options.eval_coco[0]).name,
                                   "fp32": coco_ap(fp32, *options.eval_coco, MEASURE),
                                   "int8": coco_ap(directory, *options.eval_coco, MEASURE)}
        seen = search["error_px"] if search and search["error_px"] is not None else \
            task.error_px(measure(fp32, directory, search_samples(calib)))  # the search measured the final mix already
    except ModelRefused as exc:
        raise ExportError(f"the INT8 {card.format} model does not run in edgepose.runtimes: {exc}") from exc
    check = holdout_check(seen, task.error_px(fidelity), options.max_error) if holdout else None
    if check and check["warning"]:
        log.warning("%s INT8: %s", card.format, check["warning"])
    card = replace(card, calibration={**card.calibration, "holdout_check": check},
                   fidelity={"against": f"{fp32.name} (fp32)", "split": split, **fidelity})
    card.save(directory)
    return card


def _explicit_mix(layers: list[str], float_layers: tuple[str, ...]) -> list[str]:
    """The int8 layers when the float ones are given by name (a mix found by an earlier search)."""
    unknown = sorted(set(float_layers) - set(layers))
    if unknown:
        raise ConfigError(f"float layers {unknown[:3]} are not quantizable layers of this model")
    return [n for n in layers if n not in float_layers]


def search_samples(calib: list[Sample]) -> list[Sample]:
    """The calibration samples the search checks the budget on (evenly spread, at most SEARCH_SAMPLES)."""
    return calib[:: max(1, len(calib) // SEARCH_SAMPLES)][:SEARCH_SAMPLES]


def holdout_check(calib_error: float, holdout_error: float, budget: float | None) -> dict[str, Any]:
    """Does the error the search saw on calibration samples hold on the held-out split? A budget met on
    calibration data but broken on held-out data (by more than HOLDOUT_SLACK: a p95 keypoint shift moves in
    half-pixel SimCC steps) or errors more than DISAGREE× apart mean the calibration set does not look like the
    data: say so instead of shipping a mix that only fits its own samples."""
    holds = budget is None or holdout_error <= budget * HOLDOUT_SLACK
    ratio = holdout_error / calib_error if calib_error > 0 else (1.0 if holdout_error == 0 else float("inf"))
    warning = None
    if not holds:
        held_out = LOST if holdout_error == float("inf") else f"{holdout_error:.3g} px"
        warning = (f"the error budget {budget:g} px holds on calibration samples ({calib_error:.3g} px) but not on "
                   f"the held-out split ({held_out}): calibrate on data more like the held-out data, "
                   f"or lower --max-error")
    elif holdout_error == float("inf") and calib_error < float("inf"):
        warning = (f"on the held-out split {LOST} (on calibration samples: {calib_error:.3g} px): the "
                   f"calibration set may not represent the data")
    elif ratio > DISAGREE and holdout_error > 0.5:
        warning = (f"held-out error {holdout_error:.3g} px is {ratio:.1f}x the calibration error "
                   f"({calib_error:.3g} px): the calibration set may not represent the data")
    return {"budget_px": budget, "calibration_error_px": _finite(calib_error),
            "holdout_error_px": _finite(holdout_error), "holds": holds, "warning": warning}


def _speed(trials: "_Trials", fp32: Path, int8_layers: list[str], runs: int = 20) -> dict[str, float]:
    """Median single-input latency (ms, 1 thread, this machine) of fp32, this INT8 mix and all-layers INT8:
    what the layers kept float cost in speed."""
    variants = {"fp32": fp32, "int8": trials.build(int8_layers)}
    if len(int8_layers) < len(trials.writer.layers):
        variants["int8_all_layers"] = trials.build(list(trials.writer.layers))
    result = {}
    for name, directory in variants.items():
        card = load_card(directory)
        backend = open_backend(card, directory, MEASURE)
        x = np.zeros([1 if d < 0 else d for d in card.input.shape], np.float32)
        result[name] = round(float(np.median(time_calls(lambda: backend.run(x), runs))), 2)
    return result


def measure(fp32: Path, int8: Path, samples: list[Sample]) -> dict[str, Any]:
    """The task's fidelity report of the artifact `int8` against `fp32` on `samples`."""
    task = task_of(load_card(fp32))
    return task.fidelity(task.open(fp32, MEASURE), task.open(int8, MEASURE), samples)



class _Trials:
    """Writes candidate models with a given set of int8 layers into a scratch directory and scores them."""

    def __init__(self, writer: Int8Writer, card: ModelCard, fp32: Path, scratch: Path,
                 calibration: Calibration) -> None:
        self.writer, self.card, self.fp32, self.scratch = writer, card, fp32, scratch
        self.calibration = calibration
        self.count = 0

    def build(self, int8_layers: list[str]) -> Path:
        self.count += 1
        directory = self.scratch / f"trial{self.count}"
        directory.mkdir()
        int8_card(self.card, self.writer.write(directory, self.calibration, int8_layers)).save(directory)
        return directory

    def sensitivity(self, inputs: np.ndarray, options: Int8Options) -> list[tuple[str, float]]:
        """Layers with the output error (1 − cosine, worst output) when only that layer is int8, worst first."""
        feed = inputs if self.card.input.layout == "NCHW" else np.ascontiguousarray(inputs.transpose(0, 2, 3, 1))
        reference = _outputs(open_backend(self.card, self.fp32, MEASURE), feed)
        scores = []
        with _bar(options, len(self.writer.layers), "rank layers") as bar:
            for name in self.writer.layers:
                directory = self.build([name])
                try:
                    got = _outputs(open_backend(load_card(directory), directory, MEASURE), feed)
                    score = max(_one_minus_cos(r, g) for r, g in zip(reference, got))
                except ModelRefused as exc:  # a backend that cannot run this layer in int8: keep it float first
                    log.info("layer %s does not run in int8 (%s); ranked most sensitive", name, exc)
                    score = float("inf")
                scores.append((name, score))
                shutil.rmtree(directory)
                bar.update(1)
        return sorted(scores, key=lambda item: -item[1])

    def search(self, rank: Callable[[], list[tuple[str, float]]], calib: list[Sample], options: Int8Options
               ) -> tuple[list[str], dict[str, Any]]:
        """Fewest float layers whose error on calibration samples is within budget (see `fewest_float`). The
        all-int8 model is checked first: when it fits, the ranking (one model per layer) is never built."""
        samples, task = search_samples(calib), task_of(self.card)
        position = {name: i for i, name in enumerate(self.writer.layers)}
        tried: dict[tuple[str, ...], float] = {}

        def error(float_layers: frozenset[str]) -> float:
            key = tuple(sorted(float_layers, key=position.__getitem__))
            if key not in tried:
                directory = self.build([n for n in self.writer.layers if n not in float_layers])
                try:
                    tried[key] = task.error_px(measure(self.fp32, directory, samples))
                except ModelRefused as exc:  # the backend refused this mix: over budget
                    log.info("mixed precision: %d float layers does not run (%s)", len(key), exc)
                    tried[key] = float("inf")
                shutil.rmtree(directory)
                log.info("mixed precision: %d float layers → error %.3g px", len(key), tried[key])
            return tried[key]

        ranking: list[tuple[str, float]] = []
        if error(frozenset()) <= options.max_error:
            keep_float = frozenset()
        else:
            ranking = rank()
            with _bar(options, None, "search mixed precision") as bar:
                def counted(float_layers: frozenset[str]) -> float:
                    bar.update(1)
                    return error(float_layers)

                keep_float = fewest_float([name for name, _ in ranking], counted, options.max_error)
        summary = {"tried": [[len(k), _finite(v)] for k, v in tried.items()],
                   "trials": len(tried), "samples": len(samples), "error_px": _finite(error(keep_float)),
                   "ranking_top": [[n, _finite(s, 6)] for n, s in ranking[:10]]}
        return [n for n in self.writer.layers if n not in keep_float], summary


def _finite(value: float, digits: int = 4) -> float | None:
    return None if value == float("inf") else round(value, digits)


def fewest_float(order: list[str], error: Callable[[frozenset[str]], float], budget: float,
                 max_trials: int = PRUNE_TRIALS) -> frozenset[str]:
    """The float set to keep: a bisection over "the k most sensitive layers float" (`order`, worst first), then
    a pruning pass that tries each kept layer back in int8, least sensitive first, and keeps it int8 when the
    budget still holds — repeated until a pass changes nothing or `max_trials` prune trials are spent.

    The error over k is not monotone (layers interact: one float layer can move the next int8 layer's
    input range), so the bisection alone can stop at a k much larger than needed; the pruning pass makes
    every layer left float one whose return to int8 breaks the budget (a local minimum of the float set)."""
    prefix = lambda k: frozenset(order[:k])  # noqa: E731
    low, high = 0, len(order)      # invariant: error(low) over budget (once checked), error(high) within
    if error(prefix(0)) <= budget:
        return prefix(0)
    while high - low > 1:
        mid = (low + high) // 2
        if error(prefix(mid)) <= budget:
            high = mid
        else:
            low = mid
    keep, trials, changed = prefix(high), 0, True
    while changed and trials < max_trials:
        changed = False
        for name in [n for n in reversed(order) if n in keep]:
            if trials >= max_trials:
                break
            trials += 1
            if error(keep - {name}) <= budget:
                keep, changed = keep - {name}, True
    return keep


def _outputs(backend, feed: np.ndarray) -> list[np.ndarray]:
    """Outputs in card order (tensor names differ between the fp32 and the int8 model)."""
    runs = [list(backend.run(feed[i:i + 1]).values()) for i in range(len(feed))]
    return [np.concatenate([r[k] for r in runs]) for k in range(len(runs[0]))]


def _one_minus_cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
    return float(1 - cos.min())


def _bar(options: Int8Options, total: int | None, label: str):
    return progress_bar(total, label, options.progress, unit="step")


def fidelity_table(card: ModelCard) -> str:
    """The fidelity block as a small text table for the console."""
    report = {k: v for k, v in (card.fidelity or {}).items() if k not in ("against", "split")}
    calibration = card.calibration or {}
    speed = calibration.get("latency_ms_1_thread") or {}
    cost = "; ".join(f"{k} {v:.1f} ms" for k, v in speed.items())
    head = (f"  {calibration.get('int8_layers')} of {calibration.get('quantizable_layers')} layers int8, "
            f"{len(calibration.get('float_layers', []))} kept float; {calibration.get('method')} ranges from "
            f"{calibration.get('samples')} samples\n  latency here (1 thread): {cost}\n"
            f"  vs fp32 on the {(card.fidelity or {}).get('split', 'held-out')} split:")
    ap = report.pop("coco_ap", None)
    rows = [f"    {key:<24} {value:.4g}" if isinstance(value, float) else f"    {key:<24} {value}"
            for key, value in report.items()]
    if ap is not None:
        rows.append(f"  COCO AP on {ap['annotations']} ({ap['fp32']['images']} images): "
                    f"fp32 {ap['fp32']['AP']:.3f} / INT8 {ap['int8']['AP']:.3f} (AP50 {ap['fp32']['AP50']:.3f} / "
                    f"{ap['int8']['AP50']:.3f})")
    check = calibration.get("holdout_check")
    if check:
        rows.append(f"  budget check (error px): calibration {check['calibration_error_px']}, held out "
                    f"{check['holdout_error_px']}, budget {check['budget_px']}"
                    + (f"\n  WARNING: {check['warning']}" if check["warning"] else ""))
    return "\n".join([head, *rows])
