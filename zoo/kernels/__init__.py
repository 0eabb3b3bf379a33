"""CPU speed kernels: layers that compute what a Keras layer computes, faster where they were measured.

The architecture (zoo.models) never names these classes: its builders ask ``zoo.models.blocks`` for
a Conv2D, a BatchNormalization or a frequency max, and get the kernel class from ``layer_class``
while kernels are on, Keras' own class while they are off. One module per kernel, each saying on
which backend and device it applies and what it is tested equal to:

- ``single_channel_conv``: Conv2D over a one-channel map (the log-mel): fast gradients on
  TensorFlow's CPU, the Toeplitz forward for tall one-column kernels on JAX's CPU.
- ``toeplitz``: the block-Toeplitz matrix products of a tall one-column convolution.
- ``patch_fold``: the overlap-add of per-patch gradients (the input gradient of other kernels).
- ``batch_norm``: BatchNormalization's training step on TensorFlow's CPU.
- ``frequency_max``: the max over all frequency bins as one reduction (JAX inference).
- ``compute_device``: whether Keras' backend computes on the CPU.

The switch, in the spirit of timm's fused-attention switch: ``ZOO_KERNELS=off`` in the environment
or ``set_enabled(False)`` builds every model from plain Keras layers, and the kernel layers of a
loaded file then compute as their Keras base class. Speeds: benchmarks/results/kernels.md.

    >>> import zoo.kernels
    >>> zoo.kernels.set_enabled(False)  # or: with zoo.kernels.enabled_as(False): ...
    >>> zoo.kernels.layer_class("Conv2D")
    <class 'keras.src.layers.convolutional.conv2d.Conv2D'>

May import: nothing of zoo but this package (the floor below zoo.models).
"""
import contextlib
import importlib
import os

__all__ = ["ENVIRONMENT_VARIABLE", "KERNEL_LAYERS", "enabled", "enabled_as", "layer_class", "set_enabled"]

ENVIRONMENT_VARIABLE = "ZOO_KERNELS"
_OFF = ("off", "0", "false", "no")

# Layer name -> (Keras' class, the kernel class standing in for it), as "module:attribute".
KERNEL_LAYERS = {
    "Conv2D": ("keras.layers:Conv2D", "zoo.kernels.single_channel_conv:Conv2D"),
    "BatchNormalization": ("keras.layers:BatchNormalization", "zoo.kernels.batch_norm:BatchNormalization"),
    "FrequencyMaxPooling2D": ("keras.layers:MaxPooling2D", "zoo.kernels.frequency_max:FrequencyMaxPooling2D"),
}

_override = []  # set_enabled's choice, over the environment's


def enabled():
    """Whether the kernels are on: ``set_enabled``'s choice, else ``ZOO_KERNELS`` (on unless "off")."""
    if _override:
        return _override[-1]
    return os.environ.get(ENVIRONMENT_VARIABLE, "on").strip().lower() not in _OFF


def set_enabled(flag):
    """Turns the kernels on (True) or off (False) for this process, over ``ZOO_KERNELS``; None
    hands the choice back to the environment. Returns the previous ``enabled()``."""
    previous = enabled()
    _override.clear()
    if flag is not None:
        _override.append(bool(flag))
    return previous


@contextlib.contextmanager
def enabled_as(flag):
    """``with enabled_as(False):`` builds and runs without the kernels inside the block."""
    saved = list(_override)
    set_enabled(flag)
    try:
        yield
    finally:
        _override[:] = saved


def _resolve(target):
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)


def layer_class(name):
    """The class a builder gets for ``name`` (a key of KERNEL_LAYERS): the kernel class while the
    kernels are on, Keras' own otherwise."""
    keras_class, kernel_class = KERNEL_LAYERS[name]
    return _resolve(kernel_class if enabled() else keras_class)
