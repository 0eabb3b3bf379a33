"""ONNX export of a zoo model: a .onnx file taking clips of any length (waveform in, zoo.tag's
scores out). The conversion itself, and what ONNX cannot express, is ``zoo.conversion.to_onnx``;
``quantization="int8"`` writes the static int8 form (``zoo.conversion.onnx_int8``, the in-graph
log-mel kept float32), calibrated on ``export.calibration``'s clips.

    >>> export_onnx("musicnn", "musicnn-int8.onnx", quantization="int8")   # GM clips calibrate it
"""
from dataclasses import dataclass

import numpy as np

from export.patching import clip_model
from export.saved_model import servable
from zoo.conversion.to_onnx import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME, convert_to_onnx
from zoo.models.log_mel_config import LOG_MEL_LAYER

__all__ = ["DEFAULT_OPSET", "ONNX_QUANTIZATIONS", "OnnxExport", "convert_to_onnx", "export_onnx", "onnx_predict"]

ONNX_QUANTIZATIONS = (None, "int8")


@dataclass(frozen=True)
class OnnxExport:
    path: str
    opset: int
    real_valued_stft: bool
    quantization: str = None


def export_onnx(model, path, *, opset=DEFAULT_OPSET, real_valued_stft=True, patch_samples=None, quantization=None,
                calibration=None, sample_rate=16000):
    """Write model (a Keras model, a zoo model id, a .keras file or a run folder) as a .onnx file
    taking clips of any length and returning zoo.tag's scores (the mean over its patches,
    export.patching); returns an OnnxExport describing it.

    ``quantization="int8"``: the static int8 form, calibrated on ``calibration``
    (``zoo.tagging.calibration.Calibration``; default: rendered GM clips) at ``sample_rate``."""
    if quantization not in ONNX_QUANTIZATIONS:
        raise ValueError(f"unknown ONNX quantization {quantization!r}; known: int8 (or None)")
    model, _, own_patch = servable(model)
    onnx_model = convert_to_onnx(clip_model(model, samples=patch_samples or own_patch), opset=opset,
                                 real_valued_stft=real_valued_stft)
    content = onnx_model.SerializeToString()
    if quantization == "int8":
        from export.calibration import calibration_clips
        from zoo.conversion.onnx_int8 import quantize_onnx_int8

        content = quantize_onnx_int8(content, calibration_clips(calibration, sample_rate), keep_float=(LOG_MEL_LAYER,))
    with open(path, "wb") as f:
        f.write(content)
    return OnnxExport(path=str(path), opset=opset, real_valued_stft=real_valued_stft, quantization=quantization)


def onnx_predict(model_or_path, waveforms):
    """Run an ONNX zoo model (ModelProto or path) with onnxruntime on float32 [batch, samples]."""
    import onnxruntime

    source = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    (scores,) = session.run([OUTPUT_NAME], {INPUT_NAME: np.asarray(waveforms, dtype=np.float32)})
    return scores
