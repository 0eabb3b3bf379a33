"""Tag any audio with a pretrained zoo model or one of your own, the way musicnn does.

The clip's log-mel spectrogram (``zoo.audio.log_mel``, equal to the models' input stage) is cut into
patches (3 s = 187 frames, no overlap by default; the incomplete tail is dropped as musicnn does,
a clip shorter than one patch is zero-padded), chunk by chunk in bounded memory with the frames of the whole-clip
spectrogram (``zoo.audio.streaming``). Each patch is scored and the per-patch scores aggregated.

    >>> from zoo.tagging import tag
    >>> tag("song.mp3")                        # top 5 MagnaTagATune tags
    >>> tag("song.mp3", model="vgg", weights="msd", top_k=None)
"""
import dataclasses

import numpy as np

from zoo.arguments import positive_int, positive_number
from zoo.audio.decoding import DEFAULT_RATE
from zoo.audio.streaming import Patching, stream_patches
from zoo.models.log_mel_config import LogMelConfig, waveform_to_frames
from zoo.models.model_files import is_model_path, model_file, split_model_name
from zoo.models.registry import WAVEFORM
from zoo.tagging.network import SCORES, FilePatchModel, PatchModel, embedding_layers, embedding_recipes
from zoo.tagging.runtimes import make_runtime

__all__ = ["AGGREGATES", "DEFAULT_MODEL", "Analyser", "analyse", "check_embeddings", "embedding_names", "embeddings",
           "file_patching", "pretrained_model", "tag", "taggram"]

DEFAULT_MODEL = "musicnn-vertical-horizontal"
DEFAULT_WEIGHTS = "mtt"
AGGREGATES = {"mean": np.mean, "max": np.max}
# Patches per inference call: throughput is flat from 8 to 64, and smaller calls overlap better
# with the decoding thread and keep the runtimes' buffers small (benchmarks/results/code_choices.md).
BATCH_SIZE = 8
_MEL = LogMelConfig(sample_rate=DEFAULT_RATE)  # the pretrained models' input
DEFAULT_PATCH_SECONDS = 3.0  # musicnn's patch (187 frames), for models that take any length


def _hop_frames(hop_seconds, frames):
    if hop_seconds is None:
        return frames
    hop_seconds = positive_number(hop_seconds, "hop_seconds", unit="seconds")
    return max(1, round(hop_seconds * _MEL.sample_rate / _MEL.hop_length))


