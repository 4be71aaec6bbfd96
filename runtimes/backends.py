"""Inference backends behind one interface, chosen once from the model card's `format`.

`Backend.run(x)` takes the full network input (N, ...) and returns {output name: array with batch first}.
Models exported with a fixed batch of 1 are run once per item. Each backend is imported lazily, so only
the one you use needs to be installed.

Threads: every backend sets its thread count explicitly and reports it as `Backend.threads`. The default is
the number of physical cores this process may use, with the worker threads' busy-wait switched off (ncnn
`openmp_blocktime` 0, onnxruntime `session.intra_op.allow_spinning` "0"): spinning workers fight for the
cores when the machine is busy (reported: ncnn RTMDet-nano 364 ms/frame with ncnn's spinning default vs 15 ms
on one thread; on 2 cores with 2 busy processes, measured 38.5 ms spinning, 31.0 ms without, 21.6 ms on one
thread: on a loaded machine `threads=1` is still fastest). An explicit `threads=N` keeps each backend's own
spin setting, for a machine dedicated to the model.
"""
from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .board import free_cores, usable_cpus
from .card import CARD_NAME, ModelCard
from .devices import check_device, check_onnx_session, ncnn_vulkan, onnx_providers, tflite_delegates
from .errors import BackendUnavailable, ConfigError, ModelRefused
from .quiet import quiet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendOptions:
    threads: int | None = None    # CPU threads; None = the idle physical cores, without busy-waiting
    ncnn_fp16: bool | None = None  # ncnn: fp16 storage + arithmetic (ARMv8.2 fast path); None = on for cards
                                   # that allow it (`source.fp16_arithmetic`) on CPUs that have it (ncnn_fp16_default)
    ncnn_bf16: bool = False       # ncnn: bf16 storage
    ncnn_int8: bool | None = None  # ncnn: int8 inference; None = on for int8 cards (required for them)
    device: str = "cpu"           # accelerator, per format (see runtimes/devices.py); refused if not available

    def __post_init__(self) -> None:
        check_device(self.device)
        if self.threads is not None and (not isinstance(self.threads, int) or isinstance(self.threads, bool)
                                         or self.threads < 1):
            raise ConfigError(f"threads must be a whole number ≥ 1, got {self.threads!r}")


def resolve_threads(options: BackendOptions) -> tuple[int, bool]:
    """→ (thread count, whether workers may spin): the explicit count (capped, with a warning, at the CPUs this
    process may use: more threads only wait for each other), else the physical cores that are idle when the
    backend opens (board.free_cores), without spinning."""
    if options.threads is not None:
        cpus = usable_cpus()
        if options.threads > cpus:
            _warn_once(f"threads={options.threads} is more than the {cpus} CPU(s) this process may use; using {cpus}")
            return cpus, True
        return options.threads, True
    return free_cores(), False


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    """A warning said once per process (a pipeline opens several backends with the same options)."""
    if message not in _WARNED:
        _WARNED.add(message)
        log.warning(message)


