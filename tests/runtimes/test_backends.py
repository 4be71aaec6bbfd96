"""Backends on real model files: the thread count reaches ncnn, onnxruntime and LiteRT (read back from the
runtime objects), quantized TFLite outputs come back as floats, and a corrupt model file is one ModelRefused (a ConfigError)."""
from __future__ import annotations

import gc
import json
import os
from dataclasses import replace
from pathlib import Path

import cv2
import ncnn
import numpy as np
import pytest

from edgepose.runtimes import backends as backends_module
from edgepose.runtimes.backends import BackendOptions, open_backend
from edgepose.runtimes.board import physical_cores
from edgepose.runtimes.card import load_card
from edgepose.runtimes.errors import ModelRefused
from edgepose.runtimes.pose import PoseModel
from edgepose.runtimes.third_party import wrap

from ..conftest import RTMDET_ONNX, SHARED, need, reference

MOVENET = SHARED / "models" / "movenet" / "lite-model_movenet_singlepose_lightning_tflite_int8_4.tflite"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("backends")
    models = need(RTMDET_ONNX).parent
    return {"onnx": wrap("rtmdet-onnx", [RTMDET_ONNX], root / "onnx"),
            "ncnn": wrap("rtmdet-ncnn", [models / "rtmdet-nano.param", models / "rtmdet-nano.bin"], root / "ncnn"),
            "tflite": wrap("movenet-tflite", [need(MOVENET)], root / "tflite")}


def _open(directory: Path, threads: int | None):
    return open_backend(load_card(directory), directory, BackendOptions(threads=threads))


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.fixture
def eight_cpus(monkeypatch):
    """Thread counts above this machine's CPUs, without the cap (tested on its own below)."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))


@pytest.mark.parametrize("threads", [1, 3])
def test_threads_reach_ncnn(artifacts, threads, eight_cpus):
    """An explicit count is for a machine dedicated to the model: ncnn's own spin-wait stays on."""
    backend = _open(artifacts["ncnn"], threads)
    assert backend.threads == threads and backend.net.opt.num_threads == threads
    assert backend.net.opt.openmp_blocktime == ncnn.Option().openmp_blocktime > 0


@pytest.mark.parametrize("threads", [1, 3])
def test_threads_reach_onnxruntime(artifacts, threads, eight_cpus):
    backend = _open(artifacts["onnx"], threads)
    options = backend.session.get_session_options()
    assert backend.threads == threads and options.intra_op_num_threads == threads
    with pytest.raises(RuntimeError, match="does not have configuration"):   # onnxruntime's default: spinning
        options.get_session_config_entry("session.intra_op.allow_spinning")


def test_more_threads_than_cpus_are_capped_with_one_warning(artifacts, monkeypatch, caplog):
    """`--threads 1000` ran one image for 303 s: the count is capped at the CPUs the process may use."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(backends_module, "_WARNED", set())
    with caplog.at_level("WARNING", logger="edgepose.runtimes.backends"):
        backends = [_open(artifacts[fmt], 1000) for fmt in ("ncnn", "onnx", "ncnn")]
    assert [b.threads for b in backends] == [2, 2, 2] and backends[0].net.opt.num_threads == 2
    assert caplog.text.count("threads=1000 is more than the 2 CPU(s) this process may use; using 2") == 1


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts OS threads through Linux /proc")
@pytest.mark.parametrize("threads", [1, 3])
def test_threads_reach_litert(artifacts, threads, eight_cpus):
    """LiteRT has no getter: XNNPACK's pool starts threads - 1 workers, counted in /proc/self/task."""
    gc.collect()   # threads of backends other tests left behind must not end while counting
    before = _os_threads()
    backend = _open(artifacts["tflite"], threads)
    backend.run(np.zeros((1, 192, 192, 3), np.uint8))
    assert backend.threads == threads and _os_threads() - before == threads - 1


def test_default_threads_are_the_idle_cores_without_spinning(artifacts, monkeypatch):
    """A busy machine: spinning workers made ncnn 25× slower, and a team as large as the physical cores beside
    two busy processes 7×; the default must neither spin nor take cores that are busy."""
    cores = physical_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))   # an idle machine: every physical core
    ncnn = _open(artifacts["ncnn"], None)
    assert ncnn.threads == ncnn.net.opt.num_threads == cores and ncnn.net.opt.openmp_blocktime == 0
    ort = _open(artifacts["onnx"], None).session.get_session_options()
    assert ort.intra_op_num_threads == cores
    assert ort.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert _open(artifacts["tflite"], None).threads == cores
    monkeypatch.setattr(os, "getloadavg", lambda: (cores + 0.4, 0.0, 0.0))   # every core busy: one thread
    assert _open(artifacts["ncnn"], None).threads == _open(artifacts["onnx"], None).threads == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (cores - 0.8, 0.0, 0.0))   # most of one core busy
    assert _open(artifacts["tflite"], None).threads == max(1, cores - 1)


