"""TFLite form of a zoo Keras model (the .tflite flatbuffer).

Findings (TF 2.17.1, kapre 0.4.1): waveform models convert with TFLite builtins alone.
Spectrogram models do not: the RFFT inside kapre's STFT lowers to the builtin RFFT2D, but
kapre then transposes the complex64 spectrum, and no builtin transposes complex tensors
("'tf.Transpose' op is neither a custom op nor a flex op ... TF Select ops: Transpose").
They convert with SELECT_TF_OPS (one Flex node; the app must link the Flex delegate), or,
the default here, with builtins alone through the real-valued STFT twin (zoo.conversion.real_valued_stft).
kapre's STFTTflite is not needed: it also avoids complex tensors, but only for batch 1
and a fixed length, while the twin keeps the batch and length dynamic.

Reduced precision (``quantization``): "fp16" stores the weights as float16 (half the file; XNNPACK
on x86 computes in float32 after widening them at load); "int8" quantizes weights and activations
(the converter's full-integer path with float input and output, ops without an int8 kernel left in
float), the activations' ranges set by ``calibration_inputs``. Ops named with a ``keep_float``
substring (e.g. an input stage: a power spectrogram's range is far beyond int8's) stay float32,
through the converter's quantization debugger, which can leave named nodes unquantized.

    >>> flatbuffer = convert_to_tflite(model, quantization="int8", calibration_inputs=patches)
"""
import contextlib
import io
import warnings

import numpy as np
import tensorflow as tf

from zoo.conversion.errors import ConversionError
from zoo.conversion.explicit_padding import explicit_padding_twin
from zoo.conversion.real_valued_stft import real_valued_twin

__all__ = ["QUANTIZATIONS", "convert_to_tflite"]

QUANTIZATIONS = (None, "fp16", "int8")


def _last_lines(text, count=12):
    return "\n".join(str(text).strip().splitlines()[-count:])


def _representative(calibration_inputs):
    """The converter's calibration generator: one input at a time (batch 1), as float32."""
    inputs = [np.asarray(item, np.float32) for item in calibration_inputs]

    def batches():
        for item in inputs:
            yield [item[np.newaxis]]

    return batches


def _tensor_names(flatbuffer):
    return [detail["name"] for detail in tf.lite.Interpreter(model_content=flatbuffer).get_tensor_details()]


def _quantized(converter, quantization, calibration_inputs, keep_float):
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "fp16":
        converter.target_spec.supported_types = [tf.float16]
        return converter.convert()
    converter.representative_dataset = _representative(calibration_inputs)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    if not keep_float:
        return converter.convert()
    # The debugger calibrates once and converts again with the named ops left in float.
    options = tf.lite.experimental.QuantizationDebugOptions(fully_quantize=False)
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=converter.representative_dataset, debug_options=options)
    names = _tensor_names(debugger.get_nondebug_quantized_model())
    options.denylisted_nodes = sorted({name for name in names if any(part in name for part in keep_float)})
    return tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=converter.representative_dataset,
        debug_options=options).get_nondebug_quantized_model()


def convert_to_tflite(model, *, real_valued_stft=True, select_tf_ops=False, quantization=None,
                      calibration_inputs=None, keep_float=()):
    """The .tflite flatbuffer (bytes) of a zoo Keras model; ConversionError on failure.

    Args:
        real_valued_stft: swap kapre's complex STFT for the real-valued twin (builtins only).
        select_tf_ops: also allow TensorFlow (Flex) kernels; the runtime must include them.
        quantization: None (float32), "fp16" (float16 weights) or "int8" (``QUANTIZATIONS``).
        calibration_inputs: for "int8", the model's inputs that set the activations' ranges
            (an array, one input per row, or a list of inputs).
        keep_float: for "int8", substrings of the names of ops that stay float32.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown TFLite quantization {quantization!r}; known: fp16, int8 (or None)")
    if quantization == "int8" and (calibration_inputs is None or len(calibration_inputs) == 0):
        raise ValueError("int8 quantization needs calibration inputs; got none")
    source = explicit_padding_twin(real_valued_twin(model) if real_valued_stft else model)
    converter = tf.lite.TFLiteConverter.from_keras_model(source)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + (
        [tf.lite.OpsSet.SELECT_TF_OPS] if select_tf_ops else []
    )
    try:
        # Keras prints the temporary artifact's endpoints; the int8 converter warns of float inputs.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if quantization is None:
                return converter.convert()
            return _quantized(converter, quantization, calibration_inputs, keep_float)
    except Exception as error:  # the converter raises several private error types
        raise ConversionError(f"TFLite conversion of {model.name!r} failed:\n{_last_lines(error)}") from None
