"""Which accelerator a backend runs on: one `device` option, resolved per format, refused in one line when the
installed runtime cannot provide it — never a silent fallback to the CPU.

    onnx    cpu | cuda | tensorrt | xnnpack | coreml | qnn | nnapi | openvino | dml   (onnxruntime providers)
    tflite  cpu (XNNPACK) | gpu (LiteRT GPU delegate) | delegate:/path/to/delegate.so (e.g. Qualcomm QNN)
    ncnn    cpu | vulkan (alias gpu)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .card import ENGINE_CACHE  # TensorRT engines, built on first use, kept in the artifact folder
from .errors import ConfigError

ORT_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
                 "tensorrt": "TensorrtExecutionProvider", "xnnpack": "XnnpackExecutionProvider",
                 "coreml": "CoreMLExecutionProvider", "qnn": "QNNExecutionProvider",
                 "nnapi": "NnapiExecutionProvider", "openvino": "OpenVINOExecutionProvider",
                 "dml": "DmlExecutionProvider"}
ORT_INSTALL_HINT = {"cuda": "pip install onnxruntime-gpu (Jetson: the JetPack build of onnxruntime-gpu)",
                    "tensorrt": "pip install onnxruntime-gpu with TensorRT (Jetson: the JetPack build of "
                                "onnxruntime-gpu)",
                    "openvino": "pip install onnxruntime-openvino", "dml": "pip install onnxruntime-directml",
                    "qnn": "pip install onnxruntime-qnn", "coreml": "use the macOS onnxruntime wheel",
                    "nnapi": "use onnxruntime's Android package", "xnnpack": "build onnxruntime with --use_xnnpack"}
TFLITE_GPU_LIBRARY = "libtensorflowlite_gpu_delegate.so"
DEVICES = {"onnx": tuple(ORT_PROVIDERS), "tflite": ("cpu", "gpu", "delegate:PATH"), "ncnn": ("cpu", "vulkan", "gpu")}


def check_device(device: str) -> None:
    """Raise ConfigError unless `device` is a device some format accepts."""
    known = {d for devices in DEVICES.values() for d in devices if d != "delegate:PATH"}
    if not isinstance(device, str) or not (device in known or (device.startswith("delegate:") and len(device) > 9)):
        raise ConfigError(f"device {device!r} is not known; choose one of {', '.join(sorted(known))} or "
                          "delegate:/path/to/delegate.so (TFLite)")


def _refuse(fmt: str, device: str) -> ConfigError:
    article = "an" if fmt[0] in "aeiou" else "a"
    return ConfigError(f"--device {device} does not apply to {article} {fmt} artifact; {fmt} runs on "
                       f"{', '.join(DEVICES[fmt])}")


def onnx_providers(device: str, directory: Path, precision: str, available: list[str]) -> list[Any]:
    """onnxruntime's provider list for `device`; CPU comes last for the nodes an accelerator does not take."""
    if device not in ORT_PROVIDERS:
        raise _refuse("onnx", device)
    wanted = ORT_PROVIDERS[device]
    if wanted not in available:
        raise ConfigError(f"--device {device} asks for {wanted}; this onnxruntime build has "
                          f"{', '.join(sorted(available))}: {ORT_INSTALL_HINT.get(device, 'install a build with it')}")
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "tensorrt":
        options = {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(directory / ENGINE_CACHE),
                   "trt_fp16_enable": precision == "fp16", "trt_int8_enable": False}
        rest = ["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []
        return [(wanted, options), *rest, "CPUExecutionProvider"]
    return [wanted, "CPUExecutionProvider"]


def check_onnx_session(device: str, session) -> str:
    """The provider that really runs the model; refuses onnxruntime's silent fallback to the CPU."""
    active = session.get_providers()
    if active[0] != ORT_PROVIDERS[device]:
        raise ConfigError(f"--device {device}: onnxruntime could not start {ORT_PROVIDERS[device]} and fell back "
                          f"to {active[0]}; check the driver / CUDA / TensorRT install (onnxruntime's log says why)")
    return device if device == "cpu" else f"{device} ({', '.join(active)})"


def tflite_delegates(device: str) -> tuple[list[Any], str]:
    """(LiteRT delegates to load, description) for `device`."""
    if device == "cpu":
        return [], "cpu (XNNPACK)"
    if device == "gpu" or device.startswith("delegate:"):
        library = TFLITE_GPU_LIBRARY if device == "gpu" else device[len("delegate:"):]
        try:
            from ai_edge_litert.interpreter import load_delegate
        except ImportError:
            raise ConfigError(f"--device {device} needs ai-edge-litert's load_delegate; pip install "
                              "'edgepose[tflite]'") from None
        try:
            _check_delegate_library(library)  # LiteRT's own failure path prints errors from Delegate.__del__
            return [load_delegate(library)], f"{device} delegate"
        except (ValueError, OSError, RuntimeError, AttributeError) as exc:
            hint = ("build LiteRT's GPU delegate for this board, or give --device delegate:/path/to/lib.so"
                    if device == "gpu" else "check the path and that the library is a LiteRT delegate for this CPU")
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConfigError(f"--device {device}: cannot load the delegate {library} ({first}); {hint}") from None
    raise _refuse("tflite", device)


def _check_delegate_library(library: str) -> None:
    """Raise OSError unless `library` loads and exports LiteRT's external-delegate entry point."""
    import ctypes

    handle = ctypes.CDLL(library)
    if not hasattr(handle, "tflite_plugin_create_delegate"):
        raise OSError("no tflite_plugin_create_delegate symbol: not a LiteRT external delegate")


def ncnn_vulkan(device: str, ncnn) -> tuple[bool, str]:
    """(use Vulkan, description) for `device` on ncnn."""
    if device == "cpu":
        return False, "cpu"
    if device not in ("vulkan", "gpu"):
        raise _refuse("ncnn", device)
    count = ncnn.get_gpu_count() if hasattr(ncnn, "get_gpu_count") else 0
    if count == 0:
        raise ConfigError(f"--device {device}: ncnn finds no Vulkan GPU (this ncnn build has no Vulkan, or the "
                          "Vulkan loader / GPU driver is missing: e.g. apt install mesa-vulkan-drivers)")
    name = ncnn.get_gpu_info(ncnn.get_default_gpu_index()).device_name()
    return True, f"vulkan ({name})"
