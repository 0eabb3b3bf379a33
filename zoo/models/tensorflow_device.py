"""Whether the zoo's CPU kernels apply: Keras on TensorFlow, on a machine where TensorFlow sees no GPU.

``SingleChannelConv2D``'s gradients and ``FusedBatchNormalization``'s training step were chosen by
measurements on CPUs; where TensorFlow has a GPU, the layers are Keras' own, so cuDNN keeps its kernels
(no machine here runs TensorFlow on a GPU to measure them there).
"""
import functools

import keras

__all__ = ["cpu_kernels_apply"]


@functools.lru_cache(maxsize=1)
def _tensorflow_sees_a_gpu():
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def cpu_kernels_apply():
    return keras.config.backend() == "tensorflow" and not _tensorflow_sees_a_gpu()