def _patching(patch_seconds, hop_seconds):
    # musicnn: frames = librosa.time_to_frames(seconds, n_fft=512, hop=256) + 1, i.e. 187 for 3 s.
    patch_seconds = DEFAULT_PATCH_SECONDS if patch_seconds is None else patch_seconds
    samples = int(positive_number(patch_seconds, "patch_seconds", unit="seconds") * _MEL.sample_rate)
    frames = (samples - _MEL.n_fft // 2) // _MEL.hop_length + 1
    if frames < 2:
        raise ValueError(f"patch_seconds={patch_seconds!r} is shorter than two log-mel frames")
    return Patching(frames, _hop_frames(hop_seconds, frames))


def _fixed_patching(own, input_kind, patch_seconds, hop_seconds, what):
    """Patches of a model that takes ``own`` samples only."""
    if patch_seconds is not None and round(patch_seconds * _MEL.sample_rate) != own:
        raise ValueError(f"{what} takes patches of {own} samples ({own / _MEL.sample_rate:g} s) only, "
                         f"not patch_seconds={patch_seconds!r}")
    frames = waveform_to_frames(own, _MEL)
    return Patching(frames, _hop_frames(hop_seconds, frames), own if input_kind == WAVEFORM else None)


def file_patching(described, patch_seconds=None, hop_seconds=None):
    """The patches a model file is scored on: its own input length when it has one; else
    ``patch_seconds``, or the run's training crop, or musicnn's 3 s."""
    if described.input_samples is None:
        return _patching(patch_seconds or described.training_seconds, hop_seconds)
    return _fixed_patching(described.input_samples, described.input_kind, patch_seconds, hop_seconds, described.path)


def _model_id(model):
    """The canonical id of ``model`` (for a model file: the id it was built as, else "file");
    only a name that is no pretrained model's id or alias goes to the registry (which imports
    every builder, and so TensorFlow) for its error."""
    from zoo.models.registry import ALIASES, resolve
    from zoo.weights import available

    model = split_model_name(model)[0]
    if is_model_path(model):
        return model_file(model).model_id
    model_id = ALIASES.get(model, model)
    return model_id if model_id in available() else resolve(model).model_id


def _check_file_weights(model, weights):
    if weights not in (None, DEFAULT_WEIGHTS):
        raise ValueError(f"{model} carries its own weights; weights={weights!r} applies to registry ids only")


def _named_weights(model, weights):
    """(model, weights): the weights an ``ID:WEIGHTS`` name carries win over the default."""
    model, named = split_model_name(model)
    if named is None or weights in (named, DEFAULT_WEIGHTS):
        return model, named or weights
    raise ValueError(f"the model name {model}:{named} names weights {named!r}, and weights={weights!r} others")


def _source(model, weights):
    """(canonical model id, tag names, the ``ModelFile`` when ``model`` names a file, else None);
    the zoo's errors for unknown names or unusable files. Needs no TensorFlow."""
    from zoo.weights import resolve_weights

    model, weights = _named_weights(model, weights)
    if is_model_path(model):
        _check_file_weights(model, weights)
        described = model_file(model)
        return described.model_id, list(described.tag_names), described
    if weights is None:
        raise ValueError("Tagging needs pretrained weights; weights=None would tag with random ones.")
    model_id = _model_id(model)
    return model_id, list(resolve_weights(model_id, weights).tag_names), None


def pretrained_model(model, weights):
    """(canonical model id, tag names) of ``weights`` for ``model``, or of the model file
    ``model`` names; the zoo's errors for unknown names or unusable files. Needs no TensorFlow."""
    return _source(model, weights)[:2]


def taggram(audio, model=DEFAULT_MODEL, *, weights=DEFAULT_WEIGHTS, sample_rate=None, patch_seconds=None,
            hop_seconds=None, runtime="keras"):
    """Tag scores per patch: a DataFrame indexed by patch start ``time`` (s), one column per tag.

    Arguments as for ``tag``.
    """
    import pandas as pd

    analyser = Analyser(model, weights=weights, top_k=None, embeddings=("taggram",), patch_seconds=patch_seconds,
                        hop_seconds=hop_seconds, runtime=runtime)
    _, arrays = analyser(audio, sample_rate)
    return pd.DataFrame(arrays["taggram"], index=pd.Index(arrays["time"], name="time"), columns=analyser.tag_names)


def _check_tag_options(top_k, aggregate):
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}")
    positive_int(top_k, "top_k", or_none=True)


def _ranked(scores, tag_names, top_k, aggregate):
    """{"tag": names, "score": aggregated scores}, best first (ties keep the tags' order)."""
    aggregated = AGGREGATES[aggregate](scores, axis=0)
    order = np.argsort(-aggregated, kind="stable")[:top_k]
    return {"tag": [tag_names[i] for i in order], "score": aggregated[order]}


