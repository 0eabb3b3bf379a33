"""zoo.kernels.frequency_max: Keras' MaxPooling2D over all frequency bins, whose inference may take one
reduction (WHOLE_AXIS_REDUCE_BACKENDS); the reduction is forced onto this process' backend here to
compare it with the window."""
import keras
import numpy as np
import pytest

from zoo.kernels import frequency_max
from zoo.kernels.frequency_max import FrequencyMaxPooling2D


@pytest.fixture
def reduce_here(monkeypatch):
    monkeypatch.setattr(frequency_max, "WHOLE_AXIS_REDUCE_BACKENDS", (keras.config.backend(),))


def _maps(rng):
    x = rng.normal(size=(3, 11, 17, 5)).astype("float32")
    x[0, :, :, 0] = 0.0  # ties, as after a ReLU
    return x


def test_reduction_equals_the_window(reduce_here):
    x = _maps(np.random.default_rng(0))
    window = keras.layers.MaxPooling2D((1, 17))(x)
    reduced = FrequencyMaxPooling2D((1, 17))(x, training=False)
    assert reduced.shape == window.shape == (3, 11, 1, 5)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(reduced), keras.ops.convert_to_numpy(window))


def test_training_and_partial_windows_keep_the_window(reduce_here, monkeypatch):
    calls = []
    original = keras.layers.MaxPooling2D.call
    monkeypatch.setattr(keras.layers.MaxPooling2D, "call",
                        lambda self, inputs: calls.append(1) or original(self, inputs))
    x = _maps(np.random.default_rng(1))
    FrequencyMaxPooling2D((1, 17))(x, training=True)
    FrequencyMaxPooling2D((1, 8), strides=(1, 8))(x, training=False)  # does not span the axis
    assert len(calls) == 2
    FrequencyMaxPooling2D((1, 17))(x, training=False)
    assert len(calls) == 2


def test_saved_config_round_trips():
    pool = FrequencyMaxPooling2D((1, 96), name="frontend_temporal32_freq_max")
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(pool))
    assert type(again) is FrequencyMaxPooling2D
    assert again.pool_size == (1, 96) and again.name == pool.name
