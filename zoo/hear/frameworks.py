"""The HEAR module object on Keras' backend, and tensors in and out in the caller's framework.

hear-validator accepts a ``tf.Module`` or a ``torch.nn.Module`` only: on TensorFlow the model is
wrapped in a ``tf.Module`` (a Keras 3 model is not one), on PyTorch in a ``torch.nn.Module``; on
JAX ``load_model`` returns the ``Embedder`` itself. Embeddings come back in the framework of the
audio passed in (a torch tensor on its device, a TensorFlow tensor, a JAX array, else NumPy).
"""
import numpy as np

__all__ = ["embedder_of", "from_numpy", "to_numpy", "wrap"]

_ATTRIBUTES = ("sample_rate", "scene_embedding_size", "timestamp_embedding_size")


def _tensorflow_module(embedder):
    import tensorflow as tf

    class ZooHearModule(tf.Module):
        """A zoo model behind the HEAR 2021 API on TensorFlow (``embedder``: its ``Embedder``)."""

        def __repr__(self):
            return f"ZooHearModule({self.embedder.model_id})"

    module = ZooHearModule(name=embedder.model_id.replace("-", "_"))
    module.embedder = embedder
    return module


def _torch_module(embedder):
    import torch

    class ZooHearModule(torch.nn.Module):
        """A zoo model behind the HEAR 2021 API on PyTorch (``embedder``: its ``Embedder``)."""

        def extra_repr(self):
            return self.embedder.model_id

    module = ZooHearModule()
    module.embedder = embedder  # a plain attribute: the Keras network places itself on a device
    return module


# Keras' backend -> the module hear-validator takes.
_MODULES = {"tensorflow": _tensorflow_module, "torch": _torch_module, "jax": lambda embedder: embedder}


def wrap(embedder):
    """The HEAR model object for ``embedder`` on Keras' backend, with its int attributes."""
    import keras

    module = _MODULES[keras.config.backend()](embedder)
    for name in _ATTRIBUTES:
        setattr(module, name, int(getattr(embedder, name)))
    return module


def embedder_of(model):
    """The ``Embedder`` behind what ``load_model`` returned; TypeError for anything else."""
    embedder = getattr(model, "embedder", model)
    if not all(hasattr(embedder, name) for name in ("scene_embeddings", "timestamp_embeddings")):
        raise TypeError(f"model must be what zoo.hear.load_model returned, got {type(model).__name__}")
    return embedder


def to_numpy(audio):
    """float32 NumPy of a torch or TensorFlow tensor, a JAX array or an array-like."""
    if hasattr(audio, "detach"):  # torch
        audio = audio.detach().cpu()
    return np.asarray(audio.numpy() if hasattr(audio, "numpy") else audio, dtype=np.float32)


def _torch(array, like):
    import torch

    return torch.from_numpy(array).to(like.device)


def _tensorflow(array, like):
    import tensorflow as tf

    return tf.convert_to_tensor(array)


def _jax(array, like):
    import jax.numpy as jnp

    return jnp.asarray(array)


# Top-level package of the input's type -> its framework's tensor of a NumPy array.
_FROM_NUMPY = {"torch": _torch, "tensorflow": _tensorflow, "jax": _jax, "jaxlib": _jax}


def from_numpy(array, like):
    """``array`` in the framework of ``like`` (NumPy when ``like`` is no framework's tensor)."""
    convert = _FROM_NUMPY.get(type(like).__module__.split(".")[0])
    return convert(array, like) if convert else array
