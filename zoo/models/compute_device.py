"""Whether the zoo's CPU kernels apply: on a machine where Keras' backend computes on the CPU.

``SingleChannelConv2D``'s kernels and ``BatchNormalization``'s fused training step were chosen by
measurements on CPUs; where the backend has a GPU, the layers are Keras' own, so cuDNN keeps its
kernels (no machine here runs the zoo on a GPU to measure them there).
"""
import functools

import keras

__all__ = ["cpu_kernels_apply", "backend_computes_on_cpu"]


def _tensorflow_on_cpu():
    import tensorflow as tf

    return not tf.config.list_logical_devices("GPU")


def _jax_on_cpu():
    import jax

    return jax.default_backend() == "cpu"


def _torch_on_cpu():
    import torch

    return not torch.cuda.is_available()  # Keras' torch backend computes on CUDA wherever it has one


ON_CPU = {"tensorflow": _tensorflow_on_cpu, "jax": _jax_on_cpu, "torch": _torch_on_cpu}


@functools.lru_cache(maxsize=None)
def _on_cpu(backend):
    return ON_CPU.get(backend, lambda: False)()


def backend_computes_on_cpu():
    return _on_cpu(keras.config.backend())


def cpu_kernels_apply():
    """TensorFlow's CPU kernels (custom gradients, the fused BN step): TensorFlow without a GPU."""
    return keras.config.backend() == "tensorflow" and backend_computes_on_cpu()
