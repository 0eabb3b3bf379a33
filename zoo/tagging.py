"""Tag any audio with a pretrained zoo model, the way musicnn does.

The clip's log-mel spectrogram (the zoo's input stage) is cut into patches (3 s = 187 frames,
no overlap by default; the incomplete tail is dropped as musicnn does, a clip shorter than one
patch is zero-padded), chunk by chunk in bounded memory with the frames of the whole-clip
spectrogram (``zoo.streaming``). Each patch is scored and the per-patch scores aggregated.

    >>> from zoo.tagging import tag
    >>> tag("song.mp3")                        # top 5 MagnaTagATune tags
    >>> tag("song.mp3", model="vgg", weights="msd", top_k=None)
"""
import functools
from dataclasses import dataclass

import numpy as np

from zoo.audio import DEFAULT_RATE
from zoo.input_stage import LogMelConfig
from zoo.registry import WAVEFORM
from zoo.runtimes import RUNTIMES, make_runtime
from zoo.streaming import Patching, stream_patches

__all__ = ["AGGREGATES", "DEFAULT_MODEL", "Analyser", "analyse", "embedding_names", "embeddings", "tag", "taggram"]

DEFAULT_MODEL = "musicnn-vertical-horizontal"
AGGREGATES = {"mean": np.mean, "max": np.max}
BATCH_SIZE = 32
_MEL = LogMelConfig(sample_rate=DEFAULT_RATE)  # the pretrained models' input


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return value


