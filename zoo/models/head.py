"""The tagging head's output layer: a sigmoid that keeps the tag names in the model's config.

    >>> import numpy as np
    >>> TaggedSigmoid(["rock", "jazz"])(np.zeros((1, 2), "float32")).numpy().tolist()
    [[0.5, 0.5]]
"""
import keras
from keras import ops

__all__ = ["TaggedSigmoid"]


@keras.saving.register_keras_serializable(package="zoo")
class TaggedSigmoid(keras.layers.Layer):
    """Sigmoid output layer that carries the tag names in its config (survives `.keras` saving)."""

    def __init__(self, tag_names=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.tag_names = None if tag_names is None else [str(t) for t in tag_names]

    def call(self, logits):
        return ops.sigmoid(logits)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "tag_names": self.tag_names}
