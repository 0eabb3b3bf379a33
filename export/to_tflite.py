"""TFLite export of a zoo model: a .tflite file taking clips of any length (waveform in, zoo.tag's
scores out). The conversion itself, and what TFLite's builtins cannot express, is
``zoo.conversion.to_tflite``. ``quantization``: "fp16" (float16 weights) or "int8" (weights and
activations, the in-graph log-mel kept float32, calibrated on ``export.calibration``'s clips).

    >>> export_tflite("musicnn", "musicnn-int8.tflite", quantization="int8")
"""
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from export.patching import clip_model
from export.saved_model import servable
from zoo.conversion.to_tflite import QUANTIZATIONS, convert_to_tflite
from zoo.models.log_mel_config import LOG_MEL_LAYER

__all__ = ["TfliteExport", "convert_to_tflite", "export_tflite", "tflite_predict"]


@dataclass(frozen=True)
class TfliteExport:
    path: str
    uses_select_tf_ops: bool
    real_valued_stft: bool
    quantization: str = None


def export_tflite(model, path, *, real_valued_stft=True, select_tf_ops=False, patch_samples=None, quantization=None,
                  calibration=None, sample_rate=16000):
    """Write model (a Keras model, a zoo model id, a .keras file or a run folder) as a .tflite file
    taking clips of any length and returning zoo.tag's scores (the mean over its patches,
    export.patching); returns a TfliteExport describing it.

    ``quantization``: None, "fp16" or "int8"; "int8" is calibrated on ``calibration``
    (``zoo.tagging.calibration.Calibration``; default: rendered GM clips) at ``sample_rate``."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown TFLite quantization {quantization!r}; known: fp16, int8 (or None)")
    model, _, own_patch = servable(model)
    clips = None
    if quantization == "int8":
        from export.calibration import calibration_clips

        clips = [clip[0] for clip in calibration_clips(calibration, sample_rate)]
    flatbuffer = convert_to_tflite(clip_model(model, samples=patch_samples or own_patch),
                                   real_valued_stft=real_valued_stft, select_tf_ops=select_tf_ops,
                                   quantization=quantization, calibration_inputs=clips, keep_float=(LOG_MEL_LAYER,))
    with open(path, "wb") as f:
        f.write(flatbuffer)
    return TfliteExport(path=str(path), uses_select_tf_ops=select_tf_ops, real_valued_stft=real_valued_stft,
                        quantization=quantization)


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