def tag(
    audio,
    model=DEFAULT_MODEL,
    *,
    weights=DEFAULT_WEIGHTS,
    sample_rate=None,
    top_k=5,
    patch_seconds=None,
    hop_seconds=None,
    aggregate="mean",
    runtime="keras",
):
    """The clip's tags, best first: a DataFrame with columns ``tag`` and ``score``.

    Args:
        audio: path of a wav/flac/ogg/mp3 file, or an array (see ``zoo.audio.load_audio``).
        model: model id or alias with registered weights (``zoo.list_weights()``), ``ID:WEIGHTS``
            to name both (e.g. "vgg:msd"), or a model of your own: a ``.keras`` file or a
            zoo-train run folder (its tag names come with it).
        weights: pretrained weights name, e.g. "mtt" (MagnaTagATune) or "msd" (Million Song);
            a model file carries its own.
        sample_rate: rate of an array input in Hz (None: already 16 kHz).
        top_k: number of rows; None returns every tag.
        patch_seconds: patch length; None: the model's own (a fixed-length model's input, a run
            folder's training crop, else musicnn's 3 s = 187 frames; the VGG models need 3 s).
        hop_seconds: distance between patch starts; None = patch length (no overlap).
        aggregate: "mean" or "max" of the per-patch scores.
        runtime: what scores the patches (``zoo.tagging.runtimes.RUNTIMES``): "keras" (the Keras model
            on Keras' backend: TensorFlow, JAX or PyTorch; "tf" is its old name), "onnx" or "tflite"
            (converted once and cached; equal within 1e-5).
    """
    return analyse(audio, model, weights=weights, sample_rate=sample_rate, top_k=top_k, aggregate=aggregate,
                   patch_seconds=patch_seconds, hop_seconds=hop_seconds, runtime=runtime)[0]


def embeddings(audio, model=DEFAULT_MODEL, *, weights=DEFAULT_WEIGHTS, sample_rate=None, patch_seconds=None,
               hop_seconds=None, runtime="keras"):
    """Intermediate representations per patch, as musicnn's extractor offers them.

    musicnn models: ``timbral``, ``temporal`` [patches, frames, filters], ``cnn1``..``cnn3``
    [patches, frames, 64], ``max_pool``, ``mean_pool`` [patches, 753] (over the mid-end's
    dense concatenation), ``penultimate`` [patches, 200]. VGG models: ``pool1``..``pool5``.
    Arguments as for ``tag``.
    """
    names = tuple(embedding_recipes(_model_id(model)))
    _, arrays = analyse(audio, model, weights=weights, sample_rate=sample_rate, top_k=None, embeddings=names,
                        patch_seconds=patch_seconds, hop_seconds=hop_seconds, runtime=runtime)
    arrays.pop("time")
    return arrays


def _known_embeddings(model_id):
    return sorted(embedding_recipes(model_id)) + ["taggram"]


def embedding_names(model=DEFAULT_MODEL):
    """What ``embeddings`` (and ``analyse``) offer for ``model``, plus "taggram" (per-patch scores)."""
    return _known_embeddings(_model_id(model))


def _check_known(model_id, names):
    known = _known_embeddings(model_id)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"unknown embedding(s) {', '.join(unknown)} for {model_id!r}; known: {', '.join(known)}")


def check_embeddings(model, names):
    """ValueError naming the embeddings ``model`` does not offer, if any."""
    _check_known(_model_id(model), names)


def _patch_model(model_id, weights, described, patch_seconds, hop_seconds):
    """(Patching, what scores the patches) for registered weights, or for the model file described."""
    if described is None:
        from zoo.weights import resolve_weights

        own = resolve_weights(model_id, weights).input_samples
        if own is None:
            patching = _patching(patch_seconds, hop_seconds)
        else:  # fixed-length weights
            from zoo.models.registry import resolve

            patching = _fixed_patching(own, resolve(model_id).front.input_kind, patch_seconds, hop_seconds,
                                       f"{model_id}:{weights}")
        return patching, PatchModel(model_id, weights, patching.samples)
    patching = file_patching(described, patch_seconds, hop_seconds)
    return patching, FilePatchModel(described.path, described.content_hash(), patching.samples,
                                    described.input_kind, described.model_id)


