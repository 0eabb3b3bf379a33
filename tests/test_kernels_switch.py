"""ZOO_KERNELS=off (zoo.kernels.set_enabled): every model is built from Keras' own layers, and computes
what the kernels compute: outputs to 1e-5, a train step's gradients to float rounding, one model per
front-end; weights files move between the two builds both ways."""
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import kernels

FRONT_ENDS = ["vertical", "horizontal", "vertical-horizontal", "small-rectangular", "frame-single", "frame-many",
              "sample-level"]
BATCH, CLASSES = 8, 4
GRADIENT_TOLERANCE = 5e-2  # of the whole gradient's scale (the test says why)


def _is_kernel(layer):
    return type(layer).__module__.startswith("zoo.kernels")


def _build(model_id, on):
    keras.utils.set_random_seed(0)
    with kernels.enabled_as(on):
        model = zoo.load(model_id, num_classes=CLASSES)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0  # a train step's gradients without random masks
    return model


def _gradients(model, waveforms, labels):
    with tf.GradientTape() as tape:
        loss = keras.losses.binary_crossentropy(labels, model(waveforms, training=True))
    return [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_kernels_off_builds_keras_layers_with_the_same_outputs_and_gradients(front_end, tmp_path):
    model_id = f"musicnn-{front_end}"
    on, off = _build(model_id, True), _build(model_id, False)
    assert not any(_is_kernel(layer) for layer in off.layers)
    if front_end in ("vertical", "small-rectangular"):
        assert any(_is_kernel(layer) for layer in on.layers)
    on.save_weights(tmp_path / "on.weights.h5")  # Keras names weights after classes: the kernels keep the names
    off.load_weights(tmp_path / "on.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(on.get_weights(), off.get_weights()))

    rng = np.random.default_rng(0)
    waveforms = (0.1 * rng.standard_normal((BATCH, on.input_shape[1]))).astype("float32")
    labels = (rng.uniform(size=(BATCH, CLASSES)) > 0.5).astype("float32")
    np.testing.assert_allclose(on.predict(waveforms, verbose=0), off.predict(waveforms, verbose=0), atol=1e-5)
    with kernels.enabled_as(True):
        with_kernels = _gradients(on, waveforms, labels)
    with kernels.enabled_as(False):
        without = _gradients(off, waveforms, labels)
    # Float32 sums in another order; and a max-pooling window routes its gradient whole to one of two
    # nearly equal maxima, which rounding may swap. Seen (batch 8): 8e-6 of the gradient's scale on the
    # frame-level front-ends, 2e-3 to 4e-3 on the spectrogram ones, 3.7e-2 on small-rectangular's five
    # poolings. A wrong route is off by the size of its own gradients.
    scale = max(np.abs(g).max() for g in without)
    worst = max((np.abs(mine - theirs).max(), variable.path)
                for variable, mine, theirs in zip(on.trainable_variables, with_kernels, without))
    flat_on, flat_off = np.concatenate([g.ravel() for g in with_kernels]), np.concatenate([g.ravel() for g in without])
    assert worst[0] <= GRADIENT_TOLERANCE * scale, worst
    assert np.linalg.norm(flat_on - flat_off) <= GRADIENT_TOLERANCE * np.linalg.norm(flat_off)


def test_a_loaded_file_computes_without_its_kernels_when_they_are_off(tmp_path):
    model = _build("musicnn-vertical-horizontal", True)
    model.save(tmp_path / "m.keras")
    waveforms = (0.1 * np.random.default_rng(2).standard_normal((BATCH, model.input_shape[1]))).astype("float32")
    with kernels.enabled_as(False):
        loaded = keras.models.load_model(tmp_path / "m.keras")
        calls = []
        original = tf.nn.conv2d
        # With the kernels off the TensorFlow custom-gradient route (tf.nn.conv2d) is never taken.
        tf.nn.conv2d = lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs)
        try:
            off = loaded.predict(waveforms, verbose=0)
        finally:
            tf.nn.conv2d = original
    assert calls == []
    np.testing.assert_allclose(off, model.predict(waveforms, verbose=0), atol=1e-5)


def test_the_environment_variable_and_the_call():
    assert kernels.layer_class("Conv2D") is not keras.layers.Conv2D
    previous = kernels.set_enabled(False)
    try:
        assert kernels.layer_class("Conv2D") is keras.layers.Conv2D
        assert kernels.layer_class("FrequencyMaxPooling2D") is keras.layers.MaxPooling2D
    finally:
        kernels.set_enabled(None)
    assert previous is True
    code = "import zoo.kernels as k; print(k.enabled(), k.layer_class('BatchNormalization').__module__)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "ZOO_KERNELS": "off", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert run.stdout.split() == ["False", "keras.src.layers.normalization.batch_normalization"], run.stderr[-2000:]


def test_weights_files_of_release_0_1_0_load(tmp_path):
    """Their one-channel convolutions' weights are named after the class of the time
    (single_channel_conv2d): written here by a model holding that class."""
    from zoo.kernels.single_channel_conv import SingleChannelConv2D
    from zoo.weights import load_weights_file

    model = _build("musicnn-vertical-horizontal", True)
    legacy = keras.models.clone_model(
        model, clone_function=lambda layer: (SingleChannelConv2D.from_config(layer.get_config())
                                             if type(layer).__name__ == "Conv2D" else layer.__class__.from_config(
                                                 layer.get_config())))
    legacy.set_weights(model.get_weights())
    legacy.save_weights(tmp_path / "old.weights.h5")
    import h5py

    with h5py.File(tmp_path / "old.weights.h5") as handle:
        assert "single_channel_conv2d_4" in handle["layers"]
    fresh = _build("musicnn-vertical-horizontal", True)
    fresh.set_weights([np.zeros_like(w) for w in fresh.get_weights()])
    load_weights_file(fresh, tmp_path / "old.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), fresh.get_weights()))
