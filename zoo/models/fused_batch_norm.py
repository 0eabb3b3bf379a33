"""Keras' BatchNormalization whose training step runs TensorFlow's fused kernel on CPU.

Keras 3 normalises a batch with separate moments, subtraction, scaling... ops; TensorFlow's
``FusedBatchNormV3`` does forward and backward in one pass each. Measured at batch 16 of 3 s
(forward + gradients, training mode, 2-core AMD EPYC, 2026-12-02): on musicnn's timbral map
[16, 187, 59, 204] 0.080 s against 0.256 s; on a temporal map [16, 187, 96, 51] 0.084 s against
0.116 s. Same weights, same moving-statistics update (the fused kernel's Bessel-corrected batch
variance is turned back into Keras' biased one), same outputs within float rounding (tested).

Only the training step of float32, last-axis, 2-D to 4-D inputs on TensorFlow without a GPU takes
the fused route (``zoo.models.compute_device``); inference, other backends, mixed precision and
GPUs run Keras' own layer, so saved graphs, ONNX and TFLite conversions are unchanged.
"""
import keras

from zoo.models.compute_device import cpu_kernels_apply

__all__ = ["BatchNormalization", "FusedBatchNormalization"]


# Named BatchNormalization on purpose: Keras names a layer's weights in a .weights.h5 file (and in
# the trainer's checkpoints) after its class ("layers/batch_normalization_3/vars/0"), so this name
# keeps every file written with Keras' own layer loading into the zoo's models, and back.
@keras.saving.register_keras_serializable(package="zoo")
class BatchNormalization(keras.layers.BatchNormalization):
    def _fused_applies(self, inputs, training, mask):
        rank = len(inputs.shape)
        axis = self.axis if isinstance(self.axis, (list, tuple)) else [self.axis]
        return (training and self.trainable and mask is None and not self.synchronized
                and 3 <= rank <= 4 and [a % rank for a in axis] == [rank - 1]
                and self.compute_dtype == "float32" and inputs.dtype == "float32" and cpu_kernels_apply())

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
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
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(self.moving_variance * momentum + biased * (1.0 - momentum))
        return y if rank == 4 else tf.squeeze(y, 2)


FusedBatchNormalization = BatchNormalization  # what the model builders call it
