"""A Keras model compiled for inference on Keras' backend: ``inference_function(model)(batch)``.

Tagging's Keras runtime and training's evaluation score NumPy batches with it. TensorFlow traces
the model once into a ``tf.function`` (reduce_retracing: one graph for every batch size); JAX
jits its stateless call (compiled once per input shape, reading the variables at every call);
PyTorch uses Keras' own ``predict_on_batch`` (eager, no_grad).
Outputs come back as NumPy arrays, or a dict of them for a model with named outputs.
"""
import keras
import numpy as np

__all__ = ["inference_function"]


def _tf_function(model):
    import logging

    import tensorflow as tf

    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notes would clutter a CLI
    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


def _jax_stateless(model):
    import jax

    def forward(trainable, non_trainable, batch):
        return model.stateless_call(trainable, non_trainable, batch, training=False)[0]

    compiled = jax.jit(forward)

    def call(batch):  # the variables' current values: a model trained since still scores as it is now
        return compiled([v.value for v in model.trainable_variables],
                        [v.value for v in model.non_trainable_variables], batch)

    return call


def _predict_on_batch(model):
    return model.predict_on_batch


# Keras backend -> how a model is compiled for inference; a backend not listed uses predict_on_batch.
_COMPILERS = {"tensorflow": _tf_function, "jax": _jax_stateless}


def _to_numpy(values):
    if isinstance(values, dict):
        return {name: _to_numpy(value) for name, value in values.items()}
    return np.asarray(keras.ops.convert_to_numpy(values))


def inference_function(model):
    """``call(batch)``: ``model``'s outputs (training=False) for a float32 NumPy batch, as NumPy."""
    compiled = _COMPILERS.get(keras.config.backend(), _predict_on_batch)(model)

    def call(batch):
        return _to_numpy(compiled(np.asarray(batch, dtype=np.float32)))

    return call