@pytest.mark.parametrize("target, role, cut", [("onnx", "model", 5000), ("tflite", "model", 50_000),
                                               ("ncnn", "bin", 100_000), ("ncnn", "param", 10)])
def test_corrupt_or_truncated_model_file_is_one_config_error(artifacts, tmp_path, target, role, cut):
    directory = tmp_path / target
    directory.mkdir()
    card = load_card(artifacts[target])
    for name in card.files.values():
        (directory / name).write_bytes((artifacts[target] / name).read_bytes())
    name = card.files[role]
    (directory / name).write_bytes((artifacts[target] / name).read_bytes()[:cut])
    card.save(directory)
    with pytest.raises(ModelRefused, match=f"cannot load {name}.*corrupt or truncated"):
        open_backend(card, directory)


@pytest.mark.parametrize("target", ["onnx", "tflite"])
def test_a_model_the_backend_cannot_compute_is_model_refused(artifacts, target):
    """The backend library's own failure inside `run` (here: an input it cannot take) comes out as the one
    `ModelRefused` error the INT8 search counts as "this mix does not run", with the library's first line."""
    backend = _open(artifacts[target], 1)
    shape = [1 if d < 0 else d for d in backend.card.input.shape]
    bad = np.zeros(shape[:-1] + [shape[-1] + 7], np.float64)   # wrong width and dtype
    with pytest.raises(ModelRefused, match=f"{target} backend could not run the model: ."):
        backend.run(bad)


def _int8_output_movenet(directory: Path) -> Path:
    """MoveNet with its final DEQUANTIZE removed: the output is the int8 tensor (scale 0.0041, zero point -128)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(need(MOVENET).read_bytes(), 0))
    graph = model.subgraphs[0]
    last = graph.operators.pop()   # DEQUANTIZE(int8 keypoints) → float keypoints
    graph.outputs = np.array([last.inputs[0]], np.int32)
    tensor = graph.tensors[last.inputs[0]]
    assert tensor.type == schema.TensorType.INT8 and tensor.quantization.zeroPoint[0] != 0
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    wrap("movenet-tflite", [need(MOVENET)], directory)
    card = load_card(directory)
    (directory / card.files["model"]).write_bytes(bytes(builder.Output()))
    output = replace(card.outputs[0], name=tensor.name.decode())
    replace(card, outputs=[output]).save(directory)
    return directory


def test_int8_tflite_outputs_are_dequantized(artifacts, tmp_path):
    info = json.loads(reference("rtmpose-t", "facts.json").read_text())["image"]
    image, box = cv2.imread(str(SHARED / info["path"])), np.array([info["bbox_xyxy"]], np.float32)
    int8 = PoseModel(_int8_output_movenet(tmp_path / "int8-out"))
    raw = int8.backend.run(np.zeros((1, 192, 192, 3), np.uint8))
    assert all(v.dtype == np.float32 for v in raw.values())
    expected, got = PoseModel(artifacts["tflite"])(image, box), int8(image, box)
    assert np.abs(got.keypoints - expected.keypoints).max() <= 1e-3
    assert np.abs(got.scores - expected.scores).max() <= 1e-6 and got.scores.max() > 0.3


def test_one_tflite_model_runs_from_two_threads_at_once(artifacts):
    """A pipeline may run its detector in a worker while the main thread runs it too (`--async`): LiteRT's
    interpreter is not thread-safe, so the backend serializes calls; results equal the one-thread ones."""
    from concurrent.futures import ThreadPoolExecutor

    backend = _open(artifacts["tflite"], 1)
    shape = [1 if d < 0 else d for d in backend.card.input.shape]
    rng = np.random.default_rng(0)
    inputs = [(rng.random(shape) * 255).astype(backend.card.input.dtype) for _ in range(8)]
    alone = [backend.run(x) for x in inputs]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(backend.run, inputs * 4))
    for i, got in enumerate(together):
        for name, value in alone[i % len(inputs)].items():
            assert np.array_equal(got[name], value), (i, name)
