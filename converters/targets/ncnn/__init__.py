"""The NCNN target: the source's ONNX through pnnx (`export`), one reader/writer of `.param` text (`param`) and of
the `.bin` layout (`bin`), the fp32 head split for fp16 artifacts (`split`), our own writer of ncnn's int8
format (`int8`)."""
from .target import NcnnInt8, NcnnTarget

__all__ = ['NcnnInt8', 'NcnnTarget']
