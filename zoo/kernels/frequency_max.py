"""MaxPooling2D whose window spans all frequency bins, taken as one reduction in inference on JAX.

XLA's reduce_window walks every window; one max over the axis gave musicnn's inference on JAX's
CPU a few per cent (benchmarks/results/kernels.md). Training keeps the window: its gradient goes to
one of tied maxima where the reduction's splits it between them (exact zeros after a ReLU tie), and
the backends' gradients must agree.

Applies to: inference (training=False) on a backend of WHOLE_AXIS_REDUCE_BACKENDS, channels_last,
'valid', a (1, all bins) window and stride, the kernels on. Tested equal to Keras' MaxPooling2D,
ties included (tests/test_kernel_frequency_max.py).
"""
import keras
from keras import ops

from zoo import kernels

__all__ = ["FrequencyMaxPooling2D", "WHOLE_AXIS_REDUCE_BACKENDS"]

WHOLE_AXIS_REDUCE_BACKENDS = ("jax",)


@keras.saving.register_keras_serializable(package="zoo")
class FrequencyMaxPooling2D(keras.layers.MaxPooling2D):
    """keras.layers.MaxPooling2D over [batch, time, freq, channels] -> [batch, time, 1, channels].

    Args: those of keras.layers.MaxPooling2D; the pool size is (1, frequency bins).

        >>> import numpy as np
        >>> FrequencyMaxPooling2D((1, 59))(np.ones((2, 187, 59, 8), "float32")).shape
        (2, 187, 1, 8)
    """

    def call(self, inputs, training=None):
        if (not training and kernels.enabled() and keras.config.backend() in WHOLE_AXIS_REDUCE_BACKENDS
                and self._spans_frequency(inputs)):
            return ops.max(inputs, axis=2, keepdims=True)
        return super().call(inputs)

    def _spans_frequency(self, inputs):
        return (self.data_format == "channels_last" and self.padding == "valid"
                and tuple(self.pool_size) == (1, inputs.shape[2]) and tuple(self.strides) == tuple(self.pool_size))
