"""The Keras network that tagging runs: a tagger for one patch length (registered weights, or a
model file of the user's), with the layers behind each embedding (musicnn's extractor
features) as extra outputs.

Only the names live at module level; building a network imports TensorFlow.
"""
import functools
from dataclasses import dataclass

__all__ = ["FRONT_END_OUTPUT", "FilePatchModel", "PatchModel", "SCORES", "analysis_network", "embedding_layers",
           "embedding_recipes", "inference_network", "tagger"]

SCORES = "scores"  # the output holding the tag scores


def _concat(*arrays):
    import numpy as np

    return np.concatenate(arrays, axis=-1)


def _only(array):
    return array


def _maxima(pooled):
    return pooled[:, 0::2]  # TemporalMaxMeanPooling interleaves (max, mean) per channel


def _means(pooled):
    return pooled[:, 1::2]


_HEAD_INPUT = (("head_dropout",), _only)  # the back-end's embedding: the input of the tagging head
# The back-end's input, frame by frame (the front-end's map; musicnn's back-end: with its mid-end).
FRONT_END_OUTPUT = "frontend_output"  # not a layer: the input of the first mid-end or back-end layer
_FRAMES = {"frames": ((FRONT_END_OUTPUT,), _only)}
# Back-end -> its pooled features over time (before the penultimate dense block).
_POOLED = {
    "maxpool": {"pooled": (("backend_time_max",), _only)},
    "avgpool": {"pooled": (("backend_time_mean",), _only)},
    "attention": {"pooled": (("backend_attention",), _only)},
    "musicnn": {"max_pool": (("backend_time_max_mean",), _maxima), "mean_pool": (("backend_time_max_mean",), _means),
                "frames": (("midend_concat",), _only)},
}


_TEMPORAL = ("frontend_temporal128_squeeze", "frontend_temporal64_squeeze", "frontend_temporal32_squeeze")
# Name -> (layers whose outputs it needs, how to combine them): musicnn's extractor features.
_EMBEDDINGS = {
    "musicnn-vertical-horizontal": {
        "timbral": (("frontend_timbral0_squeeze", "frontend_timbral1_squeeze"), _concat),
        "temporal": (_TEMPORAL, _concat),
        "cnn1": (("midend_bn1",), _only),
        "cnn2": (("midend_residual2",), _only),
        "cnn3": (("midend_residual3",), _only),
        **_POOLED["musicnn"],
        "penultimate": (("backend_bn_out",), _only),
    },
    "dense-small-rectangular": {**{f"pool{i}": ((f"frontend_pool{i}",), _only) for i in range(1, 6)},
                                "embedding": _HEAD_INPUT, **_FRAMES},
}


def embedding_recipes(model_id):
    """{embedding name: (layer names, combine)}: musicnn's extractor features for the pretrained
    musicnn and VGG (and VGG's head input as ``embedding``); for the others the back-end's
    embedding (``embedding``, also offered as ``penultimate``) and its pooled features where it
    has them. Every model offers ``frames``: the map its back-end reads, [patches, time, channels]
    (musicnn's back-end: the front-end's map with the mid-end's, 753 channels)."""
    if model_id in _EMBEDDINGS:
        return _EMBEDDINGS[model_id]
    return {"embedding": _HEAD_INPUT, "penultimate": _HEAD_INPUT, **_FRAMES, **_POOLED.get(model_id.split("-")[0], {})}


def embedding_layers(model_id, names=None):
    """The layers the embeddings ``names`` of ``model_id`` need (every embedding's when None), sorted."""
    recipes = embedding_recipes(model_id)
    return sorted({layer for name in (recipes if names is None else names) if name in recipes
                   for layer in recipes[name][0]})


@dataclass(frozen=True)
class PatchModel:
    """A pretrained model scoring patches of ``samples`` 16 kHz samples."""

    model_id: str
    weights: str
    samples: int

    @property
    def cache_name(self):
        from zoo.weights import resolve_weights

        content = resolve_weights(self.model_id, self.weights).content_hash[:16]  # a user's weights file
        return "-".join(filter(None, (self.model_id, self.weights, content, str(self.samples))))

    def input_kind(self):
        from zoo.models.registry import resolve

        return resolve(self.model_id).front.input_kind

    def build(self):
        from zoo.audio.decoding import DEFAULT_RATE
        from zoo.models.builder import create_model
        from zoo.models.registry import WAVEFORM

        return create_model(self.model_id, weights=self.weights, sample_rate=DEFAULT_RATE,
                            input_seconds=self.samples / DEFAULT_RATE, input_stage=self.input_kind() == WAVEFORM)


@dataclass(frozen=True)
class FilePatchModel:
    """A model file of the user's (``zoo.models.model_files``) scoring patches of ``samples``
    samples; named by the file's content, so that a changed file is converted again."""

    path: str
    content_hash: str
    samples: int
    kind: str  # LOG_MEL or WAVEFORM
    model_id: str  # ModelFile.model_id: the id it was built as, for its embeddings' layer names

    @property
    def cache_name(self):
        return f"file-{self.content_hash[:32]}-{self.samples}"

    def input_kind(self):
        return self.kind

    def build(self):
        """The saved model; for log-mel front-ends, its body after the in-graph log-mel."""
        import keras

        from zoo.models.builder import load_model_file
        from zoo.models.log_mel_config import LOG_MEL_LAYER
        from zoo.models.registry import LOG_MEL

        model = load_model_file(self.path)
        if self.kind != LOG_MEL:
            return model
        # A copy with an Input of its own: a model cut at an inner tensor cannot be cloned again
        # (the inference rewrite clones), and its layers' outputs would point into the whole model.
        cut = keras.Model(model.get_layer(LOG_MEL_LAYER).output, model.output)
        body = keras.models.clone_model(cut)
        body.set_weights(cut.get_weights())
        return body



@functools.lru_cache(maxsize=8)
def tagger(patch_model):
    """The Keras model for ``patch_model``'s patches: log-mel in for log-mel front-ends (the
    patches are cut from the clip's log-mel), waveform in otherwise."""
    return patch_model.build()


def _layer_output(keras_model, name):
    if name == FRONT_END_OUTPUT:
        return next(layer.input for layer in keras_model.layers if layer.name.startswith(("midend_", "backend_")))
    layer = keras_model.get_layer(name)
    return layer.input if name == "head_dropout" else layer.output


@functools.lru_cache(maxsize=8)
def inference_network(patch_model):
    """``tagger`` rewritten for inference (zoo.tagging.inference_graph): same scores, less work."""
    from zoo.tagging.inference_graph import pool_before_batch_norm

    return pool_before_batch_norm(tagger(patch_model))


@functools.lru_cache(maxsize=8)
def analysis_network(patch_model, layers):
    """``tagger`` with outputs {"scores": tag scores, layer name: its output for each of
    ``layers``}, rewritten for inference like ``inference_network``."""
    import keras

    from zoo.tagging.inference_graph import pool_before_batch_norm

    network = tagger(patch_model)
    outputs = {SCORES: network.output, **{n: _layer_output(network, n) for n in layers}}
    return pool_before_batch_norm(keras.Model(network.input, outputs), keep=layers)
