"""TFLite and ONNX exports give zoo.tag's answer; where a runtime cannot, the error says why."""
import numpy as np
import pytest
import tensorflow as tf
from test_export import ZOO_TAG_TOLERANCE, zoo_patch_means

import zoo
from export.errors import ConversionError
from export.saved_model import build_servable_model, export_saved_model
from export.to_onnx import convert_to_onnx, export_onnx, onnx_predict
from export.to_tflite import convert_to_tflite, export_tflite, tflite_predict
from zoo.conversion.real_valued_stft import real_valued_twin

WAVEFORM_ID = "maxpool-frame-single"
SPECTROGRAM_ID = "musicnn-vertical-horizontal"
LENGTHS = (16000, 100000)  # shorter than one patch; two patches and a dropped tail
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


def _max_difference_from_zoo_tag(predict, model):
    return max(np.abs(predict(x) - zoo_patch_means(model, x)).max() for x in (_noise(2, n, seed=n) for n in LENGTHS))


@pytest.mark.parametrize("model_id", [WAVEFORM_ID, SPECTROGRAM_ID])
def test_tflite_with_builtins_only_gives_zoo_tags_answer(model_id, models, tmp_path):
    exported = export_tflite(models[model_id], tmp_path / "model.tflite")
    assert not exported.uses_select_tf_ops
    difference = _max_difference_from_zoo_tag(lambda x: tflite_predict(exported.path, x), models[model_id])
    assert difference <= ZOO_TAG_TOLERANCE


@pytest.mark.parametrize("model_id", [WAVEFORM_ID, SPECTROGRAM_ID])
def test_onnx_gives_zoo_tags_answer(model_id, models, tmp_path):
    exported = export_onnx(models[model_id], tmp_path / "model.onnx")
    difference = _max_difference_from_zoo_tag(lambda x: onnx_predict(exported.path, x), models[model_id])
    assert difference <= ZOO_TAG_TOLERANCE


def test_one_answer_everywhere_for_pretrained_musicnn(tmp_path):
    """zoo.tag, the SavedModel's serving_default, the TFLite and the ONNX exports: same scores."""
    model = build_servable_model("musicnn", weights="mtt")
    t = np.arange(int(11.3 * 16000)) / 16000
    clip = (0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) + 0.05 * _noise(1, len(t))[0])
    clip = clip.astype(np.float32)
    tags = zoo.tag(clip, top_k=None)
    expected = tags.set_index("tag")["score"].loc[zoo.tag_names(model)].to_numpy()
    saved = export_saved_model(model, tmp_path / "served", check_ops=False, warmup_requests=False)
    served = tf.saved_model.load(saved.path).signatures["serving_default"](waveform=tf.constant(clip[None]))
    answers = {
        "saved model": served["scores"].numpy()[0],
        "tflite": tflite_predict(export_tflite(model, tmp_path / "m.tflite").path, clip[None])[0],
        "onnx": onnx_predict(export_onnx(model, tmp_path / "m.onnx").path, clip[None])[0],
    }
    for runtime, scores in answers.items():
        assert np.abs(scores - expected).max() <= ZOO_TAG_TOLERANCE, runtime


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
