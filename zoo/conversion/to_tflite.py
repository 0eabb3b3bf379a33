"""TFLite form of a zoo Keras model (the .tflite flatbuffer).

Findings (TF 2.17.1, kapre 0.4.1): waveform models convert with TFLite builtins alone.
Spectrogram models do not: the RFFT inside kapre's STFT lowers to the builtin RFFT2D, but
kapre then transposes the complex64 spectrum, and no builtin transposes complex tensors
("'tf.Transpose' op is neither a custom op nor a flex op ... TF Select ops: Transpose").
They convert with SELECT_TF_OPS (one Flex node; the app must link the Flex delegate), or,
the default here, with builtins alone through the real-valued STFT twin (zoo.conversion.real_valued_stft).
kapre's STFTTflite is not needed: it also avoids complex tensors, but only for batch 1
and a fixed length, while the twin keeps the batch and length dynamic.
"""
import contextlib
import io

import tensorflow as tf

from zoo.conversion.errors import ConversionError
from zoo.conversion.explicit_padding import explicit_padding_twin
from zoo.conversion.real_valued_stft import real_valued_twin

__all__ = ["convert_to_tflite"]


def _last_lines(text, count=12):
    return "\n".join(str(text).strip().splitlines()[-count:])


def convert_to_tflite(model, *, real_valued_stft=True, select_tf_ops=False):
    """The .tflite flatbuffer (bytes) of a zoo Keras model; ConversionError on failure.

    Args:
        real_valued_stft: swap kapre's complex STFT for the real-valued twin (builtins only).
        select_tf_ops: also allow TensorFlow (Flex) kernels; the runtime must include them.
    """
    source = explicit_padding_twin(real_valued_twin(model) if real_valued_stft else model)
    converter = tf.lite.TFLiteConverter.from_keras_model(source)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + (
        [tf.lite.OpsSet.SELECT_TF_OPS] if select_tf_ops else []
    )
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras prints the temporary artifact's endpoints
            return converter.convert()
    except Exception as error:  # the converter raises several private error types
        raise ConversionError(f"TFLite conversion of {model.name!r} failed:\n{_last_lines(error)}") from None
