"""Audio files decoded once into the zoo cache: 16-bit mono WAV at the training rate.

The readers that train on a user's files (``manifest``, ``soft_targets``) decode each file with
``zoo.audio.load_audio`` (libsndfile, mixed to mono, resampled with soxr) into a WAV in the zoo
cache, keyed by the file's absolute path, size, modification time and the target rate, so epochs
and later runs read ready-made audio that seeks sample-exactly and never resample again. Each use
checks the cached file (``zoo.files.cached_file``) and decodes a damaged one again.

    >>> from zoo.datasets.decoded_audio import decoded_file
    >>> path, seconds = decoded_file("song.ogg")      # doctest: +SKIP
"""
import concurrent.futures
import hashlib
import os
import struct

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from zoo.cache import cache_dir
from zoo.files import CacheEntryError, cached_file

__all__ = ["CACHE_FOLDER", "CACHE_VERSION", "decode_all", "decoded_file"]

CACHE_FOLDER = "manifest-audio"  # under the zoo cache; its name predates the other readers
CACHE_VERSION = 1  # bump when the cached audio's format changes


def _cache_key(path, sample_rate):
    stat = os.stat(path)
    key = f"{CACHE_VERSION}|{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}|{sample_rate}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _wav_is_whole(path):
    """The WAV format's own check, for decoded files of an earlier release (no sidecar): the RIFF
    header's size is the file's, and libsndfile opens it."""
    with open(path, "rb") as handle:
        riff, size, wave = struct.unpack("<4sI4s", handle.read(12))
    if (riff, wave) != (b"RIFF", b"WAVE") or size + 8 != os.path.getsize(path):
        raise ValueError(f"RIFF header says {size + 8} bytes, the file has {os.path.getsize(path)}")
    sf.info(path)


def decoded_file(path, sample_rate=16000):
    """(path of the cached 16-bit mono WAV of ``path`` at ``sample_rate``, its seconds).

    Decodes on first use only. Raises ``zoo.audio.AudioError`` for a missing or undecodable file
    and ``zoo.files.CacheEntryError`` for a damaged cache entry that cannot be made again.
    """
    from zoo.audio.decoding import AudioError, load_audio

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AudioError(f"no such file {path}")
    directory = cache_dir(CACHE_FOLDER)

    def make(temporary):
        waveform = load_audio(path, target_rate=sample_rate)
        sf.write(temporary, np.clip(waveform, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")

    cached = cached_file(os.path.join(directory, _cache_key(path, sample_rate) + ".wav"), make,
                         what=f"decoded audio of {path}", check=_wav_is_whole)
    return cached, sf.info(cached).duration


def _decode_or_error(path, sample_rate):
    from zoo.audio.decoding import AudioError

    try:
        return decoded_file(path, sample_rate)
    except (AudioError, CacheEntryError) as error:
        return None, str(error)


def decode_all(paths, sample_rate=16000, progress=False, description="Preparing audio"):
    """``decoded_file`` of every path, in order, on a thread per core: a list of (cached path,
    seconds), or (None, the one-line error) for a file that cannot be used."""
    # Threads: libsndfile and soxr decode and resample without holding the GIL.
    bar = tqdm(total=len(paths), desc=description, unit="file", disable=not progress)
    with bar, concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = []
        for result in pool.map(lambda path: _decode_or_error(path, sample_rate), paths):
            results.append(result)
            bar.update(1)
    return results
