"""The ONNX target: the source's ONNX as it is (`target`), fp16 weight storage (`fp16`), INT8 as a QDQ graph
(`qdq`)."""
from .target import OnnxInt8, OnnxTarget

__all__ = ['OnnxInt8', 'OnnxTarget']
