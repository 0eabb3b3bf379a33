"""A twin whose 'same' convolutions with kernels shorter than their strides pad explicitly.

TensorFlow pads such a convolution by max(0, (out - 1) * stride + kernel - length) with
out = ceil(length / stride), half before. Converted to ONNX (tf2onnx's SAME_UPPER), the negative
amount is not clamped, so ONNX Runtime and TFLite compute something else (as for the frame-many
front-end's 128-sample kernel at stride 256; benchmarks/results/code_choices.md). The twin pads
with TensorFlow's rule in plain ops and runs a 'valid' convolution with the same weights, so every
runtime computes what Keras computes.
"""
import keras
from keras import ops

__all__ = ["SamePaddedConv", "explicit_padding_twin"]

_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D)


@keras.saving.register_keras_serializable(package="zoo")
class SamePaddedConv(keras.layers.Layer):
    """A Conv1D / Conv2D of ``conv_config`` with 'same' padding done explicitly, clamped at 0."""

    def __init__(self, conv_class, conv_config, **kwargs):
        super().__init__(**kwargs)
        self.conv_class, self.conv_config = conv_class, dict(conv_config)
        layer_type = {"Conv1D": keras.layers.Conv1D, "Conv2D": keras.layers.Conv2D}[conv_class]
        self.conv = layer_type.from_config({**self.conv_config, "padding": "valid", "name": f"{self.name}_valid"})
        self.kernel_size, self.strides = tuple(self.conv.kernel_size), tuple(self.conv.strides)

    def build(self, input_shape):
        # Padding changes the lengths only: the kernel's shape follows from the input's channels.
        # Built here, the convolution's weights are there for load_model to fill.
        self.conv.build(input_shape)

    def call(self, x):
        for axis, (kernel, stride) in enumerate(zip(self.kernel_size, self.strides), start=1):
            length = ops.shape(x)[axis]
            out = (length + stride - 1) // stride
            total = ops.maximum((out - 1) * stride + kernel - length, 0)
            # A fixed pad of a kernel on both sides, then a slice: padding by a computed amount
            # loses the channels' static size, which TFLite's builtin convolution needs.
            widths = [[0, 0]] * x.ndim
            widths[axis] = [kernel, kernel]
            start = kernel - total // 2
            cut = [slice(None)] * x.ndim
            cut[axis] = slice(start, start + length + total)
            x = ops.pad(x, widths)[tuple(cut)]
        return self.conv(x)

    def compute_output_shape(self, input_shape):
        spatial = [None if n is None else -(-n // s) for n, s in zip(input_shape[1:-1], self.strides)]
        return (input_shape[0], *spatial, self.conv.filters)

    def get_config(self):
        return {**super().get_config(), "conv_class": self.conv_class, "conv_config": self.conv_config}


def _needs_explicit_padding(layer):
    return (type(layer) in _CONVOLUTIONS and layer.padding == "same"
            and any(k < s for k, s in zip(layer.kernel_size, layer.strides)))


def explicit_padding_twin(model):
    """The model itself when no convolution needs it, else a twin (weights copied) in which every
    'same' convolution with a kernel shorter than its stride pads explicitly."""
    replaced = [layer for layer in model.layers if _needs_explicit_padding(layer)]
    if not replaced:
        return model
    names = {layer.name for layer in replaced}

    def swap(layer):
        if layer.name in names:
            return SamePaddedConv(type(layer).__name__, layer.get_config(), name=layer.name)
        return layer  # shared: same weights as the original

    twin = keras.models.clone_model(model, clone_function=swap)
    for layer in replaced:
        twin.get_layer(layer.name).conv.set_weights(layer.get_weights())
    return twin
