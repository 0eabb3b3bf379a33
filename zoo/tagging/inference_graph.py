"""Inference-only rewrite of a zoo network: the same outputs for less work.

Conv (ReLU) -> BatchNormalization -> MaxPooling2D is musicnn's front-end block (and the VGG
front-end's). In inference the batch norm is a per-channel affine map a r + b of r = relu(z),
and a max over any window W commutes with it:

    max_W(a relu(z) + b) = a relu(s max_W(s z)) + b,   s = sign(a)

(for a < 0 the max of a r is a times the min of r, and min(z) = -max(-z)). So the rewritten
block convolves with the kernel and bias times s, max-pools, and applies ReLU and the affine
map to the pooled map only: the batch norm and ReLU no longer run on the full
[time, frequency, filters] map, 59 times larger than the pooled one for musicnn's 7x38 filters.
Both sides are monotone in float arithmetic too, so the outputs match to float rounding
(tested). In ONNX Runtime the batch norm on the full timbral maps was a fifth of musicnn's
inference time (benchmarks/results/code_choices.md).
"""
import keras
import numpy as np
from keras import ops

__all__ = ["CHANNEL_BLOCK", "NormalisedAfterPooling", "PooledAffine", "pool_before_batch_norm"]

# ONNX Runtime computes convolutions in blocks of 16 channels (8 with AVX2) and max-pools in that
# layout only when the channel count is a multiple of the block; otherwise it first converts the
# whole convolution output back, a costly copy (benchmarks/results/code_choices.md). So the
# rewritten convolutions get zero filters up to a multiple of 16, cut off after the pool.
CHANNEL_BLOCK = 16


@keras.saving.register_keras_serializable(package="zoo")
class PooledAffine(keras.layers.Layer):
    """max-pool, then scale * relu(sign * pooled) + shift per channel (see module docstring)."""

    def __init__(self, pool_size, strides, padding, sign, scale, shift, **kwargs):
        super().__init__(**kwargs)
        self.channels = len(sign)
        self.pool_size, self.strides, self.padding = tuple(pool_size), tuple(strides), padding
        self.sign, self.scale, self.shift = (np.asarray(v, np.float32) for v in (sign, scale, shift))

    def call(self, x):
        pooled = ops.max_pool(x, self.pool_size, self.strides, self.padding)[..., :self.channels]
        # NumPy constants as tensors: PyTorch does not multiply its tensors by NumPy arrays.
        sign, scale, shift = (ops.convert_to_tensor(v, dtype=pooled.dtype) for v in (self.sign, self.scale, self.shift))
        return scale * ops.relu(sign * pooled) + shift

    def compute_output_shape(self, input_shape):
        pooled = keras.layers.MaxPooling2D(self.pool_size, self.strides, self.padding).compute_output_shape(input_shape)
        return (*pooled[:-1], self.channels)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides, "padding": self.padding,
                "sign": self.sign.tolist(), "scale": self.scale.tolist(), "shift": self.shift.tolist()}


@keras.saving.register_keras_serializable(package="zoo")
class NormalisedAfterPooling(keras.layers.Layer):
    """Stands where a batch norm was that ``PooledAffine`` now applies after the pool."""

    def call(self, x, training=None, mask=None):
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


def _history_names(node_arguments):
    """Names of the layers whose outputs a serialised node's arguments hold."""
    if isinstance(node_arguments, dict):
        if node_arguments.get("class_name") == "__keras_tensor__":
            return [node_arguments["config"]["keras_history"][0]]
        return [n for value in node_arguments.values() for n in _history_names(value)]
    if isinstance(node_arguments, (list, tuple)):
        return [n for value in node_arguments for n in _history_names(value)]
    return []


def _consumers(model):
    """{layer name: names of the layers that take its output}."""
    consumers = {}
    for layer in model.get_config()["layers"]:
        for source in set(_history_names(layer.get("inbound_nodes", []))):
            consumers.setdefault(source, []).append(layer["name"])
    return consumers


def _blocks(model, keep):
    """(conv, batch norm, pool) layer triples to rewrite; none whose conv or norm output is kept."""
    consumers, blocks = _consumers(model), []
    for conv in model.layers:
        followers = consumers.get(conv.name, [])
        if (not isinstance(conv, keras.layers.Conv2D) or conv.get_config()["activation"] != "relu"
                or len(followers) != 1 or conv.name in keep):
            continue
        norm = model.get_layer(followers[0])
        after = consumers.get(norm.name, [])
        if not isinstance(norm, keras.layers.BatchNormalization) or norm.axis not in (-1, [-1], [3], 3) \
                or len(after) != 1 or norm.name in keep:
            continue
        pool = model.get_layer(after[0])
        if isinstance(pool, keras.layers.MaxPooling2D) and pool.data_format == "channels_last":
            blocks.append((conv, norm, pool))
    return blocks


def _affine(norm):
    """(a, b) of the inference-mode batch norm a x + b."""
    weights = {w.path.split("/")[-1]: np.asarray(w.numpy(), np.float64) for w in norm.weights}
    scale = weights.get("gamma", 1.0) / np.sqrt(weights["moving_variance"] + norm.epsilon)
    return scale, weights.get("beta", 0.0) - weights["moving_mean"] * scale


def _padded(filters):
    return -(-filters // CHANNEL_BLOCK) * CHANNEL_BLOCK


def pool_before_batch_norm(model, keep=()):
    """A twin of ``model`` (same outputs in inference, weights shared elsewhere) with every
    Conv(ReLU) -> BatchNorm -> MaxPool block rewritten as above; ``model`` itself when it has
    none. Layers named in ``keep`` (outputs someone reads) are left as they are."""
    blocks = _blocks(model, set(keep))
    if not blocks:
        return model
    signs, replacements = {}, {}
    for conv, norm, pool in blocks:
        scale, shift = _affine(norm)
        sign = np.where(scale < 0, -1.0, 1.0)
        signs[conv.name] = sign
        replacements[conv.name] = lambda c=conv: type(c).from_config(
            {**c.get_config(), "activation": "linear", "filters": _padded(c.filters)})
        replacements[norm.name] = lambda n=norm: NormalisedAfterPooling(name=n.name)
        replacements[pool.name] = lambda p=pool, a=scale, b=shift, s=sign: PooledAffine(
            p.pool_size, p.strides, p.padding, s, a, b, name=p.name)
    twin = keras.models.clone_model(
        model, clone_function=lambda layer: replacements[layer.name]() if layer.name in replacements else layer)
    for conv, _, _ in blocks:
        extra = _padded(conv.filters) - conv.filters
        signed = [w * signs[conv.name] for w in conv.get_weights()]  # kernel [..., filters], bias [filters]
        twin.get_layer(conv.name).set_weights([np.pad(w, [(0, 0)] * (w.ndim - 1) + [(0, extra)]) for w in signed])
    return twin
