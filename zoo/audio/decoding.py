"""Audio loading for tagging: any file or array -> mono float32 waveform at the model's rate.

Files are decoded with libsndfile (soundfile: wav, flac, ogg, mp3), arrays are taken as they are;
both are checked, downmixed to mono and resampled with soxr. libsndfile and soxr were chosen over
tensorflow-io for speed and, in resampling, accuracy (benchmarks/results/code_choices.md).
"""
import os
import re
from pathlib import Path

import numpy as np

from zoo.arguments import positive_number

__all__ = ["DEFAULT_RATE", "AudioError", "audio_blocks", "load_audio", "soundfile_path"]

DEFAULT_RATE = 16000
MAX_CHANNELS = 64  # beyond this a 2-D array is far more likely channels-first than real
_PCM_SCALES = {np.dtype(np.int8): 2.0**7, np.dtype(np.int16): 2.0**15, np.dtype(np.int32): 2.0**31}


class AudioError(ValueError):
    """The audio cannot be used: missing or undecodable file, empty, non-finite, bad shape."""


def _audio_error(message):
    return AudioError(f"{message}.")


def _check_rate(rate, what):
    positive_number(rate, what, unit="Hz", error=_audio_error)
    return float(rate) if float(rate) != int(rate) else int(rate)


def _as_array(audio):
    try:
        return np.asarray(audio)
    except (TypeError, ValueError) as error:  # ragged lists, odd objects
        raise AudioError(f"The audio is neither a file path nor an array of samples: {error}") from None


