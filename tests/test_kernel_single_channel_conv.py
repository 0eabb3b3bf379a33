"""zoo.kernels.single_channel_conv, toeplitz and patch_fold: the same outputs and gradients as Keras' Conv2D."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.kernels.patch_fold import fold_patches
from zoo.kernels.single_channel_conv import Conv2D as SingleChannelConv2D
from zoo.kernels.toeplitz import toeplitz_conv, toeplitz_input_gradient, toeplitz_kernel_gradient


def _outputs_and_gradients(layer, x, upstream):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * upstream)
    return [y] + tape.gradient(loss, [x, layer.kernel, layer.bias])


@pytest.mark.parametrize(
    "kernel_size, padding, channels",
    [((7, 13), "valid", 1), ((16, 1), "same", 1), ((3, 3), "same", 1), ((5, 4), "same", 1), ((3, 3), "same", 3),
     ((32, 1), "same", 1), ((33, 1), "valid", 1), ((40, 1), "same", 1)],  # the last three: the Toeplitz route
)
def test_matches_keras_conv2d_forward_and_backward(kernel_size, padding, channels):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(3, 40, 30, channels)).astype("float32"))
    reference = keras.layers.Conv2D(6, kernel_size, padding=padding, activation="relu")
    fast = SingleChannelConv2D(6, kernel_size, padding=padding, activation="relu")
    reference.build(x.shape)
    fast.build(x.shape)
    fast.set_weights(reference.get_weights())
    upstream = tf.constant(rng.normal(size=reference(x).shape).astype("float32"))
    expected = _outputs_and_gradients(reference, x, upstream)
    actual = _outputs_and_gradients(fast, x, upstream)
    for name, want, got in zip(("output", "input grad", "kernel grad", "bias grad"), expected, actual):
        # A kernel gradient sums batch x height x width products: float32 sums in another order
        # differ in proportion to its size (the Toeplitz one's accuracy: the test below).
        scale = float(np.abs(want).max()) if name == "kernel grad" else 1.0
        np.testing.assert_allclose(got, want, atol=5e-6 * max(1.0, scale), err_msg=name)


@pytest.mark.parametrize("taps, rows, batch, width, filters", [(33, 40, 3, 30, 6), (40, 79, 3, 30, 6),
                                                              (128, 315, 4, 96, 51)])
def test_toeplitz_kernel_gradient_is_as_accurate_as_tensorflows(taps, rows, batch, width, filters):
    rng = np.random.default_rng(taps)
    x = rng.normal(size=(batch, rows, width, 1)).astype("float32")
    upstream = rng.normal(size=(batch, rows - taps + 1, width, filters)).astype("float32")

    def backprop_filter(dtype):
        return tf.raw_ops.Conv2DBackpropFilter(input=x.astype(dtype), filter_sizes=[taps, 1, 1, filters],
                                               out_backprop=upstream.astype(dtype), strides=[1, 1, 1, 1],
                                               padding="VALID").numpy()

    exact = backprop_filter("float64")
    ours = toeplitz_kernel_gradient(tf.constant(x), tf.constant(upstream), taps).numpy()
    assert ours.shape == exact.shape
    tensorflows_error = np.abs(backprop_filter("float32") - exact).max()
    assert np.abs(ours - exact).max() <= max(tensorflows_error, 1e-6 * np.abs(exact).max())


@pytest.mark.parametrize("taps, rows", [(32, 1), (32, 32), (32, 33), (40, 97), (128, 187)])
def test_toeplitz_input_gradient_equals_tensorflows(taps, rows):
    """Every block count and remainder, against Conv2DBackpropInput (TensorFlow's own gradient)."""
    rng = np.random.default_rng(3)
    height = rows + taps - 1
    kernel = tf.constant(rng.normal(size=(taps, 1, 1, 5)).astype("float32"))
    upstream = tf.constant(rng.normal(size=(2, rows, 7, 5)).astype("float32"))
    expected = tf.raw_ops.Conv2DBackpropInput(input_sizes=[2, height, 7, 1], filter=kernel, out_backprop=upstream,
                                              strides=[1, 1, 1, 1], padding="VALID")
    got = toeplitz_input_gradient(upstream, kernel)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-5 * np.sqrt(taps))


@pytest.mark.parametrize("taps, rows", [(32, 1), (32, 32), (32, 33), (40, 97), (128, 187)])
def test_toeplitz_forward_equals_tensorflows_convolution(taps, rows):
    """The JAX/PyTorch forward route (keras.ops, run here on TensorFlow eagerly): every block
    count and remainder, against tf.nn.conv2d."""
    rng = np.random.default_rng(4)
    kernel = tf.constant(rng.normal(size=(taps, 1, 1, 5)).astype("float32"))
    inputs = tf.constant(rng.normal(size=(2, rows + taps - 1, 7, 1)).astype("float32"))
    expected = tf.nn.conv2d(inputs, kernel, strides=1, padding="VALID")
    got = toeplitz_conv(inputs, kernel)
    assert tuple(got.shape) == tuple(expected.shape)
    np.testing.assert_allclose(got, expected, atol=2e-5 * np.sqrt(taps))


def test_fold_is_the_overlap_add_of_patches():
    rng = np.random.default_rng(1)
    patches = rng.normal(size=(2, 5, 4, 3, 6)).astype("float32")  # [b, H', W', KH, KW]
    expected = np.zeros((2, 7, 9), "float32")
    for h in range(5):
        for w in range(4):
            expected[:, h:h + 3, w:w + 6] += patches[:, h, w]
    np.testing.assert_allclose(fold_patches(tf.constant(patches)), expected, atol=1e-5)


def test_length_agnostic_spectrogram_model_trains_on_two_lengths():
    model = zoo.load("musicnn-vertical-horizontal", input_seconds=None, num_classes=3)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, size=(2, 3)).astype("float32")
    for samples in (20000, 33000):
        loss = model.train_on_batch(rng.normal(size=(2, samples)).astype("float32") * 0.1, labels)
        assert np.isfinite(loss)
