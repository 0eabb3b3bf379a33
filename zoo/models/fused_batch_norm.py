"""Keras' BatchNormalization with two speed-ups: TensorFlow's fused kernel for training on a CPU,
and, in inference, the max-pool that follows the layer folded in.

Fused kernel: Keras 3 normalises a batch with separate moments, subtraction, scaling... ops;
TensorFlow's ``FusedBatchNormV3`` does forward and backward in one pass each. Measured at batch
16 of 3 s (forward + gradients, training mode, 2-core AMD EPYC, 2026-12-02): on musicnn's timbral
map [16, 187, 59, 204] 0.080 s against 0.256 s; on a temporal map [16, 187, 96, 51] 0.084 s
against 0.116 s. Same weights, same moving-statistics update (the fused kernel's Bessel-corrected
batch variance is turned back into Keras' biased one), same outputs within float rounding (tested).
Only the training step of float32, last-axis, 2-D to 4-D inputs on TensorFlow without a GPU takes
the fused route (``zoo.models.compute_device``); inference, other backends, mixed precision and
GPUs run Keras' own layer, so saved graphs, ONNX and TFLite conversions are unchanged.

Folded max-pool (``max_pool=(pool_size, strides)``): musicnn's blocks (and the VGG front-end's)
are Conv (ReLU) -> BN -> max-pool, and a batch norm is a per-channel affine map a x + b, so

    max_W(a x + b) = a s max_W(s x) + b,   s = sign(a)

(for a < 0 the max of a x is a times the min of x, and min(x) = -max(-x)). In inference the
layer scales and shifts only the pooled map: for musicnn's per-band temporal filters 96 times
smaller, 59 for its 7x38 timbral ones. The same outputs as BN then MaxPooling2D, to float rounding
(tested on every backend); the weights are the same, so ``.weights.h5`` files of either layout
load. Measured on musicnn-vertical-horizontal (benchmarks.backend_speed, batch 32 of 3 s, 2-core
AMD EPYC, 2026-12-03): inference 977 -> 791 ms on JAX, 356 -> 342 ms on TensorFlow. Training runs
BN (TensorFlow's fused kernel on a CPU), then the pool: the fold with batch statistics made
TensorFlow's step slower (1.07-1.20 s against 0.99-1.10 s, alternating runs: its separate moments,
sign and gradient ops, with no XLA to fuse them), and on JAX its gradients disagreed with
TensorFlow's in musicnn-like blocks (not yet understood; PyTorch's agreed).
"""
import keras
from keras import ops

from zoo.models.compute_device import cpu_kernels_apply

__all__ = ["BatchNormalization", "FusedBatchNormalization"]


# Named BatchNormalization on purpose: Keras names a layer's weights in a .weights.h5 file (and in
# the trainer's checkpoints) after its class ("layers/batch_normalization_3/vars/0"), so this name
# keeps every file written with Keras' own layer loading into the zoo's models, and back.
@keras.saving.register_keras_serializable(package="zoo")
class BatchNormalization(keras.layers.BatchNormalization):
    """Keras' batch norm; with ``max_pool=((pool_h, pool_w), (stride_h, stride_w))`` it returns
    the 'valid' max-pool of its output, computed as the module docstring says."""

    def __init__(self, *args, max_pool=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_pool = None if max_pool is None else tuple(tuple(int(n) for n in pair) for pair in max_pool)

    def _fused_applies(self, inputs, training, mask):
        rank = len(inputs.shape)
        return (training and self.trainable and mask is None and not self.synchronized
                and 3 <= rank <= 4 and self._normalises_last_axis(rank)
                and self.compute_dtype == "float32" and inputs.dtype == "float32" and cpu_kernels_apply())

    def _normalises_last_axis(self, rank):
        axis = self.axis if isinstance(self.axis, (list, tuple)) else [self.axis]
        return [a % rank for a in axis] == [rank - 1]

    def call(self, inputs, training=None, mask=None):
        if self.max_pool is not None:
            return self._pooled_call(inputs, training, mask)
        return self._normalise(inputs, training, mask)

    def _normalise(self, inputs, training, mask):
        if self._fused_applies(inputs, training, mask):
            return self._fused_call(inputs)
        return super().call(inputs, training=training, mask=mask)

    def _fused_call(self, inputs):
        import tensorflow as tf

        rank = len(inputs.shape)
        x = inputs if rank == 4 else tf.expand_dims(inputs, 2)  # [batch, time, channels] -> 4-D
        channels = x.shape[-1]
        scale = self.gamma if self.scale else tf.ones([channels], x.dtype)
        offset = self.beta if self.center else tf.zeros([channels], x.dtype)
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(x, scale, offset, epsilon=self.epsilon,
                                                             is_training=True)
        count = tf.cast(tf.size(x) // channels, variance.dtype)
        biased = variance * (count - 1.0) / count  # the kernel returns the unbiased batch variance
        self._update_moving_statistics(mean, biased)
        return y if rank == 4 else tf.squeeze(y, 2)

    def _update_moving_statistics(self, mean, variance):
        momentum = self.momentum  # as Keras' layer updates them
        self.moving_mean.assign(ops.cast(self.moving_mean, mean.dtype) * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(
            ops.cast(self.moving_variance, variance.dtype) * momentum + variance * (1.0 - momentum))

    def _pool(self, x):
        pool_size, strides = self.max_pool
        return ops.max_pool(x, pool_size, strides, "valid", data_format="channels_last")

    def _pooled_call(self, inputs, training, mask):
        """Inference: the fold. Training: BN then the pool (see the module docstring)."""
        if (training and self.trainable) or mask is not None or self.synchronized or len(inputs.shape) != 4 \
                or not self._normalises_last_axis(4):
            return self._pool(self._normalise(inputs, training, mask))
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        scale = ops.rsqrt(ops.cast(self.moving_variance, x.dtype) + self.epsilon)
        if self.scale:
            scale = scale * ops.cast(self.gamma, x.dtype)
        sign = ops.where(scale < 0, ops.cast(-1.0, x.dtype), ops.cast(1.0, x.dtype))
        outputs = (self._pool(x * sign) * sign - ops.cast(self.moving_mean, x.dtype)) * scale
        if self.center:
            outputs = outputs + ops.cast(self.beta, x.dtype)
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        if self.max_pool is None:
            return super().compute_output_shape(input_shape)
        pool_size, strides = self.max_pool
        return keras.layers.MaxPooling2D(pool_size, strides).compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        if self.max_pool is not None:  # configs without it stay as the last release wrote them
            config["max_pool"] = [list(pair) for pair in self.max_pool]
        return config


FusedBatchNormalization = BatchNormalization  # what the model builders call it
