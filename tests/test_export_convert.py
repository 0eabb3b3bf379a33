"""TFLite and ONNX exports reproduce the Keras model; where a runtime cannot, the error says why."""
import numpy as np
import pytest

from export.errors import ConversionError
from export.portable import real_valued_twin
from export.saved_model import build_servable_model
from export.to_onnx import convert_to_onnx, export_onnx, onnx_predict
from export.to_tflite import convert_to_tflite, export_tflite, tflite_predict

WAVEFORM_ID = "maxpool-frame-single"
SPECTROGRAM_ID = "musicnn-vertical-horizontal"
LENGTHS = (16000, 40000)
TOLERANCE = 1e-5


def _noise(batch, samples, seed=0):
    rng = np.random.default_rng(seed)
    return (0.3 * rng.standard_normal((batch, samples))).astype(np.float32)


@pytest.fixture(scope="module")
def models():
    return {mid: build_servable_model(mid) for mid in (WAVEFORM_ID, SPECTROGRAM_ID)}


def _max_difference(predict, model):
    differences = []
    for n in LENGTHS:
        x = _noise(2, n, seed=n)
        differences.append(np.abs(predict(x) - model(x, training=False).numpy()).max())
    return max(differences)


@pytest.mark.parametrize("model_id", [WAVEFORM_ID, SPECTROGRAM_ID])
def test_tflite_with_builtins_only_matches_keras(model_id, models, tmp_path):
    exported = export_tflite(models[model_id], tmp_path / "model.tflite")
    assert not exported.uses_select_tf_ops
    assert _max_difference(lambda x: tflite_predict(exported.path, x), models[model_id]) <= TOLERANCE


@pytest.mark.parametrize("model_id", [WAVEFORM_ID, SPECTROGRAM_ID])
def test_onnx_matches_keras(model_id, models, tmp_path):
    exported = export_onnx(models[model_id], tmp_path / "model.onnx")
    assert _max_difference(lambda x: onnx_predict(exported.path, x), models[model_id]) <= TOLERANCE


def test_the_real_valued_stft_twin_shares_every_weight(models):
    model = models[SPECTROGRAM_ID]
    twin = real_valued_twin(model)
    assert {id(w) for w in twin.weights} == {id(w) for w in model.weights}
    assert real_valued_twin(models[WAVEFORM_ID]) is models[WAVEFORM_ID]
    assert _max_difference(lambda x: twin(x, training=False).numpy(), model) <= TOLERANCE


def test_kapre_complex_stft_is_not_expressible_in_onnx(models):
    with pytest.raises(ConversionError, match="RFFT.*only allows ComplexAbs as consumer") as refused:
        convert_to_onnx(models[SPECTROGRAM_ID], real_valued_stft=False)
    assert "Real" in str(refused.value) and "Imag" in str(refused.value)


def test_kapre_complex_stft_needs_select_tf_ops_in_tflite(models):
    model = models[SPECTROGRAM_ID]
    with pytest.raises(ConversionError, match="TF Select ops: Transpose"):
        convert_to_tflite(model, real_valued_stft=False)
    flatbuffer = convert_to_tflite(model, real_valued_stft=False, select_tf_ops=True)
    assert _max_difference(lambda x: tflite_predict(flatbuffer, x), model) <= TOLERANCE
