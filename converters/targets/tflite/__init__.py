"""The TFLite target: litert-torch export and fp16 weight cast (`export`), one `.tflite` inspector (`reader`),
INT8 through ai-edge-quantizer (`int8`)."""
from .target import TFLiteInt8, TFLiteTarget

__all__ = ['TFLiteInt8', 'TFLiteTarget']
