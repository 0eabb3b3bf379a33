"""Scene embeddings of a task's audio, computed once per (model, embedding, task) and cached.

The cache folder is named after what the embeddings depend on (the model's weights or file
content, the embeddings joined, the task's name, version and files). Embeddings are written in
parts of ``PART_SIZE`` clips, each atomically, and joined into ``embeddings.npz`` when the task is
done: a run killed at any point resumes at the first clip without a part, and a rerun, or a
second classifier, costs no forward pass. A part that does not load is computed again.

    >>> from benchmarks.probe.tasks import read_task
    >>> cached = task_embeddings("musicnn:mtt", read_task("tasks/gm-tempo"), cache_dir="out/embeddings")
    >>> cached.vectors.shape, cached.keys[:1]
    ((60, 1506), ['fold00/clip-000.wav'])
"""
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from zoo.files import atomic_path

__all__ = ["PART_SIZE", "TaskEmbeddings", "example_key", "task_embeddings"]

PART_SIZE = 32
_DONE = "embeddings.npz"
_KEY = "key.json"


def example_key(split, example):
    """A clip's key: its split and file name (the same name may lie in two splits)."""
    return f"{split}/{example.name}"


@dataclass
class TaskEmbeddings:
    keys: list  # example_key of each row
    vectors: np.ndarray  # [clips, d] float32
    clips_per_second: float  # embedding throughput when computed (NaN if it came from an older cache)
    names: tuple = ()  # the embeddings each vector joins

    def rows(self, keys):
        index = {key: i for i, key in enumerate(self.keys)}
        return self.vectors[[index[key] for key in keys]]


def _examples(task):
    return [(example_key(split, example), example) for split in task.splits() for example in task.examples(split)]


def _folder(cache_dir, model_identity, scene_names, task, keys):
    described = {"model": model_identity, "embeddings": list(scene_names), "task": task.name,
                 "version": getattr(task, "version", None), "sample_rate": task.sample_rate, "clips": keys}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:20]
    return Path(cache_dir) / f"{task.name}-{digest}", {k: v for k, v in described.items() if k != "clips"}


def _save_npz(path, **arrays):
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, **arrays)


def _load(path, expected_keys=None):
    """(keys, vectors, extra) of a cached file, or None when it does not load or holds other clips."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys, vectors = [str(k) for k in data["keys"]], np.asarray(data["vectors"], np.float32)
            extra = {name: data[name] for name in data.files if name not in ("keys", "vectors")}
    except Exception:  # a cut-short or foreign file: computed again
        return None
    if len(keys) != len(vectors) or (expected_keys is not None and keys != expected_keys):
        return None
    return keys, vectors, extra


def task_embeddings(model_name, task, *, cache_dir, scene=None, runtime="keras", label=None, progress=True):
    """``TaskEmbeddings`` of every clip of ``task`` (all splits) with the zoo model ``model_name``.

    Args:
        model_name: a zoo model name (``ID:WEIGHTS``, a ``.keras`` file, a run folder).
        task: a ``benchmarks.probe.tasks.Task``.
        cache_dir: where the embeddings of each (model, embedding, task) are kept.
        scene: the embeddings a scene embedding joins (default: ``zoo.hear.embedder.SCENE_EMBEDDINGS``).
        runtime: what scores the patches: "keras" or "onnx".
        label, progress: the progress bar's name, and whether to show it.
    """
    from benchmarks.probe.models import identity
    from zoo.hear.embedder import Embedder

    embedder = Embedder(model_name, scene=scene, runtime=runtime)
    examples = _examples(task)
    keys = [key for key, _ in examples]
    folder, described = _folder(cache_dir, identity(model_name), embedder.scene_names, task, keys)
    done = _load(folder / _DONE, keys)
    if done is not None:
        rate = float(done[2].get("clips_per_second", np.nan))
        return TaskEmbeddings(done[0], done[1], rate, embedder.scene_names)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / _KEY) as temporary, open(temporary, "w") as handle:
        json.dump(described, handle, indent=1)
    vectors, seconds, computed = [], 0.0, 0
    bar = tqdm(total=len(examples), desc=f"{label or model_name} · {task.name}", disable=not progress, leave=False)
    for first in range(0, len(examples), PART_SIZE):
        part_keys = keys[first:first + PART_SIZE]
        part = folder / f"part-{first // PART_SIZE:05d}.npz"
        loaded = _load(part, part_keys)
        if loaded is None:
            if not computed:
                embedder.scene_embedding_size  # noqa: B018 - builds the network before the clock starts
            start = time.perf_counter()
            block = np.stack([embedder.scene_embedding(str(example.path))
                              for _, example in examples[first:first + PART_SIZE]])
            seconds += time.perf_counter() - start
            computed += len(part_keys)
            _save_npz(part, keys=np.array(part_keys), vectors=block)
        else:
            block = loaded[1]
        vectors.append(block)
        bar.update(len(part_keys))
    bar.close()
    rate = computed / seconds if computed else np.nan
    matrix = np.concatenate(vectors).astype(np.float32)
    _save_npz(folder / _DONE, keys=np.array(keys), vectors=matrix, clips_per_second=np.array(rate))
    for part in folder.glob("part-*.npz"):
        os.remove(part)
    return TaskEmbeddings(keys, matrix, rate, embedder.scene_names)
