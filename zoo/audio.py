"""Audio loading for tagging: any file or array -> mono float32 waveform at the model's rate.

Files are decoded with tensorflow-io (wav, flac, ogg, mp3), arrays are taken as they are;
both are checked, downmixed to mono and resampled with soxr (measured: ~100x faster than
tfio.audio.resample and ~300x more accurate on a 44.1 -> 16 kHz sine test).
"""
import os
import re
import struct
from pathlib import Path

import numpy as np

__all__ = ["DEFAULT_RATE", "AudioError", "load_audio"]

DEFAULT_RATE = 16000
MAX_CHANNELS = 64  # beyond this a 2-D array is far more likely channels-first than real
_PCM_SCALES = {np.dtype(np.int8): 2.0**7, np.dtype(np.int16): 2.0**15, np.dtype(np.int32): 2.0**31}
_WAVE_FORMAT_PCM, _WAVE_FORMAT_EXTENSIBLE = 1, 0xFFFE


class AudioError(ValueError):
    """The audio cannot be used: missing or undecodable file, empty, non-finite, bad shape."""


def _check_rate(rate, what):
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise AudioError(f"{what} must be a number of Hz, got {rate!r}.")
    if not np.isfinite(rate) or rate <= 0:
        raise AudioError(f"{what} must be a positive number of Hz, got {rate!r}.")
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


def _wav_is_integer_32bit(path):
    # tensorflow-io reads every 32-bit WAV as IEEE float, so 32-bit integer PCM comes back
    # as garbage floats. Read the fmt chunk ourselves to know which it is.
    with open(path, "rb") as f:
        riff = f.read(12)
        if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            return False
        while True:
            header = f.read(8)
            if len(header) < 8:
                return False
            chunk_id, size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk_id == b"fmt ":
                fmt = f.read(size)
                tag, bits = struct.unpack("<H", fmt[:2])[0], struct.unpack("<H", fmt[14:16])[0]
                if tag == _WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
                    tag = struct.unpack("<H", fmt[24:26])[0]  # first two bytes of the sub-format GUID
                return tag == _WAVE_FORMAT_PCM and bits == 32
            f.seek(size + (size & 1), os.SEEK_CUR)


def _is_mpeg_frame_sync(head):
    return len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0


# Leading bytes of the formats we decode; anything else is refused before tensorflow-io
# sees it (its C++ decoders log to stderr on failure, and their messages are cryptic).
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


def _op_error_reason(error):
    reason = re.sub(r"\{\{.*?\}\}\s*", "", error.message)
    return re.sub(r"\s*\[Op:.*$", "", reason, flags=re.DOTALL).strip()


def _decode_file(path):
    """(samples [n, channels] in their decoded dtype, sample rate) of an audio file."""
    import tensorflow as tf
    import tensorflow_io as tfio

    try:
        audio = tfio.audio.AudioIOTensor(str(path))
        samples, rate = audio.to_tensor().numpy(), int(audio.rate.numpy())
    except tf.errors.OpError as error:
        raise AudioError(
            f"Cannot decode {path}: {_op_error_reason(error)} (supported: wav, flac, ogg, mp3)."
        ) from None
    if samples.dtype == np.float32 and path.suffix.lower() == ".wav" and _wav_is_integer_32bit(path):
        samples = samples.view(np.int32)
    return samples, rate


def _read_file(path, sample_rate):
    path = Path(path)
    if not path.exists():
        raise AudioError(f"No such audio file: {path}")
    if not path.is_file():
        raise AudioError(f"Not an audio file: {path} is a directory or special file.")
    if _sniff_format(path) is None:
        raise AudioError(f"Cannot decode {path}: not a wav, flac, ogg or mp3 file.")
    samples, rate = _decode_file(path)
    if sample_rate is not None and _check_rate(sample_rate, "sample_rate") != rate:
        raise AudioError(f"{path} is sampled at {rate} Hz, but sample_rate={sample_rate!r} was given.")
    return samples, rate, str(path)


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
        samples, rate, name = _read_file(audio, sample_rate)
    else:
        samples, name = _as_array(audio), "The audio array"
        rate = target_rate if sample_rate is None else _check_rate(sample_rate, "sample_rate")
    frames = _checked(_as_float(_as_frames(samples, name), name), name)
    waveform = frames.mean(axis=1, dtype=np.float32) if frames.shape[1] > 1 else frames[:, 0]
    return np.ascontiguousarray(_resample(waveform, rate, target_rate), dtype=np.float32)
