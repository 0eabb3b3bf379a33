"""Zoo core: every id builds, runs, round-trips through .keras; errors are clear."""
import keras
import librosa
import numpy as np
import pytest

import zoo
from zoo.models import registry
from zoo.models.input_stage import LogMelConfig, log_mel

SR = 16000
ALL_IDS = zoo.list_models()
VARIABLE_IDS = [i for i in ALL_IDS if registry.resolve(i).back.length_policy == registry.VARIABLE]
FIXED_IDS = [i for i in ALL_IDS if i not in VARIABLE_IDS]


def _noise(batch, samples, seed=0):
    rng = np.random.default_rng(seed)
    return (0.3 * rng.standard_normal((batch, samples))).astype("float32")


def _music_like(seconds, seed=0):
    """Chords plus noise bursts: varied spectra, including loud low bins."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    wave = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(55, 4000, size=6))
    wave += rng.standard_normal(t.size) * (np.sin(2 * np.pi * 2 * t) > 0.7)
    return (0.9 * wave / np.abs(wave).max()).astype("float32")


def test_grid_is_seven_by_seven_with_aliases():
    assert len(zoo.front_ends()) == 7 and len(zoo.back_ends()) == 7
    assert len(ALL_IDS) == 49
    assert {f"{b}-{f}" for b in zoo.back_ends() for f in zoo.front_ends()} == set(ALL_IDS)
    for alias, target in zoo.ALIASES.items():
        assert registry.resolve(alias).model_id == target
    assert zoo.list_models("musicnn-*") == sorted(i for i in ALL_IDS if i.startswith("musicnn-"))


@pytest.mark.parametrize("model_id", ALL_IDS)
def test_builds_runs_and_round_trips_through_keras_file(model_id, tmp_path):
    model = zoo.load(model_id, num_classes=7)
    clip = _noise(2, 3 * SR)
    scores = model.predict(clip, verbose=0)
    assert scores.shape == (2, 7)
    assert np.all(np.isfinite(scores)) and scores.min() >= 0.0 and scores.max() <= 1.0

    path = tmp_path / f"{model_id}.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(restored.predict(clip, verbose=0), scores)
    assert type(restored.get_layer("scores")) is zoo.TaggedSigmoid


@pytest.mark.parametrize("model_id", VARIABLE_IDS)
def test_variable_length_models_take_any_length(model_id):
    model = zoo.load(model_id, input_seconds=None, num_classes=5)
    shortest = registry.resolve(model_id).front.min_samples
    for samples in (shortest, 5 * SR + 123):
        scores = model.predict(_noise(1, samples, seed=samples), verbose=0)
        assert scores.shape == (1, 5) and np.all(np.isfinite(scores))


@pytest.mark.parametrize("model_id", ["dense-vertical-horizontal", "fcn-sample-level"])
def test_fixed_length_models_reject_other_lengths_clearly(model_id):
    model = zoo.load(model_id)
    with pytest.raises(ValueError, match=r"expected shape=\(None, 48000\), found shape=\(1, 32000\)"):
        model.predict(_noise(1, 2 * SR), verbose=0)
    with pytest.raises(ValueError, match="fixed-length back-end .* input_seconds must be a number"):
        zoo.load(model_id, input_seconds=None)


def test_trailing_channel_axis_is_accepted():
    # One model instance per rank: Keras' predict retraces a rank change with an unknown
    # rank, which its own input check cannot handle (docs/models.md, "Input").
    clip = _noise(2, 3 * SR)
    keras.utils.set_random_seed(0)
    with_channel = zoo.load("maxpool-vertical").predict(clip[..., None], verbose=0)
    keras.utils.set_random_seed(0)
    without_channel = zoo.load("maxpool-vertical").predict(clip, verbose=0)
    np.testing.assert_allclose(with_channel, without_channel, atol=1e-6)


def test_include_top_false_returns_the_embedding():
    assert zoo.load("musicnn-vertical-horizontal", include_top=False).output.shape == (None, 200)
    assert zoo.load("dense-small-rectangular", include_top=False).output.shape == (None, 256)


def test_tag_names_are_carried_by_the_model(tmp_path):
    names = ["rock", "piano", "slow"]
    model = zoo.load("avgpool-frame-single", num_classes=3, tag_names=names)
    assert zoo.tag_names(model) == names
    model.save(tmp_path / "m.keras")
    assert zoo.tag_names(keras.models.load_model(tmp_path / "m.keras")) == names
    with pytest.raises(ValueError, match="tag_names has 3 names for num_classes=4"):
        zoo.load("avgpool-frame-single", num_classes=4, tag_names=names)


def test_unknown_model_lists_close_ids():
    with pytest.raises(zoo.UnknownModelError) as caught:
        zoo.load("musicnn-vertical-horizonal")
    message = str(caught.value)
    assert "Unknown model 'musicnn-vertical-horizonal'" in message
    assert "musicnn-vertical-horizontal" in message and "list_models" in message


def test_bad_override_names_the_parameter_and_the_valid_ones():
    with pytest.raises(zoo.InvalidOverrideError) as caught:
        zoo.load("rnn-sample-level", rnn_unitz=64)
    message = str(caught.value)
    assert "'rnn-sample-level' has no parameter 'rnn_unitz'" in message
    assert "rnn_units" in message and "filters" in message


def test_overrides_reach_the_builders():
    model = zoo.load("rnn-frame-many", rnn_units=16, filters_per_shape=8, cell="lstm")
    assert model.get_layer("backend_lstm2").units == 16
    assert model.get_layer("frontend_concat").output.shape[-1] == 24
    assert zoo.load("maxpool-vertical", n_mels=64).get_layer("logmel").output.shape[-1] == 64


def _librosa_log_mel(wave):
    mel = librosa.feature.melspectrogram(
        y=wave, sr=SR, n_fft=512, hop_length=256, n_mels=96, center=True, pad_mode="reflect"
    )
    return np.log10(10000 * mel.T.astype("float32") + 1)


def test_input_stage_matches_librosa_musicnn_preprocessing():
    waveform = keras.Input(shape=(None,))
    stage = keras.Model(waveform, log_mel(waveform, LogMelConfig()))
    for seed, seconds in ((0, 3.0), (1, 4.7)):
        wave = _music_like(seconds, seed)
        ours = stage.predict(wave[None], verbose=0)[0]
        reference = _librosa_log_mel(wave)
        assert ours.shape == reference.shape
        assert np.abs(ours - reference).max() <= 1e-3


# Trainable variable shapes of musicnn 0.1.0's MTT_musicnn and MTT_vgg checkpoints
# (tf.train checkpoint reader, Adam slots excluded). Conv2D kernels of the mid-end are
# [7, C, 1, 64]: our Conv1D holds the same numbers as [7, C, 64].
MUSICNN_CHECKPOINT_SHAPES = [
    [1], [1], [204], [204], [204], [204], [51], [51], [51], [51], [51], [51],
    [64], [64], [64], [64], [64], [64], [1506], [1506], [200], [200],
    [204], [7, 38, 1, 204], [204], [7, 67, 1, 204], [51], [128, 1, 1, 51], [51], [64, 1, 1, 51],
    [51], [32, 1, 1, 51], [64], [7, 561, 1, 64], [64], [7, 64, 1, 64], [64], [7, 64, 1, 64],
    [200], [1506, 200], [50], [200, 50],
]
VGG_CHECKPOINT_SHAPES = (
    [[128], [3, 3, 1, 128]] + [[128], [3, 3, 128, 128]] * 4 + [[1], [1]] + [[128], [128]] * 5
    + [[50], [256, 50]]
)


def _squeezed(shapes):
    return sorted(tuple(d for d in s if d != 1) or (1,) for s in shapes)


@pytest.mark.parametrize(
    "model_id, checkpoint_shapes",
    [("musicnn-vertical-horizontal", MUSICNN_CHECKPOINT_SHAPES), ("vgg", VGG_CHECKPOINT_SHAPES)],
)
def test_exact_architectures_have_the_checkpoint_variable_shapes(model_id, checkpoint_shapes):
    model = zoo.load(model_id)
    ours = [list(w.shape) for w in model.trainable_weights]
    assert _squeezed(ours) == _squeezed(checkpoint_shapes)
    assert sum(np.prod(s) for s in ours) == sum(np.prod(s) for s in checkpoint_shapes)


def test_musicnn_layer_shapes_follow_the_paper():
    model = zoo.load("musicnn-vertical-horizontal")
    assert model.get_layer("frontend_timbral0_conv").kernel.shape == (7, 38, 1, 204)
    assert model.get_layer("frontend_timbral1_conv").kernel.shape == (7, 67, 1, 204)
    assert model.get_layer("frontend_concat").output.shape == (None, 188, 561)
    assert model.get_layer("midend_concat").output.shape == (None, 188, 753)
    assert model.get_layer("backend_time_max_mean").output.shape == (None, 1506)


def test_catalogue_lists_params_and_flops():
    frame = zoo.catalogue(pattern="*-vertical-horizontal")
    assert list(frame.columns[:6]) == ["model", "front_end", "back_end", "input", "length", "params"]
    musicnn = frame.set_index("model").loc["musicnn-vertical-horizontal"]
    assert musicnn.params == 792079  # 787,159 trainable + 4,920 BN moving statistics
    # The two timbral convolutions alone: 2 * 7*38*204 * 188*59 + 2 * 7*67*204 * 188*30.
    timbral = 2 * (7 * 38 * 204 * 188 * 59 + 7 * 67 * 204 * 188 * 30) / 1e6
    assert timbral < musicnn.mflops_per_clip < timbral * 1.5