def _as_float(samples, name):
    if samples.dtype in _PCM_SCALES:
        return samples.astype(np.float32) / np.float32(_PCM_SCALES[samples.dtype])
    if samples.dtype == np.uint8:  # 8-bit PCM is unsigned, centred on 128
        return (samples.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(samples.dtype, np.floating):
        return samples.astype(np.float32)
    raise AudioError(f"{name} has samples of type {samples.dtype}; expected floats or integer PCM.")


def _as_frames(samples, name):
    """[samples, channels] view of a 1-D or 2-D (samples, channels) array."""
    if samples.ndim == 1:
        return samples[:, None]
    if samples.ndim == 2 and 0 < samples.shape[1] <= MAX_CHANNELS:
        return samples
    raise AudioError(
        f"{name} has shape {samples.shape}; expected (samples,) or (samples, channels) with at most "
        f"{MAX_CHANNELS} channels (transpose a channels-first array)."
    )


def _checked(samples, name):
    if samples.shape[0] == 0:
        raise AudioError(f"{name} contains no audio samples.")
    bad = np.count_nonzero(~np.isfinite(samples))
    if bad:
        raise AudioError(f"{name} has {bad} NaN or infinite samples out of {samples.size}.")
    return samples


def _is_mpeg_frame_sync(head):
    return len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0


# Leading bytes of the formats we decode; anything else is refused before the decoder sees it,
# with a message that names the supported formats.
_SIGNATURES = (
    ("wav", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WAVE"),
    ("flac", lambda head: head[:4] == b"fLaC"),
    ("ogg", lambda head: head[:4] == b"OggS"),
    ("mp3", lambda head: head[:3] == b"ID3" or _is_mpeg_frame_sync(head)),
)


def _sniff_format(path):
    with open(path, "rb") as f:
        head = f.read(12)
    return next((name for name, matches in _SIGNATURES if matches(head)), None)


def _check_complete(audio, path):
    # libsndfile reads a cut WAV up to where it ends, noting the shortfall only in its log:
    # "data : 48000 (should be 956)". A cut file is corrupt, not a shorter clip.
    shortfall = re.search(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", audio.extra_info, re.MULTILINE)
    if shortfall and int(shortfall.group(2)) < int(shortfall.group(1)):
        raise AudioError(f"Cannot decode {path}: the file is cut short (its header promises "
                         f"{shortfall.group(1)} bytes of samples, {shortfall.group(2)} follow).")


def _checked_path(path):
    path = Path(path)
    if not path.exists():
        raise AudioError(f"No such audio file: {path}")
    if not path.is_file():
        raise AudioError(f"Not an audio file: {path} is a directory or special file.")
    if _sniff_format(path) is None:
        raise AudioError(f"Cannot decode {path}: not a wav, flac, ogg or mp3 file.")
    return path


def soundfile_path(path):
    """``path`` as libsndfile should get it: the file system's own bytes on POSIX. soundfile encodes
    a str path as UTF-8 and fails on names that are not (common in old collections: Latin-1)."""
    return str(path) if os.name == "nt" else os.fsencode(path)


def _decode_error(path, error):
    reason = " ".join(str(error).replace(str(path), "").split()).strip(" :")
    return AudioError(f"Cannot decode {path}: {reason or type(error).__name__} (supported: wav, flac, ogg, mp3).")


def _downmix(frames):
    """[samples, channels] -> float32 mono, the channels' mean. Summed channel by channel, because
    numpy's mean over a short last axis is slow (benchmarks/results/code_choices.md); the sum is
    the same, in the same order."""
    if frames.shape[1] == 1:
        return frames[:, 0]
    total = frames[:, 0].astype(np.float32)
    for channel in range(1, frames.shape[1]):
        total += frames[:, channel].astype(np.float32, copy=False)
    return total / np.float32(frames.shape[1])


def _file_blocks(path, sample_rate, target_rate, block_seconds):
    """Mono float32 blocks of a file at ``target_rate``, decoded (libsndfile) and resampled (soxr,
    streaming: the same samples as resampling the whole file at once) block by block."""
    import soundfile as sf
    import soxr

    path = _checked_path(path)
    try:
        with sf.SoundFile(soundfile_path(path)) as audio:
            _check_complete(audio, path)
            rate = audio.samplerate
            if sample_rate is not None and _check_rate(sample_rate, "sample_rate") != rate:
                raise AudioError(f"{path} is sampled at {rate} Hz, but sample_rate={sample_rate!r} was given.")
            stream = None if rate == target_rate else soxr.ResampleStream(rate, target_rate, 1, dtype="float32",
                                                                          quality="HQ")
            total = 0
            for block in audio.blocks(blocksize=max(1, int(block_seconds * rate)), dtype="float32", always_2d=True):
                bad = np.count_nonzero(~np.isfinite(block))
                if bad:
                    raise AudioError(f"{path} has {bad} NaN or infinite samples in the block starting at sample "
                                     f"{total}.")
                total += len(block)
                mono = _downmix(block)
                yield mono if stream is None else stream.resample_chunk(mono, last=False)
            if total == 0:
                raise AudioError(f"{path} contains no audio samples.")
            if stream is not None:
                yield stream.resample_chunk(np.zeros(0, np.float32), last=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise _decode_error(path, error) from None


def audio_blocks(audio, sample_rate=None, target_rate=DEFAULT_RATE, block_seconds=30.0):
    """Mono float32 blocks at ``target_rate`` of a file (read block by block, so a long file
    never sits in memory whole) or of an array; their concatenation is ``load_audio``'s result."""
    target_rate = _check_rate(target_rate, "target_rate")
    if isinstance(audio, (str, os.PathLike)):
        yield from _file_blocks(audio, sample_rate, target_rate, block_seconds)
        return
    waveform = load_audio(audio, sample_rate, target_rate)
    step = max(1, int(block_seconds * target_rate))
    for start in range(0, len(waveform), step):
        yield waveform[start:start + step]


def _resample(waveform, rate, target_rate):
    if rate == target_rate:
        return waveform
    import soxr

    return soxr.resample(waveform, rate, target_rate, quality="HQ").astype(np.float32, copy=False)


def load_audio(audio, sample_rate=None, target_rate=DEFAULT_RATE):
    """Mono float32 waveform at ``target_rate`` Hz from a file path or an array.

    Args:
        audio: path of a wav, flac, ogg or mp3 file, or an array of samples shaped
            (samples,) or (samples, channels): floats in [-1, 1] or integer PCM.
        sample_rate: rate of an array in Hz; None means it is already at ``target_rate``.
            For a file, the file's own rate is used (a different value here is an error).
        target_rate: rate of the returned waveform (the models' 16 kHz by default).

    Raises:
        AudioError: missing or undecodable file, no samples, NaN/Inf samples, bad shape.
    """
    target_rate = _check_rate(target_rate, "target_rate")
    if isinstance(audio, (str, os.PathLike)):
        return np.ascontiguousarray(np.concatenate(list(_file_blocks(audio, sample_rate, target_rate, 30.0))))
    samples, name = _as_array(audio), "The audio array"
    rate = target_rate if sample_rate is None else _check_rate(sample_rate, "sample_rate")
    frames = _checked(_as_float(_as_frames(samples, name), name), name)
    waveform = _downmix(frames)
    return np.ascontiguousarray(_resample(waveform, rate, target_rate), dtype=np.float32)