def _patching(patch_seconds, hop_seconds):
    # musicnn: frames = librosa.time_to_frames(seconds, n_fft=512, hop=256) + 1, i.e. 187 for 3 s.
    samples = int(_positive(patch_seconds, "patch_seconds") * _MEL.sample_rate)
    frames = (samples - _MEL.n_fft // 2) // _MEL.hop_length + 1
    if frames < 2:
        raise ValueError(f"patch_seconds={patch_seconds!r} is shorter than two log-mel frames")
    if hop_seconds is None:
        return Patching(frames, frames)
    hop_frames = round(_positive(hop_seconds, "hop_seconds") * _MEL.sample_rate / _MEL.hop_length)
    return Patching(frames, max(1, hop_frames))


@functools.lru_cache(maxsize=1)
def _log_mel_stage():
    import keras
    import tensorflow as tf

    from zoo.input_stage import log_mel

    waveform = keras.Input(shape=(None,), dtype="float32", name="waveform")
    stage = keras.Model(waveform, log_mel(waveform, _MEL, center=False), name="log_mel_frames")
    return tf.function(lambda x: stage(x), reduce_retracing=True)


def log_mel_frames(segment):
    """[frames, mels]: the log-mel of ``segment`` without centring (frame j starts at j * hop).

    zoo.streaming feeds it the clip samples a chunk of patches covers, reflect-padded where
    the clip begins or ends, which gives the frames of musicnn's whole-clip spectrogram.
    """
    return _log_mel_stage()(segment[None].astype(np.float32, copy=False)).numpy()[0]


def _pretrained_model(model, weights):
    """(canonical model id, front-end input kind); the zoo's errors for unknown names."""
    from pretrained import resolve_weights
    from zoo.registry import resolve

    model_id, front, _ = resolve(model)
    if weights is None:
        raise ValueError("Tagging needs pretrained weights; weights=None would tag with random ones.")
    resolve_weights(model_id, weights)
    return model_id, front.input_kind


@functools.lru_cache(maxsize=8)
def _model(model_id, weights, samples, input_stage):
    from zoo.models import create_model

    return create_model(
        model_id, weights=weights, sample_rate=DEFAULT_RATE, input_seconds=samples / DEFAULT_RATE,
        input_stage=input_stage,
    )


@functools.lru_cache(maxsize=8)
def _compiled(network):
    import tensorflow as tf

    return tf.function(lambda x: network(x, training=False), reduce_retracing=True)


def _run(network, patches):
    """The network's outputs (a dict of arrays) on ``patches``, BATCH_SIZE at a time."""
    call = _compiled(network)
    outputs = [call(patches[i:i + BATCH_SIZE]) for i in range(0, len(patches), BATCH_SIZE)]
    return {name: np.concatenate([np.asarray(o[name]) for o in outputs]) for name in outputs[0]}


def taggram(audio, model=DEFAULT_MODEL, weights="mtt", sample_rate=None, patch_seconds=3.0, hop_seconds=None):
    """Tag scores per patch: a DataFrame indexed by patch start ``time`` (s), one column per tag.

    Arguments as for ``tag``.
    """
    import pandas as pd

    import zoo

    analyser = Analyser(model, weights, top_k=None, embeddings=("taggram",), patch_seconds=patch_seconds,
                        hop_seconds=hop_seconds)
    _, arrays = analyser(audio, sample_rate)
    return pd.DataFrame(arrays["taggram"], index=pd.Index(arrays["time"], name="time"),
                        columns=zoo.tag_names(analyser.tagger))


def _check_tag_options(top_k, aggregate):
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")


def _ranked(scores, tag_names, top_k, aggregate):
    import pandas as pd

    table = pd.DataFrame({"tag": tag_names, "score": AGGREGATES[aggregate](scores, axis=0)})
    table = table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    return table if top_k is None else table.head(top_k)


def tag(
    audio,
    model=DEFAULT_MODEL,
    weights="mtt",
    sample_rate=None,
    top_k=5,
    patch_seconds=3.0,
    hop_seconds=None,
    aggregate="mean",
):
    """The clip's tags, best first: a DataFrame with columns ``tag`` and ``score``.

    Args:
        audio: path of a wav/flac/ogg/mp3 file, or an array (see ``zoo.audio.load_audio``).
        model: model id or alias with pretrained weights (``pretrained.available()``).
        weights: pretrained weights name, e.g. "mtt" (MagnaTagATune) or "msd" (Million Song).
        sample_rate: rate of an array input in Hz (None: already 16 kHz).
        top_k: number of rows; None returns every tag.
        patch_seconds: patch length (musicnn: 3 s = 187 frames; the VGG models need 3 s).
        hop_seconds: distance between patch starts; None = patch length (no overlap).
        aggregate: "mean" or "max" of the per-patch scores.
    """
    return analyse(audio, model, weights, sample_rate, top_k, (), aggregate, patch_seconds, hop_seconds)[0]


def _concat(*arrays):
    return np.concatenate(arrays, axis=-1)


def _only(array):
    return array


def _maxima(pooled):
    return pooled[:, 0::2]  # TemporalMaxMeanPooling interleaves (max, mean) per channel


def _means(pooled):
    return pooled[:, 1::2]


_TEMPORAL = ("frontend_temporal128_squeeze", "frontend_temporal64_squeeze", "frontend_temporal32_squeeze")
# Name -> (layers whose outputs it needs, how to combine them): musicnn's extractor features.
_EMBEDDINGS = {
    "musicnn-vertical-horizontal": {
        "timbral": (("frontend_timbral0_squeeze", "frontend_timbral1_squeeze"), _concat),
        "temporal": (_TEMPORAL, _concat),
        "cnn1": (("midend_bn1",), _only),
        "cnn2": (("midend_residual2",), _only),
        "cnn3": (("midend_residual3",), _only),
        "max_pool": (("backend_time_max_mean",), _maxima),
        "mean_pool": (("backend_time_max_mean",), _means),
        "penultimate": (("backend_bn_out",), _only),
    },
    "dense-small-rectangular": {f"pool{i}": ((f"frontend_pool{i}",), _only) for i in range(1, 6)},
}


def _embedding_recipes(model_id):
    # Other models offer the back-end's embedding, the input of the tagging head.
    return _EMBEDDINGS.get(model_id, {"embedding": (("head_dropout",), _only)})


def _layer_output(keras_model, name):
    layer = keras_model.get_layer(name)
    return layer.input if name == "head_dropout" else layer.output


def embeddings(
    audio, model=DEFAULT_MODEL, weights="mtt", sample_rate=None, patch_seconds=3.0, hop_seconds=None
):
    """Intermediate representations per patch, as musicnn's extractor offers them.

    musicnn models: ``timbral``, ``temporal`` [patches, frames, filters], ``cnn1``..``cnn3``
    [patches, frames, 64], ``max_pool``, ``mean_pool`` [patches, 753] (over the mid-end's
    dense concatenation), ``penultimate`` [patches, 200]. VGG models: ``pool1``..``pool5``.
    Arguments as for ``tag``.
    """
    from zoo.registry import resolve

    names = tuple(_embedding_recipes(resolve(model)[0]))
    _, arrays = analyse(audio, model, weights, sample_rate, top_k=None, embeddings=names,
                        patch_seconds=patch_seconds, hop_seconds=hop_seconds)
    arrays.pop("time")
    return arrays


def embedding_names(model=DEFAULT_MODEL):
    """What ``embeddings`` (and ``analyse``) offer for ``model``, plus "taggram" (per-patch scores)."""
    from zoo.registry import resolve

    return sorted(_embedding_recipes(resolve(model)[0])) + ["taggram"]


@functools.lru_cache(maxsize=8)
def _analysis_model(model_id, weights, samples, takes_waveform, names):
    import keras

    tagger = _model(model_id, weights, samples, takes_waveform)
    recipes = _embedding_recipes(model_id)
    layers = sorted({n for name in names if name in recipes for n in recipes[name][0]})
    return keras.Model(tagger.input, {"scores": tagger.output, **{n: _layer_output(tagger, n) for n in layers}})


class Analyser:
    """One model's analysis of audio: patches streamed, scored, tags ranked, embeddings kept.

    ``analyser(audio)`` does it all; ``chunks`` and ``score`` + ``result`` let a caller cut
    patches in one thread and score them in another (what tagging a library does).
    """

    def __init__(self, model=DEFAULT_MODEL, weights="mtt", top_k=5, embeddings=(), aggregate="mean",
                 patch_seconds=3.0, hop_seconds=None, runtime="tf"):
        _check_tag_options(top_k, aggregate)
        model_id, self.input_kind = _pretrained_model(model, weights)
        self.names = tuple(sorted(set(embeddings)))
        unknown = sorted(set(self.names) - set(embedding_names(model_id)))
        if unknown:
            raise ValueError(f"unknown embedding(s) {', '.join(unknown)} for {model_id!r}; "
                             f"known: {', '.join(embedding_names(model_id))}")
        self.top_k, self.aggregate = top_k, aggregate
        self.patching = _patching(patch_seconds, hop_seconds)
        self.key = (model_id, weights, self.patching.samples, self.input_kind == WAVEFORM)
        self.tagger = _model(*self.key)
        self.network = _analysis_model(*self.key, self.names)
        layers = sorted(set(self.names) - {"taggram"})
        if layers and RUNTIMES.get(runtime) is not None:  # checked before a conversion is paid for
            raise ValueError(f"embeddings {', '.join(layers)} need runtime 'tf' (runtime {runtime!r} "
                             "computes the tag scores only)")
        self.runtime = make_runtime(runtime, self.tagger, f"{model_id}-{weights}-{self.patching.samples}")

    def chunks(self, audio, sample_rate=None):
        """The audio's ``PatchChunk``s (zoo.streaming): one chunk of patches in memory at a time."""
        return stream_patches(audio, self.patching, self.input_kind, sample_rate)

    def score(self, chunk):
        if self.runtime is None:
            return _run(self.network, chunk.patches), chunk.times
        patches = chunk.patches
        scores = [self.runtime(patches[i:i + BATCH_SIZE]) for i in range(0, len(patches), BATCH_SIZE)]
        return {"scores": np.concatenate(scores)}, chunk.times

    def result(self, scored):
        """(tags, {name: array}) from the ``score`` of every chunk of one clip, in order."""
        import zoo

        outputs = {name: np.concatenate([o[name] for o, _ in scored]) for name in scored[0][0]}
        scores = outputs["scores"]
        tags = _ranked(scores, zoo.tag_names(self.tagger), self.top_k, self.aggregate)
        recipes = _embedding_recipes(self.key[0])
        arrays = {name: combine(*(outputs[layer] for layer in layers))
                  for name, (layers, combine) in recipes.items() if name in self.names}
        if "taggram" in self.names:
            arrays["taggram"] = scores
        if arrays:
            arrays["time"] = np.concatenate([times for _, times in scored])
        return tags, arrays

    def __call__(self, audio, sample_rate=None):
        return self.result([self.score(chunk) for chunk in self.chunks(audio, sample_rate)])


def analyse(audio, model=DEFAULT_MODEL, weights="mtt", sample_rate=None, top_k=5, embeddings=(),
            aggregate="mean", patch_seconds=3.0, hop_seconds=None):
    """(tags as ``tag`` returns them, {name: array} of the requested ``embeddings``) in one pass.

    The patches are cut and scored once; the requested embeddings (``embedding_names(model)``;
    "taggram" is the per-patch scores, "time" comes with them) come from the same forward pass.
    """
    analyser = Analyser(model, weights, top_k, embeddings, aggregate, patch_seconds, hop_seconds)
    return analyser(audio, sample_rate)