class Analyser:
    """One model's analysis of audio: patches streamed, scored, tags ranked, embeddings kept.

    ``analyser(audio)`` does it all; ``chunks`` and ``score`` + ``result`` let a caller cut
    patches in one thread and score them in another (what tagging a library does). Arguments as
    for ``analyse``; ``pad_tail=True`` scores the tail that musicnn drops too, zero-padded to a
    last patch (what timestamp embeddings need).
    """

    def __init__(self, model=DEFAULT_MODEL, *, weights=DEFAULT_WEIGHTS, top_k=5, embeddings=(), aggregate="mean",
                 patch_seconds=None, hop_seconds=None, runtime="keras", pad_tail=False):
        _check_tag_options(top_k, aggregate)
        self.model_id, self.tag_names, described = _source(model, weights)
        weights = _named_weights(model, weights)[1]
        self.names = tuple(sorted(set(embeddings)))
        _check_known(self.model_id, self.names)
        self.top_k, self.aggregate = top_k, aggregate
        patching, patch_model = _patch_model(self.model_id, weights, described, patch_seconds, hop_seconds)
        self.patching = dataclasses.replace(patching, pad_tail=pad_tail)  # True: the tail gets a padded patch too
        self.recipes = {n: r for n, r in embedding_recipes(self.model_id).items() if n in self.names}
        layers = tuple(embedding_layers(self.model_id, self.names))
        self.runtime = make_runtime(runtime, patch_model, layers)

    @property
    def input_kind(self):
        return self.runtime.input_kind

    @property
    def patch_seconds(self):
        """Seconds one patch covers (its log-mel frames x the hop): a patch starting at t ends at
        t + this, where the next one starts when the patches do not overlap."""
        return self.patching.frames * _MEL.hop_length / _MEL.sample_rate

    def chunks(self, audio, sample_rate=None):
        """The audio's ``PatchChunk``s (zoo.audio.streaming): one chunk of patches in memory at a time."""
        return stream_patches(audio, self.patching, self.input_kind, sample_rate)

    def score(self, chunk):
        """({"scores": [patches, tags], layer: its outputs}, patch start times) of a chunk."""
        patches = chunk.patches
        outputs = [self.runtime(patches[i:i + BATCH_SIZE]) for i in range(0, len(patches), BATCH_SIZE)]
        return {name: np.concatenate([o[name] for o in outputs]) for name in outputs[0]}, chunk.times

    def result(self, scored):
        """(tags {"tag", "score"} best first, {name: array}) from the ``score`` of every chunk of
        one clip, in order."""
        outputs = {name: np.concatenate([o[name] for o, _ in scored]) for name in scored[0][0]}
        scores = outputs[SCORES]
        tags = _ranked(scores, self.tag_names, self.top_k, self.aggregate)
        arrays = {name: combine(*(outputs[layer] for layer in layers))
                  for name, (layers, combine) in self.recipes.items()}
        if "taggram" in self.names:
            arrays["taggram"] = scores
        if arrays:
            arrays["time"] = np.concatenate([times for _, times in scored])
        return tags, arrays

    def __call__(self, audio, sample_rate=None):
        return self.result([self.score(chunk) for chunk in self.chunks(audio, sample_rate)])


def analyse(audio, model=DEFAULT_MODEL, *, weights=DEFAULT_WEIGHTS, sample_rate=None, top_k=5, embeddings=(),
            aggregate="mean", patch_seconds=None, hop_seconds=None, runtime="keras"):
    """(tags as ``tag`` returns them, {name: array} of the requested ``embeddings``) in one pass.

    The patches are cut and scored once; the requested embeddings (``embedding_names(model)``;
    "taggram" is the per-patch scores, "time" comes with them) come from the same forward pass.
    """
    import pandas as pd

    analyser = Analyser(model, weights=weights, top_k=top_k, embeddings=embeddings, aggregate=aggregate,
                        patch_seconds=patch_seconds, hop_seconds=hop_seconds, runtime=runtime)
    tags, arrays = analyser(audio, sample_rate)
    return pd.DataFrame(tags), arrays
