"""The teacher's scores on every 3 s patch of the corpus, computed once and cached per track.

The teacher (``musicnn:mtt`` by default: any ``ID:WEIGHTS`` of the registry) tags each track
through the zoo's one tagging path (``zoo.tagging.Analyser``, the ONNX runtime by default) on
the 16 kHz audio the students read (``zoo.datasets.decoded_audio``): its scores per patch
(musicnn's 187-frame patches, no overlap, as ``zoo.taggram`` gives them) and its penultimate
features (musicnn: the 200 values before the head; they cost nothing more, 0.8 kB a patch).
Each track's targets are one ``.npz`` (``zoo.datasets.soft_targets`` format) in the zoo cache,
named by the track's sha256, written atomically and checked on every use
(``zoo.files.cached_file``): a killed run resumes at the first track without one.

    >>> from pretrained.distillation.teacher import teacher_targets
    >>> paths = teacher_targets(corpus)                # doctest: +SKIP
    teacher musicnn:mtt: 177/177 tracks, 11.99 of 11.99 h, 3 min 10 s, done
"""
import functools
import os
import sys
import time

import numpy as np

from zoo.cache import cache_dir
from zoo.datasets.decoded_audio import decoded_file
from zoo.datasets.soft_targets import read_targets, save_targets
from zoo.files import cached_file, entry_problem

__all__ = ["CACHE_VERSION", "DEFAULT_TEACHER", "TeacherProgress", "teacher_folder", "teacher_targets",
           "write_soft_targets"]

DEFAULT_TEACHER = "musicnn:mtt"
CACHE_VERSION = 1  # bump when what a targets file holds changes
SAMPLE_RATE = 16000
FEATURES = "penultimate"


def _teacher_name(teacher):
    from zoo.models.model_files import split_model_name

    model, weights = split_model_name(teacher)
    if weights is None:
        raise ValueError(f"teacher {teacher!r}: name a model and its registered weights as ID:WEIGHTS, "
                         "e.g. musicnn:mtt (zoo.list_weights() lists them)")
    return model, weights


def teacher_folder(teacher=DEFAULT_TEACHER, cache_root=None):
    """Where ``teacher``'s targets are cached: ``<cache_root>/teacher/<model id>.<weights>.v<N>``."""
    from zoo.tagging import pretrained_model

    model, weights = _teacher_name(teacher)
    model_id, _ = pretrained_model(model, weights)
    root = os.fspath(cache_root) if cache_root else str(cache_dir("distillation"))
    return os.path.join(root, "teacher", f"{model_id}.{weights}.v{CACHE_VERSION}")


def _hours(seconds):
    return seconds / 3600


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


class TeacherProgress:
    """One line of progress: tracks and hours done, time so far and left. On a terminal it is
    rewritten in place; otherwise (a log) a line at most every ``every`` seconds, and the last."""

    def __init__(self, teacher, total_seconds, tracks, stream=None, every=30.0):
        self.teacher, self.total, self.tracks = teacher, total_seconds, tracks
        self.stream = stream or sys.stdout
        self.every, self.started, self.last = every, time.perf_counter(), -1e9
        self.done_seconds = self.computed_seconds = 0.0
        self.done_tracks = 0

    def update(self, seconds, computed):
        """One more track of ``seconds``; ``computed`` False when it came from the cache."""
        self.done_tracks += 1
        self.done_seconds += seconds
        self.computed_seconds += seconds if computed else 0.0
        now = time.perf_counter()
        finished = self.done_tracks == self.tracks
        if not (finished or self.stream.isatty() or now - self.last >= self.every):
            return
        self.last = now
        elapsed = now - self.started
        rate = self.computed_seconds / elapsed if elapsed > 0 and self.computed_seconds else 0.0
        left = "done" if finished else (f"about {_clock((self.total - self.done_seconds) / rate)} left" if rate
                                        else "time left not known yet")
        line = (f"teacher {self.teacher}: {self.done_tracks}/{self.tracks} tracks, "
                f"{_hours(self.done_seconds):.2f} of {_hours(self.total):.2f} h, {_clock(elapsed)}, {left}")
        if self.stream.isatty():
            self.stream.write("\r" + line + ("\n" if finished else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _analyser(teacher, runtime):
    from zoo.tagging import Analyser, embedding_names

    model, weights = _teacher_name(teacher)
    features = (FEATURES,) if FEATURES in embedding_names(model) else ()
    return Analyser(model, weights=weights, top_k=None, embeddings=("taggram", *features), runtime=runtime)


def teacher_targets(corpus, teacher=DEFAULT_TEACHER, cache_root=None, runtime="onnx", stream=None):
    """The targets file of every corpus track, in order, computing those not cached yet.

    Args:
        corpus: the corpus manifest (``corpus.build_corpus``): columns ``audio``, ``sha256``, ``seconds``.
        teacher: ``ID:WEIGHTS`` of registered weights.
        cache_root: folder of the cache (default: the zoo cache's ``distillation``).
        runtime: the tagging runtime ("onnx", "keras", "tflite": see zoo.tagging.runtimes).
        stream: where the progress line goes (standard output by default).
    """
    folder = teacher_folder(teacher, cache_root)
    os.makedirs(folder, exist_ok=True)
    progress = TeacherProgress(teacher, float(corpus["seconds"].sum()), len(corpus), stream)
    analysers, paths = [], []  # the Analyser, made at the first track to compute

    def make(temporary, audio):
        if not analysers:
            analysers.append(_analyser(teacher, runtime))
        analyser = analysers[0]
        wav, _ = decoded_file(audio, SAMPLE_RATE)
        _, arrays = analyser(wav)
        save_targets(temporary, scores=arrays["taggram"], sample_rate=SAMPLE_RATE, tags=analyser.tag_names,
                     starts=np.round(arrays["time"] * SAMPLE_RATE).astype(np.int64),
                     patch_samples=int(round(analyser.patch_seconds * SAMPLE_RATE)),
                     **({FEATURES: arrays[FEATURES].astype(np.float32)} if FEATURES in arrays else {}))

    for audio, digest, seconds in zip(corpus["audio"], corpus["sha256"], corpus["seconds"]):
        path = os.path.join(folder, f"{digest[:32]}.npz")
        computed = entry_problem(path) is not None
        paths.append(cached_file(path, functools.partial(make, audio=audio), what=f"{teacher} targets of {audio}",
                                 check=read_targets))
        progress.update(float(seconds), computed)
    return paths


def write_soft_targets(corpus, targets, path):
    """The CSV ``soft:PATH`` trains on (``zoo.datasets.soft_targets``): each track's audio, split and
    targets file, written atomically."""
    import pandas as pd

    from zoo.files import write_csv_atomically

    frame = pd.DataFrame({"path": corpus["audio"], "split": corpus["split"], "targets": targets,
                          "track": corpus["track"]})
    write_csv_atomically(frame, os.fspath(path))
