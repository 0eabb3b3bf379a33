"""Audio of any length cut into the models' patches chunk by chunk, in bounded memory.

The one patching path of ``zoo.tag``, ``zoo.taggram``, ``zoo.embeddings``, ``zoo-tag`` and Beam.
musicnn computes one log-mel of the whole clip (centred STFT: reflect padding of n_fft / 2 at
both ends) and cuts it into patches. Frame j of that spectrogram depends only on samples
[j * hop - n_fft / 2, j * hop + n_fft / 2) of the clip, so a chunk of patches needs only the
samples its frames cover: here each chunk's log-mel is computed from exactly those samples
(with the reflect padding where the clip really begins or ends), which gives the whole-clip
frames while at most one chunk of audio is held at a time.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np

from zoo.audio.decoding import DEFAULT_RATE, audio_blocks
from zoo.audio.log_mel import log_mel_frames
from zoo.models.log_mel_config import LogMelConfig, frames_to_samples

__all__ = ["CHUNK_PATCHES", "Patching", "PatchChunk", "stream_patches"]

MEL = LogMelConfig(sample_rate=DEFAULT_RATE)  # the pretrained models' input
CHUNK_PATCHES = 64  # ~3.2 min of audio per chunk at musicnn's 3 s patches


@dataclass(frozen=True)
class Patching:
    frames: int  # log-mel frames per patch
    hop_frames: int
    # Waveform patches of a model with a fixed input length (e.g. 48000 samples for 3 s), which
    # no frame count gives: (frames - 1) * hop is a multiple of 256. None: derived from frames.
    waveform_samples: Optional[int] = None
    # True: a last, zero-padded patch covers the tail that musicnn drops (timestamp embeddings).
    pad_tail: bool = False

    @property
    def samples(self):
        return self.waveform_samples or frames_to_samples(self.frames, MEL)

    def start_frame(self, index):
        return index * self.hop_frames

    def count(self, total_samples):
        """Patches in a clip of ``total_samples`` (after padding it to one patch): musicnn's
        range(0, total_frames - frames + 1, hop) over the centred STFT's frames; for explicit
        waveform patches, those that lie inside the clip. With ``pad_tail``, one more where
        frames (samples) of the clip would be left over."""
        if self.waveform_samples:
            step, left = self.hop_frames * MEL.hop_length, max(total_samples, self.samples) - self.samples
        else:
            step, left = self.hop_frames, 1 + max(total_samples, self.samples) // MEL.hop_length - self.frames
        return (-(-left // step) if self.pad_tail else left // step) + 1


@dataclass
class PatchChunk:
    patches: np.ndarray  # [k, frames, mels] log-mel, or [k, samples] waveform
    start_frames: np.ndarray  # [k] first log-mel frame of each patch

    @property
    def times(self):
        return self.start_frames * MEL.hop_length / DEFAULT_RATE


def _log_mel_span(patching, first, last):
    """Clip samples [lo, hi) that the log-mel frames of patches first..last cover."""
    half = MEL.n_fft // 2
    lo = patching.start_frame(first) * MEL.hop_length - half
    hi = (patching.start_frame(last) + patching.frames - 1) * MEL.hop_length + half
    return lo, hi


def _waveform_span(patching, first, last):
    lo = patching.start_frame(first) * MEL.hop_length
    return lo, patching.start_frame(last) * MEL.hop_length + patching.samples


class _Buffer:
    """The samples received so far from ``offset`` on; reflect-extends past the clip's ends."""

    def __init__(self):
        self.offset, self.samples, self.received = 0, np.zeros(0, np.float32), 0

    def append(self, block):
        self.samples = np.concatenate([self.samples, block.astype(np.float32, copy=False)])
        self.received += len(block)

    def pad_to(self, total):
        if self.received < total:
            self.append(np.zeros(total - self.received, np.float32))

    def span(self, lo, hi, length):
        """Samples [lo, hi) of a clip of ``length`` samples (None: not known yet), numpy's
        'reflect' beyond its ends."""
        index = np.abs(np.arange(lo, hi))
        if length is not None:
            index = np.where(index >= length, 2 * (length - 1) - index, index)
        return self.samples[index - self.offset]

    def drop_before(self, position):
        keep_from = max(0, min(position, self.received) - self.offset)
        self.samples, self.offset = self.samples[keep_from:], self.offset + keep_from


def _log_mel_chunk(segment, patching, first, last):
    spectrogram = log_mel_frames(segment)
    base = patching.start_frame(first)
    return np.stack([spectrogram[patching.start_frame(p) - base:][:patching.frames] for p in range(first, last + 1)])


def _waveform_chunk(segment, patching, first, last):
    base = patching.start_frame(first) * MEL.hop_length
    return np.stack([segment[patching.start_frame(p) * MEL.hop_length - base:][:patching.samples]
                     for p in range(first, last + 1)])


# Input kind -> (clip samples a run of patches needs, how to make the patches from them).
_CUTTERS = {"log-mel": (_log_mel_span, _log_mel_chunk), "waveform": (_waveform_span, _waveform_chunk)}


def stream_patches(audio, patching, input_kind, sample_rate=None, chunk_patches=CHUNK_PATCHES):
    """Yields ``PatchChunk``s of up to ``chunk_patches`` patches of a file or array, in order.

    A clip shorter than one patch is zero-padded to one; the incomplete tail is dropped, or
    zero-padded to a last patch (``patching.pad_tail``).
    """
    span, cut = _CUTTERS[input_kind]
    buffer, next_patch = _Buffer(), 0

    def chunk(first, last, length):
        lo, hi = span(patching, first, last)
        patches = cut(buffer.span(lo, hi, length), patching, first, last)
        starts = np.array([patching.start_frame(p) for p in range(first, last + 1)])
        buffer.drop_before(span(patching, last + 1, last + 1)[0])
        return PatchChunk(patches, starts)

    for block in audio_blocks(audio, sample_rate, target_rate=DEFAULT_RATE):
        buffer.append(block)
        # Full chunks whose samples have all arrived (where the clip ends is known only at its end).
        while span(patching, next_patch + chunk_patches - 1, next_patch + chunk_patches - 1)[1] <= buffer.received:
            yield chunk(next_patch, next_patch + chunk_patches - 1, None)
            next_patch += chunk_patches
    total = patching.count(buffer.received)
    buffer.pad_to(max(patching.samples, span(patching, total - 1, total - 1)[1] if patching.pad_tail else 0))
    for first in range(next_patch, total, chunk_patches):
        yield chunk(first, min(total, first + chunk_patches) - 1, buffer.received)
