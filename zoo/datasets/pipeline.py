"""The tf.data input pipeline: (waveform float32 [batch, samples], labels float32 [batch, tags]).

Files (or segments of files: ``TaggingDataset.segments``) are shuffled by name (reshuffled every
pass) and read with libsndfile (soundfile) inside the pipeline, mixed to mono; with
``clip_samples``, only the crop is decoded (a random window when shuffling, the centre one
otherwise; a shorter clip is padded with silence). Nothing is held in memory beyond the batches
in flight, so any dataset size trains in bounded memory. Files are assumed at the dataset's
sample rate (the manifest and soft-target readers resample ahead of time).
Where TensorFlow is not installed, ``numpy_pipeline`` gives the same batches' NumPy counterpart
(``input_pipelines`` picks).
"""
import tensorflow as tf

from zoo.datasets import clip_reading

__all__ = ["make_dataset"]


def make_dataset(dataset, split, batch_size, clip_samples=None, shuffle=None, random_crop=None, seed=0,
                 repeat=False, drop_remainder=False):
    """Batches of (waveform, labels) for ``split`` of a ``TaggingDataset``.

    shuffle: default True for "train" (the file order, reshuffled every pass). clip_samples: crop
    length; None keeps whole clips (padding shorter ones to the longest in their batch).
    random_crop: default ``shuffle``; otherwise centre crops.
    """
    shuffle = split == "train" if shuffle is None else shuffle
    random_crop = shuffle if random_crop is None else random_crop
    paths, starts, frames = dataset.segments(split)
    labels = dataset.labels(split)
    if not paths:
        raise ValueError(f"split {split!r} of {dataset.name} is empty")
    elements = tf.data.Dataset.from_tensor_slices(((paths, starts, frames), labels))
    if shuffle:
        elements = elements.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        elements = elements.repeat()
    if clip_samples is None:
        elements = elements.map(lambda clip, label: (_numpy(clip_reading.read_whole, list(clip), [None]), label),
                                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        batched = elements.padded_batch(batch_size, drop_remainder=drop_remainder)
    else:
        # One seed per element from a seeded stream: reproducible, new crops every pass.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        elements = tf.data.Dataset.zip((elements, seeds)).map(
            lambda element, crop_seed: (_crop(element[0], clip_samples, random_crop, crop_seed), element[1]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        batched = elements.batch(batch_size, drop_remainder=drop_remainder)
    return batched.prefetch(tf.data.AUTOTUNE)


def _numpy(function, arguments, shape):
    audio = tf.numpy_function(function, arguments, tf.float32, stateful=False, name="read_audio")
    return tf.ensure_shape(audio, shape)


def _crop(clip, clip_samples, random_crop, crop_seed):
    def read(path, start, frames, seed):
        return clip_reading.read_crop(path, clip_samples, random_crop, clip_reading.crop_seed(seed), start, frames)

    return _numpy(read, [*clip, crop_seed], [clip_samples])
