"""Timestamp and scene embeddings of a zoo model as NumPy arrays: what ``zoo.hear`` serves.

Timestamp embeddings are the map the model's back-end reads (the ``frames`` embedding: the
front-end's output; with musicnn's back-end, the front-end's 561 channels and the mid-end's 3 x 64),
from patches that cover the whole clip (the tail that tagging drops is zero-padded to a last
patch). The timestamps are a regular grid at the frames' spacing, each taking the frame whose
centre is nearest: the front-ends that keep time (vertical, horizontal, vertical-horizontal on
the log-mel; frame-single and frame-many on the waveform) give one frame per 256 samples, 16 ms.
A coarser map is held: its frames are cut into equal parts no longer than 50 ms (HEAR's tolerance
for transcription), so every model meets the API, while the features still change only once per
frame (small-rectangular, VGG: 1.5 s in 3 s patches; sample-level: 143 ms).

Scene embeddings are a per-patch embedding averaged over the clip's patches (tagging's patches:
3 s, the tail dropped, a clip shorter than one patch zero-padded), by back-end (``SCENE_EMBEDDINGS``).

    >>> import numpy as np
    >>> embedder = Embedder("musicnn:mtt")
    >>> clips = np.zeros((2, 32000), np.float32)
    >>> embedder.scene_embeddings(clips).shape
    (2, 1506)
"""
import functools
import math

import numpy as np

from zoo.audio.decoding import DEFAULT_RATE
from zoo.models.log_mel_config import LogMelConfig
from zoo.models.registry import LOG_MEL
from zoo.tagging.analyser import DEFAULT_MODEL, DEFAULT_WEIGHTS, Analyser, check_embeddings, pretrained_model

__all__ = ["MAX_HOP_SECONDS", "SAMPLE_RATE", "SCENE_EMBEDDINGS", "TIMESTAMP_EMBEDDING", "Embedder",
           "scene_embedding_names"]

SAMPLE_RATE = DEFAULT_RATE  # 16 kHz: every pretrained model's input
MAX_HOP_SECONDS = 0.05
TIMESTAMP_EMBEDDING = "frames"
# Back-end -> the per-patch embeddings a scene embedding joins (``zoo.embedding_names`` lists them):
# musicnn's max and mean over time of its mid-end map (what Pons' transfer experiments read), the
# pooled map of the pooling back-ends, and the tagging head's input of the others.
SCENE_EMBEDDINGS = {
    "musicnn": ("max_pool", "mean_pool"),
    "maxpool": ("pooled",),
    "avgpool": ("pooled",),
    "attention": ("pooled",),
    "dense": ("embedding",),
    "fcn": ("embedding",),
    "rnn": ("embedding",),
}
_MEL = LogMelConfig(sample_rate=SAMPLE_RATE)


def scene_embedding_names(model_id):
    """The embeddings a scene embedding of ``model_id`` joins, by its back-end."""
    return SCENE_EMBEDDINGS.get(model_id.split("-")[0], ("embedding",))


def _check_batch(audio):
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2:
        raise ValueError(f"audio must be [n_sounds, n_samples] at {SAMPLE_RATE} Hz, got shape {audio.shape}")
    return audio


def _nearest(sorted_values, queries):
    """Index into ``sorted_values`` of the value nearest each query."""
    right = np.clip(np.searchsorted(sorted_values, queries), 1, len(sorted_values) - 1)
    left = right - 1
    if len(sorted_values) == 1:
        return np.zeros(len(queries), dtype=int)
    return np.where(queries - sorted_values[left] <= sorted_values[right] - queries, left, right)


