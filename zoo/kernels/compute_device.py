"""Whether Keras' backend computes on the CPU, where the zoo's kernels were measured.

On a GPU the kernel layers compute as their Keras base classes, so cuDNN keeps its own kernels
(no machine of ours has measured the kernels on a GPU).
"""
import functools

import keras

__all__ = ["backend_computes_on_cpu", "tensorflow_on_cpu"]


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
    """Whether Keras' current backend computes on the CPU."""
    return _on_cpu(keras.config.backend())


def tensorflow_on_cpu():
    """TensorFlow is Keras' backend and has no GPU: where the TensorFlow custom gradients apply."""
    return keras.config.backend() == "tensorflow" and backend_computes_on_cpu()
