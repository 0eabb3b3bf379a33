"""The layers the builders build with where a speed kernel may stand in: the one place they ask.

While ``zoo.kernels`` is on, a builder's Conv2D, BatchNormalization and frequency max are the kernel
classes (same weights, same outputs, faster on a CPU); with ``ZOO_KERNELS=off`` they are Keras' own.

    >>> from zoo.models import blocks
    >>> blocks.BatchNormalization(name="bn")  # doctest: +ELLIPSIS
    <BatchNormalization name=bn, built=False>
"""
from zoo.kernels import layer_class

__all__ = ["BatchNormalization", "Conv2D", "FrequencyMaxPooling2D"]


def Conv2D(*args, **kwargs):  # noqa: N802  (a layer, named as Keras names it)
    """A Conv2D layer (keras.layers.Conv2D's arguments)."""
    return layer_class("Conv2D")(*args, **kwargs)


def BatchNormalization(*args, **kwargs):  # noqa: N802
    """A BatchNormalization layer (keras.layers.BatchNormalization's arguments)."""
    return layer_class("BatchNormalization")(*args, **kwargs)


def FrequencyMaxPooling2D(frequency_bins, **kwargs):  # noqa: N802
    """The max over all ``frequency_bins`` of [batch, time, freq, channels] -> [batch, time, 1, channels]."""
    return layer_class("FrequencyMaxPooling2D")((1, frequency_bins), **kwargs)
