"""The input pipeline without TensorFlow: NumPy batches (waveform float32 [batch, samples], labels
float32 [batch, tags]) as ``pipeline.make_dataset`` gives them through tf.data.

For machines where TensorFlow is not installed (JAX or PyTorch only); ``input_pipelines`` picks it
there. The same clip reading (``clip_reading``), the same options: the file order reshuffled every
pass, a seeded random crop per element (new crops every pass), repetition, whole clips padded to
the longest of their batch. Two threads decode the next batches while the current one trains.
"""
import collections
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from zoo.datasets.clip_reading import read_crop, read_whole

__all__ = ["numpy_batches"]

_PREFETCH = 2  # batches decoded ahead


def _index_batches(count, batch_size, shuffle, repeat, drop_remainder, rng):
    """Lists of element indices, batched across pass boundaries when repeating (as tf.data's
    repeat-then-batch)."""
    batch = []
    while True:
        for index in (rng.permutation(count) if shuffle else range(count)):
            batch.append(int(index))
            if len(batch) == batch_size:
                yield batch
                batch = []
        if not repeat:
            break
    if batch and not drop_remainder:
        yield batch


def _load(segments, labels, indices, clip_samples, random_crop, seeds):
    paths, starts, frames = segments
    if clip_samples is None:
        clips = [read_whole(paths[i], starts[i], frames[i]) for i in indices]
        longest = max(len(c) for c in clips)
        waveforms = np.stack([np.pad(c, (0, longest - len(c))) for c in clips])
    else:
        waveforms = np.stack([read_crop(paths[i], clip_samples, random_crop, seed, starts[i], frames[i])
                              for i, seed in zip(indices, seeds)])
    return waveforms.astype(np.float32), labels[indices]


def numpy_batches(dataset, split, batch_size, clip_samples=None, shuffle=None, random_crop=None, seed=0,
                  repeat=False, drop_remainder=False):
    """An iterator of NumPy (waveforms, labels) batches of ``split`` (options as ``make_dataset``'s)."""
    shuffle = split == "train" if shuffle is None else shuffle
    random_crop = shuffle if random_crop is None else random_crop
    segments = dataset.segments(split)
    paths = segments[0]
    labels = np.asarray(dataset.labels(split), np.float32)
    if not paths:
        raise ValueError(f"split {split!r} of {dataset.name} is empty")
    rng = np.random.default_rng(seed)
    batches = _index_batches(len(paths), batch_size, shuffle, repeat, drop_remainder, rng)

    def generate():
        with ThreadPoolExecutor(max_workers=2) as pool:
            pending = collections.deque()
            for indices in batches:
                seeds = [int(s) for s in rng.integers(0, 2**63 - 1, len(indices))]
                pending.append(pool.submit(_load, segments, labels, indices, clip_samples, random_crop, seeds))
                if len(pending) > _PREFETCH:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    return generate()
