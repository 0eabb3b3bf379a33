"""The back-ends' poolings over time that Keras does not have: musicnn's max+mean and attention.

    >>> import numpy as np
    >>> TemporalMaxMeanPooling()(np.ones((2, 187, 561), "float32")).shape
    (2, 1122)
"""
import keras
from keras import ops

__all__ = ["AttentionPooling1D", "TemporalMaxMeanPooling"]


@keras.saving.register_keras_serializable(package="zoo")
class TemporalMaxMeanPooling(keras.layers.Layer):
    """Max and mean over time of [batch, time, channels] -> [batch, 2 * channels].

    The output interleaves (max_c, mean_c) per channel, the order musicnn's back-end
    produces (concat on a trailing axis, then flatten), so its Dense kernel ports as is.
    """

    def call(self, x):
        pooled = ops.stack([ops.max(x, axis=1), ops.mean(x, axis=1)], axis=-1)
        return ops.reshape(pooled, (-1, 2 * x.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])


@keras.saving.register_keras_serializable(package="zoo")
class AttentionPooling1D(keras.layers.Layer):
    """Attention-weighted average over time: softmax(score(x_t)) weights the values v(x_t).

    A learned linear score per frame, softmax over the time axis, then the weighted sum of
    a linear projection of the frames (as in the attention back-ends of audio tagging,
    e.g. Kong et al. 2019). Works for any number of frames.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.score = keras.layers.Dense(1, name="score")
        self.value = keras.layers.Dense(self.units, name="value")

    def build(self, input_shape):
        self.score.build(input_shape)
        self.value.build(input_shape)

    def call(self, x):
        weights = ops.softmax(self.score(x), axis=1)
        return ops.sum(weights * self.value(x), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
