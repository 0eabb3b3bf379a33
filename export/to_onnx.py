"""ONNX export of a zoo model: a .onnx file taking clips of any length (waveform in, zoo.tag's
scores out). The conversion itself, and what ONNX cannot express, is ``zoo.conversion.to_onnx``.
"""
from dataclasses import dataclass

import numpy as np

from export.patching import clip_model
from export.saved_model import servable
from zoo.conversion.to_onnx import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME, convert_to_onnx

__all__ = ["DEFAULT_OPSET", "OnnxExport", "convert_to_onnx", "export_onnx", "onnx_predict"]


@dataclass(frozen=True)
class OnnxExport:
    path: str
    opset: int
    real_valued_stft: bool


def export_onnx(model, path, *, opset=DEFAULT_OPSET, real_valued_stft=True, patch_samples=None):
    """Write model (a Keras model, a zoo model id, a .keras file or a run folder) as a .onnx file
    taking clips of any length and returning zoo.tag's scores (the mean over its patches,
    export.patching); returns an OnnxExport describing it."""
    model, _, own_patch = servable(model)
    onnx_model = convert_to_onnx(clip_model(model, samples=patch_samples or own_patch), opset=opset,
                                 real_valued_stft=real_valued_stft)
    with open(path, "wb") as f:
        f.write(onnx_model.SerializeToString())
    return OnnxExport(path=str(path), opset=opset, real_valued_stft=real_valued_stft)


def onnx_predict(model_or_path, waveforms):
    """Run an ONNX zoo model (ModelProto or path) with onnxruntime on float32 [batch, samples]."""
    import onnxruntime

    source = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    (scores,) = session.run([OUTPUT_NAME], {INPUT_NAME: np.asarray(waveforms, dtype=np.float32)})
    return scores