class Backend:
    """Common part: fixed-batch models are looped; subclasses implement `_run_batch`.

    `threads` is the CPU thread count the backend was opened with and `device` what really runs the model
    (for run summaries and benchmarks)."""

    threads: int = 1
    device: str = "cpu"

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        self.output_names = [o.name for o in card.outputs]
        self.fixed_batch = card.input.shape[0] if card.input.shape[0] > 0 else None

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs by card name. A backend's own failure to compute the model raises `ModelRefused`."""
        if self.fixed_batch is not None and x.shape[0] != self.fixed_batch and self.fixed_batch != 1:
            raise ConfigError(f"model takes batch {self.fixed_batch}, got {x.shape[0]}")
        try:
            if self.fixed_batch is None or x.shape[0] == self.fixed_batch:
                return self._run_batch(x)
            parts = [self._run_batch(x[i:i + 1]) for i in range(x.shape[0])]
        except self.native_errors() as exc:
            raise ModelRefused(f"{self.card.format} backend could not run the model: {_one_line(exc)}") from exc
        return {name: np.concatenate([p[name] for p in parts]) for name in self.output_names}

    def native_errors(self) -> tuple[type[BaseException], ...]:
        """The exception types the backend library raises when it fails to compute a model."""
        return ()

    def input_names(self) -> list[str]:
        """The model's input tensor names, as the runtime library reports them."""
        raise NotImplementedError

    def input_shape(self) -> list[int] | None:
        """The shape the model file declares for the card's input (-1 for a dynamic dimension), or None when
        the format does not declare one (ncnn)."""
        return None

    def _run_batch(self, x: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError


class OnnxRuntimeBackend(Backend):
    def __init__(self, card: ModelCard, directory: Path, options: BackendOptions) -> None:
        super().__init__(card)
        ort = _require("onnxruntime", "onnx")
        self.threads, spin = resolve_threads(options)
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        if not spin:
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        path = _model_file(card, directory, "model")
        providers = onnx_providers(options.device, directory, card.precision, ort.get_available_providers())
        try:
            self.session = ort.InferenceSession(str(path), so, providers=providers)
        except Exception as exc:  # onnxruntime's load errors derive from Exception only
            raise _unreadable(path, "onnxruntime", exc) from exc
        self.device = check_onnx_session(options.device, self.session)

    def native_errors(self) -> tuple[type[BaseException], ...]:
        # onnxruntime's error types derive from Exception only, not RuntimeError
        from onnxruntime.capi import onnxruntime_pybind11_state as state

        return (state.Fail, state.InvalidArgument, state.InvalidGraph, state.NotImplemented, state.RuntimeException)

    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    def input_shape(self) -> list[int] | None:
        shapes = {i.name: i.shape for i in self.session.get_inputs()}
        shape = shapes.get(self.card.input.name)
        return None if shape is None else [d if isinstance(d, int) and d > 0 else -1 for d in shape]

    def _run_batch(self, x: np.ndarray) -> dict[str, np.ndarray]:
        outs = self.session.run(self.output_names, {self.card.input.name: x})
        return dict(zip(self.output_names, outs))


class TFLiteBackend(Backend):
    """LiteRT's interpreter is not thread-safe (a second thread's invoke fails with "There is at least 1
    reference to internal data"): calls are serialized, so a pipeline may run its detector in a worker thread
    while the main thread runs it too."""

    def __init__(self, card: ModelCard, directory: Path, options: BackendOptions) -> None:
        super().__init__(card)
        self.lock = threading.Lock()
        interpreter_cls = _tflite_interpreter()
        self.threads, _ = resolve_threads(options)  # XNNPACK's pool has no spin setting to change
        path = _model_file(card, directory, "model")
        delegates, self.device = tflite_delegates(options.device)
        try:
            with quiet("LiteRT"):  # "INFO: Created TensorFlow Lite XNNPACK delegate" on stderr, every time
                self.interpreter = interpreter_cls(model_path=str(path), num_threads=self.threads,
                                                   experimental_delegates=delegates or None)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise _unreadable(path, "the TFLite interpreter", exc) from exc
        inputs = {d["name"]: d for d in self.interpreter.get_input_details()}
        self.input = inputs.get(card.input.name) or next(iter(inputs.values()))
        outputs = {d["name"]: d for d in self.interpreter.get_output_details()}
        missing = [n for n in self.output_names if n not in outputs]
        if missing:
            raise ConfigError(f"TFLite model has no outputs {missing}; it has {sorted(outputs)}")
        self.outputs = [outputs[n] for n in self.output_names]

    def native_errors(self) -> tuple[type[BaseException], ...]:
        return (RuntimeError, ValueError)   # LiteRT's invoke / resize failures

    def input_names(self) -> list[str]:
        return [d["name"] for d in self.interpreter.get_input_details()]

    def input_shape(self) -> list[int] | None:
        return [int(d) for d in self.input["shape_signature"]]

    def _run_batch(self, x: np.ndarray) -> dict[str, np.ndarray]:
        with self.lock:
            return self._run_locked(x)

    def _run_locked(self, x: np.ndarray) -> dict[str, np.ndarray]:
        if tuple(self.input["shape"]) != x.shape:
            self.interpreter.resize_tensor_input(self.input["index"], list(x.shape))
            with quiet("LiteRT"):
                self.interpreter.allocate_tensors()
            self.input = next(d for d in self.interpreter.get_input_details() if d["index"] == self.input["index"])
        self.interpreter.set_tensor(self.input["index"], x)
        self.interpreter.invoke()
        result = {}
        for name, detail in zip(self.output_names, self.outputs):
            out = self.interpreter.get_tensor(detail["index"])
            scale, zero = detail.get("quantization", (0.0, 0))
            if scale and out.dtype in (np.int8, np.uint8, np.int16):
                out = (out.astype(np.float32) - zero) * np.float32(scale)
            result[name] = out
        return result


def _require(module: str, extra: str):
    """Import a backend's package, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailable(f"{module} is not installed; pip install 'edgepose[{extra}]'") from exc


def _model_file(card: ModelCard, directory: Path, role: str) -> Path:
    if role not in card.files:
        raise ConfigError(f"a {card.format} card needs files.{role}; re-run the conversion")
    return directory / card.files[role]


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """A library's (often multi-line) error message as one line, whole up to `limit` characters."""
    text = " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _unreadable(path: Path, reader: str, exc: BaseException) -> ModelRefused:
    return ModelRefused(f"{reader} cannot load {path.name} in {path.parent} ({_one_line(exc)}); the file is corrupt "
                        f"or truncated: copy or convert the artifact again")


def _tflite_interpreter():
    """ai-edge-litert, else tflite_runtime, else tensorflow.lite."""
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter
        log.info("using tflite_runtime (slower for INT8; prefer ai-edge-litert)")
        return Interpreter
    except ImportError:
        pass
    try:
        import tensorflow as tf
        return tf.lite.Interpreter
    except ImportError as exc:
        raise BackendUnavailable("no TFLite interpreter found; pip install 'edgepose[tflite]'") from exc


class NcnnBackend(Backend):
    """ncnn with one net, or two: an artifact with `head_param`/`head_bin` keeps its head in a second net that
    always runs with fp16 off, fed the body's output blobs (the head net's inputs, by name) — how an
    edgepose fp16 RTMPose keeps its SimCC head exact while the body takes ncnn's fp16 fast path."""

    def __init__(self, card: ModelCard, directory: Path, options: BackendOptions) -> None:
        super().__init__(card)
        self.ncnn = ncnn = _require("ncnn", "ncnn")
        vulkan, self.device = ncnn_vulkan(options.device, ncnn)
        self.threads, spin = resolve_threads(options)
        self.fp16 = ncnn_fp16_default(card, ncnn) if options.ncnn_fp16 is None else options.ncnn_fp16
        int8 = options.ncnn_int8 if options.ncnn_int8 is not None else card.precision == "int8"
        if card.precision == "int8" and not int8:
            raise ConfigError("an int8 ncnn model needs int8 inference on (ncnn crashes otherwise)")

        def load(param_role: str, bin_role: str, fp16: bool):
            net = ncnn.Net()
            opt = net.opt
            opt.use_vulkan_compute = vulkan
            opt.num_threads = self.threads
            if not spin:
                opt.openmp_blocktime = 0
            opt.use_fp16_packed = opt.use_fp16_storage = opt.use_fp16_arithmetic = fp16
            opt.use_bf16_storage = options.ncnn_bf16
            opt.use_int8_inference = int8
            param, weights = _model_file(card, directory, param_role), _model_file(card, directory, bin_role)
            if net.load_param(str(param)) != 0:
                raise _unreadable(param, "ncnn", ValueError("not an ncnn .param file"))
            if net.load_model(str(weights)) != 0:
                raise _unreadable(weights, "ncnn", ValueError(f"weights do not fit {param.name}"))
            return net

        self.net = load("param", "bin", self.fp16)
        self.head = load("head_param", "head_bin", False) if "head_param" in card.files else None
        self.head_inputs = list(self.head.input_names()) if self.head is not None else []
        if self.fp16:   # what really runs, for the run summary and the bench table
            kind = "fp16" if ncnn.cpu_support_arm_asimdhp() else "fp16 storage, fp32 arithmetic: no fp16 on this CPU"
            self.device += f" ({kind}" + (", head fp32)" if self.head is not None else ")")
        self.fixed_batch = 1  # ncnn runs one item per extractor

    def input_names(self) -> list[str]:
        return list(self.net.input_names())

    def _run_batch(self, x: np.ndarray) -> dict[str, np.ndarray]:
        sample = np.ascontiguousarray(x[0], dtype=np.float32)  # kept alive until extraction is done
        with self.net.create_extractor() as ex:
            ex.input(self.card.input.name, self.ncnn.Mat(sample))
            if self.head is None:
                result = self._extract(ex, self.output_names)
            else:
                features = self._extract(ex, self.head_inputs)
                with self.head.create_extractor() as head:
                    for name, value in features.items():
                        head.input(name, self.ncnn.Mat(value[0]))
                    result = self._extract(head, self.output_names)
        del sample
        return result

    @staticmethod
    def _extract(ex, names: list[str]) -> dict[str, np.ndarray]:
        result = {}
        for name in names:
            ret, mat = ex.extract(name)
            if ret != 0:
                raise ModelRefused(f"ncnn could not compute blob {name!r} (error {ret})")
            result[name] = np.array(mat)[None].copy()
        return result


def ncnn_fp16_default(card: ModelCard, ncnn) -> bool:
    """ncnn fp16 storage + arithmetic by default only where both sides allow it: the card says its graph was
    made for it (`source.fp16_arithmetic`: an edgepose fp16 artifact of an fp16-safe model, head kept fp32)
    and the CPU computes in fp16 (ARMv8.2 asimdhp: Pi 5, Jetson Orin; not a Pi 4, not x86)."""
    return bool(card.source.get("fp16_arithmetic")) and bool(ncnn.cpu_support_arm_asimdhp())


BACKENDS: dict[str, type[Backend]] = {  # one per card.FORMATS name, in its order
    "onnx": OnnxRuntimeBackend, "ncnn": NcnnBackend, "tflite": TFLiteBackend}


def open_backend(card: ModelCard, directory: str | Path, options: BackendOptions | None = None) -> Backend:
    """The backend for the card's format, loaded from `directory` and checked against the card
    (`check_against_card`): a card that does not describe its model file fails here, not at the first frame."""
    backend = BACKENDS[card.format](card, Path(directory), options or BackendOptions())
    try:
        check_against_card(backend)
    except ConfigError as exc:
        raise ConfigError(f"{Path(directory) / CARD_NAME} does not describe its model: {exc} (a different model "
                          "file, or a card edited by hand)") from None
    return backend


def check_against_card(backend: Backend) -> None:
    """The card's input name and shape against what the model file declares, then one blank input through the
    model with every output's shape against the card; a mismatch is a ConfigError that says which."""
    card = backend.card
    names = backend.input_names()
    if card.input.name not in names:
        raise ConfigError(f"the model's input is {', '.join(names)}, not {card.input.name!r} as its card says")
    declared = backend.input_shape()
    if declared is not None and (len(declared) != len(card.input.shape) or any(
            d > 0 and c > 0 and d != c for d, c in zip(declared, card.input.shape))):
        raise ConfigError(f"the model takes input shape {declared} ({card.input.layout}), its card says "
                          f"{card.input.shape}: fix input.shape in the card or convert the model again")
    shape = [d if d > 0 else 1 for d in card.input.shape]
    outputs = backend.run(np.zeros(shape, card.input.dtype))
    for spec in card.outputs:
        got = tuple(outputs[spec.name].shape)
        if len(got) != len(spec.shape) or any(w > 0 and w != g for w, g in zip(spec.shape, got)):
            raise ConfigError(f"output {spec.name!r} has shape {list(got)}, its card says {spec.shape}")