class Embedder:
    """One model's HEAR embeddings (see the module docstring).

    Args:
        model: a model name as everywhere in the zoo: an id or alias, ``ID:WEIGHTS`` (e.g.
            "vgg:msd"), a ``.keras`` file or a zoo-train run folder.
        weights: registered weights of an id that names none (default "mtt").
        scene: the embeddings a scene embedding joins (default: ``scene_embedding_names``).
        runtime: what scores the patches (``zoo.tagging.runtimes``): "keras" (Keras' backend) or "onnx".
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, model=DEFAULT_MODEL, *, weights=DEFAULT_WEIGHTS, scene=None, runtime="keras"):
        self.model_id = pretrained_model(model, weights)[0]
        self.scene_names = tuple(scene or scene_embedding_names(self.model_id))
        check_embeddings(model, (*self.scene_names, TIMESTAMP_EMBEDDING))
        self._model, self._weights, self._runtime = model, weights, runtime

    # Each network is built on first use: the probe needs the scene one only.
    @functools.cached_property
    def _scene(self):
        return Analyser(self._model, weights=self._weights, top_k=None, runtime=self._runtime,
                        embeddings=self.scene_names)

    @functools.cached_property
    def _frames(self):
        return Analyser(self._model, weights=self._weights, top_k=None, runtime=self._runtime,
                        embeddings=(TIMESTAMP_EMBEDDING,), pad_tail=True)

    @functools.cached_property
    def timestamp_embedding_size(self):
        return int(self.timestamp_embedding(np.zeros(self._frames.patching.samples, np.float32))[0].shape[-1])

    @functools.cached_property
    def scene_embedding_size(self):
        return int(self.scene_embedding(np.zeros(self._scene.patching.samples, np.float32)).shape[-1])

    def scene_embedding(self, audio, sample_rate=None):
        """[d] float32: the mean over the clip's patches; ``audio`` a file or a 1-D array
        (at ``sample_rate``, default 16 kHz)."""
        _, arrays = self._scene(audio, sample_rate)
        per_patch = np.concatenate([arrays[name].reshape(len(arrays[name]), -1) for name in self.scene_names], axis=1)
        return per_patch.mean(axis=0).astype(np.float32)

    def scene_embeddings(self, audio):
        """[n_sounds, d] float32 of audio [n_sounds, n_samples] at 16 kHz."""
        audio = _check_batch(audio)
        rows = [self.scene_embedding(sound) for sound in audio]
        return np.stack(rows) if rows else np.zeros((0, self.scene_embedding_size), np.float32)

    def _frame_geometry(self, frames_per_patch):
        """(offset of a patch's first frame from the patch start, samples per frame), as the
        frames cover the patch: log-mel frame j stands for [j - 1/2, j + 1/2) hops."""
        patching = self._frames.patching
        if self._frames.input_kind == LOG_MEL:
            return -_MEL.hop_length / 2, patching.frames * _MEL.hop_length / frames_per_patch
        return 0.0, patching.samples / frames_per_patch

    def timestamp_embedding(self, audio):
        """(embeddings [T, d] float32, timestamps [T] float32 in ms) of one clip, a 1-D array at
        16 kHz: on a regular grid from the first frame's centre, at the frames' spacing (or an equal
        part of it no longer than 50 ms), each time taking the frame whose centre is nearest."""
        layers, combine = self._frames.recipes[TIMESTAMP_EMBEDDING]
        pieces, centres, span = [], [], None
        for chunk in self._frames.chunks(audio):
            outputs, times = self._frames.score(chunk)
            frames = combine(*(outputs[layer] for layer in layers))  # [patches, F, d]
            offset, span = self._frame_geometry(frames.shape[1])
            starts = np.round(np.asarray(times) * SAMPLE_RATE)
            pieces.append(frames.reshape(-1, frames.shape[-1]).astype(np.float32, copy=False))
            centres.append((starts[:, None] + offset + span * (np.arange(frames.shape[1]) + 0.5)).ravel())
        frames, centres = np.concatenate(pieces), np.concatenate(centres)
        step = span / max(1, math.ceil(span / (MAX_HOP_SECONDS * SAMPLE_RATE) - 1e-9))
        grid = centres.min() - span / 2 + step / 2 + step * np.arange(max(1, math.ceil(len(audio) / step)))
        grid = grid[: max(1, int(np.sum(grid < len(audio))))]
        order = np.argsort(centres, kind="stable")
        nearest = _nearest(centres[order], grid)
        return frames[order[nearest]], (grid * (1000.0 / SAMPLE_RATE)).astype(np.float32)

    def timestamp_embeddings(self, audio):
        """(embeddings [n_sounds, T, d] float32, timestamps [n_sounds, T] float32 in ms) of audio
        [n_sounds, n_samples] at 16 kHz."""
        audio = _check_batch(audio)
        results = [self.timestamp_embedding(sound) for sound in audio]
        if not results:
            return np.zeros((0, 0, self.timestamp_embedding_size), np.float32), np.zeros((0, 0), np.float32)
        return np.stack([e for e, _ in results]), np.stack([t for _, t in results])
