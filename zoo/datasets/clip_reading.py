"""Reading one training or evaluation clip from its file: mono float32, the whole clip or a crop.

A clip is a whole file or a segment of one (``start`` sample, ``frames`` samples; -1 frames:
to the end of the file), as ``TaggingDataset.segments`` gives them.

Both input pipelines (``pipeline``: tf.data; ``numpy_pipeline``: NumPy, where TensorFlow is not
installed) read audio with these functions, so a clip and its crops are the same in either.
"""
import numpy as np
import soundfile as sf

__all__ = ["crop_seed", "read_crop", "read_whole"]


def _mono(samples):
    return samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0]


def _path(path):
    return path.decode() if isinstance(path, bytes) else str(path)


def read_whole(path, start=0, frames=-1):
    """The clip: the whole file, or ``frames`` samples (-1: the rest) from sample ``start``."""
    return _mono(sf.read(_path(path), frames=int(frames), start=int(start), dtype="float32", always_2d=True)[0])


def read_crop(path, clip_samples, random_crop, seed, start=0, frames=-1):
    """``clip_samples`` of the clip (the file, or its segment ``start``, ``frames``), decoding only
    those: a random or the centre window; a shorter clip is followed by silence.

    libsndfile seeks in wav, flac, ogg and mp3, so a 3 s crop of a 10 s FLAC costs a third of
    its decode, and libsndfile decodes fast enough to hide behind a training step where
    tensorflow-io did not (benchmarks/results/input_pipeline.md).
    """
    with sf.SoundFile(_path(path)) as audio:
        length = max(0, audio.frames - int(start))
        length = length if frames < 0 else min(int(frames), length)
        room = max(0, length - clip_samples)
        offset = int(np.random.default_rng(seed).integers(0, room + 1)) if random_crop else room // 2
        audio.seek(int(start) + offset)
        samples = _mono(audio.read(min(clip_samples, length), dtype="float32", always_2d=True))
    return np.pad(samples, (0, clip_samples - len(samples)))  # a shorter clip: silence after it


def crop_seed(seed):
    """A crop's seed as numpy's generators take it (non-negative 63 bits)."""
    return int(seed) & 0x7FFFFFFFFFFFFFFF
