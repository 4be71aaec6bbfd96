"""`device`: each format's accelerators, the one-line refusal naming what the installed runtime has, and the
options an accelerator gets — checked against the real onnxruntime, LiteRT and ncnn packages (only their CPU
paths can run on this machine)."""
from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest

from edgepose.runtimes.backends import BackendOptions, open_backend
from edgepose.runtimes.card import load_card
from edgepose.runtimes.devices import onnx_providers
from edgepose.runtimes.errors import ConfigError
from edgepose.runtimes.third_party import wrap

from ..conftest import RTMDET_ONNX, SHARED, assert_one_line_error, need, run_cli

MOVENET = SHARED / "models" / "movenet" / "lite-model_movenet_singlepose_lightning_tflite_int8_4.tflite"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("devices")
    return {"onnx": wrap("rtmdet-onnx", [need(RTMDET_ONNX)], root / "onnx"),
            "ncnn": wrap("rtmdet-ncnn", [RTMDET_ONNX.with_suffix(".param"), RTMDET_ONNX.with_suffix(".bin")],
                         root / "ncnn"),
            "tflite": wrap("movenet-tflite", [need(MOVENET)], root / "tflite")}


@pytest.mark.parametrize("fmt, expected", [("onnx", "cpu"), ("ncnn", "cpu"), ("tflite", "cpu (XNNPACK)")])
def test_cpu_is_the_default_and_is_reported(artifacts, fmt, expected):
    backend = open_backend(load_card(artifacts[fmt]), artifacts[fmt], BackendOptions())
    assert backend.device == expected


@pytest.mark.parametrize("fmt, device, text", [
    ("onnx", "cuda", "this onnxruntime build has AzureExecutionProvider, CPUExecutionProvider: pip install "
                     "onnxruntime-gpu"),
    ("onnx", "tensorrt", "asks for TensorrtExecutionProvider"),
    ("onnx", "vulkan", "does not apply to an onnx artifact"),
    ("tflite", "gpu", "cannot load the delegate libtensorflowlite_gpu_delegate.so"),
    ("tflite", "delegate:/no/such/lib.so", "cannot open shared object file"),
    ("tflite", "delegate:LIBM", "not a LiteRT external delegate"),
    ("tflite", "cuda", "does not apply to a tflite artifact; tflite runs on cpu, gpu, delegate:PATH"),
    ("ncnn", "vulkan", "ncnn finds no Vulkan GPU"),
    ("ncnn", "tensorrt", "does not apply to a ncnn artifact"),
])
def test_unavailable_device_is_refused_naming_what_is_installed(artifacts, fmt, device, text):
    if ort.get_available_providers() != ["AzureExecutionProvider", "CPUExecutionProvider"] and fmt == "onnx":
        pytest.skip("this onnxruntime build has other providers than the PyPI CPU wheel")
    import ctypes.util
    device = device.replace("LIBM", ctypes.util.find_library("m") or "libm.so.6")
    with pytest.raises(ConfigError, match=text.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        open_backend(load_card(artifacts[fmt]), artifacts[fmt], BackendOptions(device=device))


def test_unknown_device_is_a_config_error():
    with pytest.raises(ConfigError, match="device 'tpu' is not known"):
        BackendOptions(device="tpu")


def test_tensorrt_gets_an_engine_cache_in_the_artifact_and_fp16_for_fp16_cards(tmp_path):
    """What a Jetson's onnxruntime-gpu receives (the provider itself cannot run here)."""
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    providers = onnx_providers("tensorrt", tmp_path, "fp16", available)
    name, options = providers[0]
    assert name == "TensorrtExecutionProvider" and providers[1:] == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert options["trt_engine_cache_enable"] and options["trt_engine_cache_path"] == str(tmp_path / "trt_cache")
    assert options["trt_fp16_enable"] and not onnx_providers("tensorrt", tmp_path, "fp32", available)[0][1][
        "trt_fp16_enable"]
    assert onnx_providers("cuda", tmp_path, "fp32", available) == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_run_and_bench_refuse_a_missing_device_in_one_line(artifacts, tmp_path):
    image = str(need(SHARED / "data" / "mmpose" / "tests" / "data" / "coco" / "000000196141.jpg"))
    result = run_cli("run", "--pose", str(artifacts["tflite"]), "--boxes", "0,0,100,100", "--source", image,
                     "--device", "gpu", "--no-progress")
    assert_one_line_error(result, 1, "cannot load the delegate")
    result = run_cli("bench", str(artifacts["onnx"]), "--device", "cuda", "--runs", "2", "--no-progress")
    assert_one_line_error(result, 1, "this onnxruntime build has")
    result = run_cli("run", "--pose", str(artifacts["tflite"]), "--boxes", "0,0,100,100", "--source", image,
                     "--no-progress")
    assert result.returncode == 0 and "device: cpu (XNNPACK)" in result.stdout, result.stdout + result.stderr
