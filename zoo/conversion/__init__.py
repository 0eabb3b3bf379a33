"""Zoo models in the forms other runtimes read: ONNX (``to_onnx``, tf2onnx) and TFLite
(``to_tflite``), both through ``real_valued_stft``, a twin whose STFT needs no complex tensors,
and ``explicit_padding``, a twin whose 'same' convolutions with kernels shorter than their
strides pad as TensorFlow does.
``errors``: ``ConversionError`` and ``ExportError``. The tagging runtimes cache these
conversions; the ``export`` package writes them as files and servables.

May import: ``zoo.models`` and the floors below it.
"""
from zoo.conversion.errors import ConversionError, ExportError

__all__ = ["ConversionError", "ExportError"]
