"""TFLite export of a zoo model (waveform in, tag scores out).

Findings (TF 2.17.1, kapre 0.4.1): waveform models convert with TFLite builtins alone.
Spectrogram models do not: the RFFT inside kapre's STFT lowers to the builtin RFFT2D, but
kapre then transposes the complex64 spectrum, and no builtin transposes complex tensors
("'tf.Transpose' op is neither a custom op nor a flex op ... TF Select ops: Transpose").
They convert with SELECT_TF_OPS (one Flex node; the app must link the Flex delegate), or,
the default here, with builtins alone through the real-valued STFT twin (export.portable).
kapre's STFTTflite is not needed: it also avoids complex tensors, but only for batch 1
and a fixed length, while the twin keeps the batch and length dynamic.
"""
import contextlib
import io
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from export.errors import ConversionError
from export.patching import clip_model
from export.portable import real_valued_twin

__all__ = ["TfliteExport", "convert_to_tflite", "export_tflite", "tflite_predict"]


@dataclass(frozen=True)
class TfliteExport:
    path: str
    uses_select_tf_ops: bool
    real_valued_stft: bool


def _last_lines(text, count=12):
    return "\n".join(str(text).strip().splitlines()[-count:])


def convert_to_tflite(model, *, real_valued_stft=True, select_tf_ops=False):
    """The .tflite flatbuffer (bytes) of a zoo Keras model; ConversionError on failure.

    Args:
        real_valued_stft: swap kapre's complex STFT for the real-valued twin (builtins only).
        select_tf_ops: also allow TensorFlow (Flex) kernels; the runtime must include them.
    """
    source = real_valued_twin(model) if real_valued_stft else model
    converter = tf.lite.TFLiteConverter.from_keras_model(source)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + (
        [tf.lite.OpsSet.SELECT_TF_OPS] if select_tf_ops else []
    )
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras prints the temporary artifact's endpoints
            return converter.convert()
    except Exception as error:  # the converter raises several private error types
        raise ConversionError(f"TFLite conversion of {model.name!r} failed:\n{_last_lines(error)}") from None


def export_tflite(model, path, *, real_valued_stft=True, select_tf_ops=False):
    """Write model as a .tflite file taking clips of any length and returning zoo.tag's scores
    (the mean over its patches, export.patching); returns a TfliteExport describing it."""
    flatbuffer = convert_to_tflite(clip_model(model), real_valued_stft=real_valued_stft, select_tf_ops=select_tf_ops)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    return TfliteExport(path=str(path), uses_select_tf_ops=select_tf_ops, real_valued_stft=real_valued_stft)


def tflite_predict(model_content_or_path, waveforms):
    """Run a .tflite zoo model (bytes or path) on float32 [batch, samples]; scores [batch, classes]."""
    waveforms = np.asarray(waveforms, dtype=np.float32)
    if isinstance(model_content_or_path, (bytes, bytearray)):
        interpreter = tf.lite.Interpreter(model_content=bytes(model_content_or_path))
    else:
        interpreter = tf.lite.Interpreter(model_path=str(model_content_or_path))
    waveform_input = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(waveform_input["index"], waveforms.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(waveform_input["index"], waveforms)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
