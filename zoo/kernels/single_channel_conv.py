"""Keras' Conv2D with fast CPU routes for a one-channel input (the log-mel map): same weights, same outputs.

Training a spectrogram front-end on a CPU, TensorFlow's gradients of a convolution of the
one-channel log-mel (needed because the input batch norm before it is trainable) took most of the
step. Here, on TensorFlow's CPU, the input gradient is ``patch_fold`` (or ``toeplitz`` for tall
one-column kernels) and the kernel gradient of tall one-column kernels is ``toeplitz``; on JAX's
CPU, where XLA's convolution of such kernels was the slow part, their forward pass is ``toeplitz``.
PyTorch's oneDNN convolution was faster than the product, so it keeps Keras' (all measured:
benchmarks/results/kernels.md).

Applies to: stride 1, no dilation, no groups, channels_last, 'valid' or 'same', a one-channel
input, the kernels on (``zoo.kernels.enabled``) and the backend computing on a CPU. Everywhere else
(a GPU, other shapes, kernels off) the layer is Keras' Conv2D. Tested equal to Keras' Conv2D in
outputs and gradients (tests/test_kernel_single_channel_conv.py, tests/test_kernels_switch.py).
"""
import keras

from zoo import kernels
from zoo.kernels import toeplitz
from zoo.kernels.compute_device import backend_computes_on_cpu, tensorflow_on_cpu
from zoo.kernels.patch_fold import fold_input_gradient

__all__ = ["Conv2D", "SingleChannelConv2D"]

TOEPLITZ_FORWARD_BACKENDS = ("jax",)  # where the Toeplitz forward beat the backend's convolution


def _same_padding(size):
    before = (size - 1) // 2  # TensorFlow's SAME for stride 1
    return before, size - 1 - before


def _pad_same(inputs, kernel_shape, padding):
    if padding != "same":
        return inputs
    (top, bottom), (left, right) = _same_padding(kernel_shape[0]), _same_padding(kernel_shape[1])
    return keras.ops.pad(inputs, ((0, 0), (top, bottom), (left, right), (0, 0)))


def _backprop_filter_gradient(x, upstream, kernel):
    import tensorflow as tf

    return tf.raw_ops.Conv2DBackpropFilter(
        input=x, filter_sizes=tf.shape(kernel), out_backprop=upstream, strides=[1, 1, 1, 1], padding="VALID")


def _gradient_routes(kernel_shape):
    """(input gradient, kernel gradient) for a kernel [KH, KW, 1, F] on TensorFlow's CPU."""
    if toeplitz.tall_column(kernel_shape):
        return toeplitz.toeplitz_input_gradient, lambda x, dy, k: toeplitz.toeplitz_kernel_gradient(x, dy, k.shape[0])
    return fold_input_gradient, _backprop_filter_gradient


def _tensorflow_conv(inputs, kernel, padding):
    """The convolution with the custom gradient of ``_gradient_routes``."""
    import tensorflow as tf

    input_gradient, kernel_gradient = _gradient_routes(tuple(kernel.shape))

    @tf.custom_gradient
    def valid_conv(x, k):
        def gradient(dy):
            return input_gradient(dy, k), kernel_gradient(x, dy, k)

        return tf.nn.conv2d(x, k, strides=1, padding="VALID"), gradient

    # A plain tensor, not the variable: custom_gradient then hands its gradient back to autodiff.
    return valid_conv(_pad_same(inputs, kernel.shape, padding), tf.convert_to_tensor(kernel))


def _toeplitz_forward_applies(inputs, kernel):
    """A tall one-column kernel on a backend where the product won, computing on the CPU, with the
    input's shape known (as JAX traces it)."""
    return (keras.config.backend() in TOEPLITZ_FORWARD_BACKENDS and toeplitz.tall_column(tuple(kernel.shape))
            and None not in tuple(inputs.shape)[:3] and backend_computes_on_cpu())


# Named Conv2D on purpose: Keras names a layer's weights in .weights.h5 files after its class
# ("layers/conv2d_3/vars/0"), so files written with the kernels on or off, or with Keras' own
# Conv2D, are the same.
@keras.saving.register_keras_serializable(package="zoo", name="Conv2D")
class Conv2D(keras.layers.Conv2D):
    """keras.layers.Conv2D with the routes of this module for a one-channel input.

    Args: those of keras.layers.Conv2D.

        >>> import numpy as np
        >>> layer = Conv2D(4, (7, 38), activation="relu")
        >>> layer(np.zeros((2, 187, 96, 1), "float32")).shape
        (2, 181, 59, 4)
    """

    def _routes_apply(self, inputs):
        return (kernels.enabled() and inputs.shape[-1] == 1 and tuple(self.strides) == (1, 1)
                and tuple(self.dilation_rate) == (1, 1) and self.data_format == "channels_last" and self.groups == 1)

    def convolution_op(self, inputs, kernel):
        if self._routes_apply(inputs):
            if keras.config.backend() == "tensorflow" and tensorflow_on_cpu():
                return _tensorflow_conv(inputs, kernel, self.padding)
            if _toeplitz_forward_applies(inputs, kernel):
                return toeplitz.toeplitz_conv(_pad_same(inputs, kernel.shape, self.padding), kernel)
        return super().convolution_op(inputs, kernel)


@keras.saving.register_keras_serializable(package="zoo", name="SingleChannelConv2D")
class SingleChannelConv2D(Conv2D):
    """The same layer under its name of release 0.1.0, whose ``.keras`` files name it, and whose
    weights files name its weights after it ("single_channel_conv2d"): those keep loading."""
