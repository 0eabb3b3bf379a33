"""musicnn's log-mel in NumPy, for tagging without TensorFlow.

The models compute the same log-mel in their graph (``zoo.models.input_stage``, kapre layers);
tagging computes it here, so that a tagging process whose runtime needs no TensorFlow never
imports it: the import alone costs a large share of a short tagging run
(benchmarks/results/code_choices.md). The two agree within 5e-6 (tested).
"""
import functools

import numpy as np

from zoo.models.log_mel_config import LogMelConfig, mel_filterbank

__all__ = ["log_mel_frames"]


@functools.lru_cache(maxsize=4)
def _window(n_fft):
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)  # periodic Hann


def log_mel_frames(segment, config=LogMelConfig()):
    """[frames, n_mels] float32 log-mel of ``segment`` without centring: frame j covers samples
    [j * hop, j * hop + n_fft) (zoo.audio.streaming hands it exactly the samples a chunk covers)."""
    segment = np.asarray(segment, dtype=np.float32)
    if len(segment) < config.n_fft:
        return np.zeros((0, config.n_mels), np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(segment, config.n_fft)[::config.hop_length]
    spectrum = np.fft.rfft(frames * _window(config.n_fft), axis=-1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
    return np.log10(config.log_scale * (power @ mel_filterbank(config)) + 1.0)
