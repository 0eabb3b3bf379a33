"""zoo.kernels.batch_norm: in training, TensorFlow's fused kernel or the analytic-gradient route with
Keras' own numbers (outputs, gradients, moving statistics); everywhere else Keras' layer itself."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.kernels import batch_norm as fused_batch_norm
from zoo.kernels.batch_norm import BatchNormalization as FusedBatchNormalization


def _step(layer, x, upstream):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    return [y, *tape.gradient(y, [x, layer.gamma, layer.beta], output_gradients=upstream)]


@pytest.mark.parametrize("shape, route", [((4, 37, 11, 6), "_analytic_gradient_step"),
                                          ((3, 50, 8), "_analytic_gradient_step"),
                                          ((2, 30, 5, 16), "_fused_kernel_step"), ((3, 20, 32), "_fused_kernel_step"),
                                          ((2, 9, 3, 130), "_fused_kernel_step")])
def test_training_step_equals_keras_batch_normalization(shape, route, monkeypatch):
    """Each TensorFlow route (by channel count: the module docstring's measurements) gives Keras'
    outputs, gradients and moving statistics."""
    calls = []
    chosen = getattr(fused_batch_norm, route)
    monkeypatch.setattr(fused_batch_norm, route, lambda *a: calls.append(1) or chosen(*a))
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(1.5, 2.0, size=shape).astype("float32"))
    upstream = tf.constant(rng.normal(size=shape).astype("float32"))
    reference, fused = keras.layers.BatchNormalization(momentum=0.9), FusedBatchNormalization(momentum=0.9)
    for layer in (reference, fused):
        layer.build(shape)
    fused.set_weights([w + 0.1 * i for i, w in enumerate(reference.get_weights())])
    reference.set_weights(fused.get_weights())
    expected, got = _step(reference, x, upstream), _step(fused, x, upstream)
    assert calls, f"the training step did not take {route}"
    for name, want, have in zip(("output", "input gradient", "gamma gradient", "beta gradient"), expected, got):
        np.testing.assert_allclose(have, want, rtol=1e-4, atol=1e-4, err_msg=name)
    for name, want, have in zip(("moving mean", "moving variance"), reference.get_weights()[2:],
                                fused.get_weights()[2:]):
        np.testing.assert_allclose(have, want, rtol=1e-5, atol=1e-6, err_msg=name)


def test_inference_and_frozen_layers_are_keras_own():
    x = tf.random.normal((2, 9, 5, 3))
    layer = FusedBatchNormalization()
    layer.build(x.shape)
    layer.set_weights([np.full(3, 2.0), np.full(3, 0.5), np.full(3, 0.1), np.full(3, 4.0)])
    expected = (x.numpy() - 0.1) / np.sqrt(4.0 + layer.epsilon) * 2.0 + 0.5
    np.testing.assert_allclose(layer(x, training=False), expected, rtol=1e-5, atol=1e-5)
    layer.trainable = False  # a frozen BN (fine-tuning) runs in inference mode, statistics untouched
    np.testing.assert_allclose(layer(x, training=True), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), np.full(3, 0.1, np.float32))
