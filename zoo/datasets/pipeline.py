"""tf.data input pipeline: (waveform float32 [batch, samples], labels float32 [batch, tags]).

Audio is decoded with tensorflow-io by file extension, mixed to mono, optionally cached in memory
(decoded, so random crops still differ between epochs), shuffled, and cropped to
``clip_samples`` (by default random crops when shuffling, centre crops otherwise; shorter clips
are padded with silence). The decoders assume files at the dataset's sample rate; nothing is resampled.
"""
import os

import numpy as np
import tensorflow as tf
import tensorflow_io as tfio

__all__ = ["DECODERS", "CACHE_LIMIT_BYTES", "make_dataset", "decode_audio"]

INT16_SCALE = 1.0 / 32768.0
CACHE_LIMIT_BYTES = 2 * 1024 ** 3  # decoded float32 audio kept in memory up to this size


def _decode_wav(contents):
    return tf.cast(tfio.audio.decode_wav(contents, dtype=tf.int16), tf.float32) * INT16_SCALE


def _decode_flac(contents):
    return tf.cast(tfio.audio.decode_flac(contents, dtype=tf.int16), tf.float32) * INT16_SCALE


def _decode_mp3(contents):
    return tfio.audio.decode_mp3(contents)


# Extension -> decoder of file contents to float32 [samples, channels] in [-1, 1].
DECODERS = {".wav": _decode_wav, ".flac": _decode_flac, ".mp3": _decode_mp3}


def decode_audio(path, decoder_index):
    """Mono float32 [samples] from ``path``; ``decoder_index`` indexes ``DECODERS``' values."""
    contents = tf.io.read_file(path)
    branches = [lambda decode=decode: decode(contents) for decode in DECODERS.values()]
    audio = tf.switch_case(decoder_index, branches)
    return tf.reduce_mean(audio, axis=-1)


def make_dataset(dataset, split, batch_size, clip_samples=None, shuffle=None, random_crop=None, seed=0,
                 repeat=False, cache="auto", drop_remainder=False):
    """Batches of (waveform, labels) for ``split`` of a ``TaggingDataset``.

    shuffle: default True for "train". clip_samples: crop length, None keeps whole clips (padding
    shorter ones to the longest in their batch). random_crop: default ``shuffle``; otherwise
    centre crops. cache: True, False or "auto" (when the decoded split fits ``CACHE_LIMIT_BYTES``).
    """
    shuffle = split == "train" if shuffle is None else shuffle
    random_crop = shuffle if random_crop is None else random_crop
    paths = dataset.audio_paths(split)
    labels = dataset.labels(split)
    if not paths:
        raise ValueError(f"split {split!r} of {dataset.name} is empty")
    cache = _decoded_bytes(dataset, len(paths)) <= CACHE_LIMIT_BYTES if cache == "auto" else cache
    elements = tf.data.Dataset.from_tensor_slices((paths, _decoder_indices(paths), labels))
    elements = _decode_and_shuffle(elements, len(paths), shuffle, cache, seed)
    if repeat:
        elements = elements.repeat()
    if clip_samples is not None:
        elements = _crop(elements, clip_samples, random_crop, seed)
        batched = elements.batch(batch_size, drop_remainder=drop_remainder)
    else:
        batched = elements.padded_batch(batch_size, drop_remainder=drop_remainder)
    return batched.prefetch(tf.data.AUTOTUNE)


def _decoded_bytes(dataset, count):
    return count * dataset.clip_seconds * dataset.sample_rate * np.dtype(np.float32).itemsize


def _decoder_indices(paths):
    extensions = list(DECODERS)
    indices = []
    for path in paths:
        extension = os.path.splitext(path)[1].lower()
        if extension not in DECODERS:
            raise ValueError(f"no decoder for {path!r}; known extensions: {extensions}")
        indices.append(extensions.index(extension))
    return np.array(indices, dtype=np.int32)


def _decode_and_shuffle(elements, count, shuffle, cache, seed):
    def decode(path, decoder_index, label):
        return decode_audio(path, decoder_index), label

    if cache:  # decode once, then shuffle decoded clips (a shuffle before a cache would freeze its order)
        elements = elements.map(decode, num_parallel_calls=tf.data.AUTOTUNE).cache()
        return elements.shuffle(count, seed=seed, reshuffle_each_iteration=True) if shuffle else elements
    if shuffle:  # shuffle the cheap file names, not the audio
        elements = elements.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return elements.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _crop(elements, clip_samples, random_crop, seed):
    if not random_crop:
        return elements.map(lambda audio, label: (_center_crop(audio, clip_samples), label),
                            num_parallel_calls=tf.data.AUTOTUNE)
    # One stateless seed per element from a seeded stream: reproducible, new crops every epoch.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((elements, seeds)).map(
        lambda element, crop_seed: (_random_crop(element[0], clip_samples, crop_seed), element[1]),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def _pad_to(audio, clip_samples):
    missing = tf.maximum(clip_samples - tf.shape(audio)[0], 0)
    return tf.pad(audio, [[0, missing]])


def _center_crop(audio, clip_samples):
    audio = _pad_to(audio, clip_samples)
    start = (tf.shape(audio)[0] - clip_samples) // 2
    return tf.ensure_shape(audio[start:start + clip_samples], [clip_samples])


def _random_crop(audio, clip_samples, crop_seed):
    audio = _pad_to(audio, clip_samples)
    room = tf.shape(audio)[0] - clip_samples
    start = tf.random.stateless_uniform([], seed=crop_seed, maxval=room + 1, dtype=tf.int32)
    return tf.ensure_shape(audio[start:start + clip_samples], [clip_samples])
