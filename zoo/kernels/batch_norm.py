"""Keras' BatchNormalization whose training step on TensorFlow's CPU takes the faster of two routes.

Keras 3 normalises a batch with separate moments, subtraction, scaling... ops and differentiates
each; TensorFlow's ``FusedBatchNormV3`` (oneDNN) does forward and backward in one pass each, several
times faster on most maps. oneDNN computes in blocks of 16 channels, and off them (musicnn's
51-channel temporal maps, the one-channel input map) the analytic route was faster: batch moments,
then batch norm's closed-form backward (dbeta = sum dy, dgamma = sum dy (x - mean) / sigma,
dx = gamma / sigma (dy - mean(dy) - (x - mean) dgamma / (n sigma))) as a custom gradient. So
channel counts below 128 that are not a multiple of 16 take the analytic route, the others the
fused kernel (measured: benchmarks/results/kernels.md).

Applies to: the training step of float32, last-axis, 3-D and 4-D inputs on TensorFlow without a
GPU, the kernels on; inference, other backends, mixed precision and GPUs run Keras' own layer, so
saved graphs and ONNX / TFLite conversions are unchanged. Both routes keep Keras' weights and
moving-statistics update (the fused kernel's Bessel-corrected variance is turned back into Keras'
biased one); tested equal to Keras' layer in outputs, gradients and statistics
(tests/test_kernel_batch_norm.py).
"""
import keras

from zoo import kernels
from zoo.kernels.compute_device import tensorflow_on_cpu

__all__ = ["BatchNormalization"]


# Named BatchNormalization on purpose: Keras names a layer's weights in a .weights.h5 file (and in
# the trainer's checkpoints) after its class ("layers/batch_normalization_3/vars/0"), so this name
# keeps every file written with Keras' own layer loading into the zoo's models, and back.
@keras.saving.register_keras_serializable(package="zoo")
class BatchNormalization(keras.layers.BatchNormalization):
    """keras.layers.BatchNormalization with the training routes of this module.

    Args: those of keras.layers.BatchNormalization.

        >>> import numpy as np
        >>> BatchNormalization()(np.ones((2, 10, 51), "float32"), training=True).shape
        (2, 10, 51)
    """

    def _tensorflow_route_applies(self, inputs, training, mask):
        """Whether this call takes one of the two TensorFlow training routes (module docstring)."""
        rank = len(inputs.shape)
        axis = self.axis if isinstance(self.axis, (list, tuple)) else [self.axis]
        return (training and self.trainable and mask is None and not self.synchronized
                and 3 <= rank <= 4 and [a % rank for a in axis] == [rank - 1]
                and self.compute_dtype == "float32" and inputs.dtype == "float32"
                and kernels.enabled() and tensorflow_on_cpu())

    def call(self, inputs, training=None, mask=None):
        if not self._tensorflow_route_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        return _training_step(self, inputs)

    def _update_moving_statistics(self, mean, variance):
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(self.moving_variance * momentum + variance * (1.0 - momentum))

    def _scale_and_offset(self, channels, dtype):
        """gamma and beta, or the ones and zeros that stand in for them when scale / center is off."""
        import tensorflow as tf

        scale = self.gamma if self.scale else tf.ones([channels], dtype)
        offset = self.beta if self.center else tf.zeros([channels], dtype)
        return tf.convert_to_tensor(scale), tf.convert_to_tensor(offset)


def _fused_kernel_step(norm, inputs):
    import tensorflow as tf

    rank = len(inputs.shape)
    x = inputs if rank == 4 else tf.expand_dims(inputs, 2)  # [batch, time, channels] -> 4-D
    channels = x.shape[-1]
    scale, offset = norm._scale_and_offset(channels, x.dtype)
    y, mean, variance = tf.compat.v1.nn.fused_batch_norm(x, scale, offset, epsilon=norm.epsilon, is_training=True)
    count = tf.cast(tf.size(x) // channels, variance.dtype)
    norm._update_moving_statistics(mean, variance * (count - 1.0) / count)  # the kernel's is unbiased
    return y if rank == 4 else tf.squeeze(y, 2)


def _analytic_gradient_step(norm, inputs):
    import tensorflow as tf

    axes = list(range(len(inputs.shape) - 1))
    channels = inputs.shape[-1]
    gamma, beta = norm._scale_and_offset(channels, inputs.dtype)
    mean, variance = tf.nn.moments(tf.stop_gradient(inputs), axes)
    norm._update_moving_statistics(mean, variance)

    @tf.custom_gradient
    def normalise(x, gamma, beta):
        inverse = tf.math.rsqrt(variance + norm.epsilon)
        scale = gamma * inverse

        def gradient(dy):
            count = tf.cast(tf.size(x) // channels, x.dtype)
            centred = x - mean
            dbeta = tf.reduce_sum(dy, axes)
            dgamma = tf.reduce_sum(dy * centred, axes) * inverse
            dx = scale * (dy - dbeta / count - centred * (dgamma * inverse / count))
            return dx, dgamma, dbeta

        return x * scale + (beta - mean * scale), gradient

    return normalise(inputs, gamma, beta)


ONEDNN_CHANNEL_BLOCK = 16  # oneDNN's channel block on AVX-512
ANALYTIC_MAX_CHANNELS = 128  # at 204 channels the fused kernel was faster again


def _training_step(norm, inputs):
    """The route measured faster for this channel count (module docstring)."""
    channels = inputs.shape[-1]
    if channels % ONEDNN_CHANNEL_BLOCK and channels < ANALYTIC_MAX_CHANNELS:
        return _analytic_gradient_step(norm, inputs)
    return _fused_kernel_step(norm, inputs)

