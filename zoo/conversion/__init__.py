"""Zoo models in the forms other runtimes read: ONNX (``to_onnx``, tf2onnx) and TFLite
(``to_tflite``), both through ``real_valued_stft``, a twin whose STFT needs no complex tensors,
and ``explicit_padding``, a twin whose 'same' convolutions with kernels shorter than their
strides pad as TensorFlow does.
``onnx_int8``: the static int8 form of an ONNX model (ONNX Runtime's quantization, with the
choices measured on the zoo's taggers); ``to_tflite`` also writes float16 and int8 forms.
``errors``: ``ConversionError`` and ``ExportError``. The tagging runtimes cache these
conversions; the ``export`` package writes them as files and servables.

May import: ``zoo.models`` and the floors below it.
"""
from zoo.conversion.errors import ConversionError, ExportError

__all__ = ["ConversionError", "ExportError"]
