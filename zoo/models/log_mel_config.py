"""musicnn's log-mel settings, the frame arithmetic and the Slaney mel filterbank, in NumPy.

musicnn (jordipons/musicnn) computes librosa's mel spectrogram of 16 kHz audio with n_fft 512,
hop 256, 96 Slaney mel bands, power 2, then log10(10000 x + 1). The models compute it in their
graph (``zoo.models.input_stage``, kapre layers); tagging computes it in NumPy
(``zoo.audio.log_mel``). Both read their settings here, which imports no TensorFlow.
"""
import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["LOG_MEL_LAYER", "LogMelConfig", "frames_to_samples", "mel_filterbank", "waveform_to_frames"]

LOG_MEL_LAYER = "logmel"  # the in-graph input stage's last layer (zoo.models.input_stage): [batch, frames, mels]


@dataclass(frozen=True)
class LogMelConfig:
    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 96
    f_min: float = 0.0
    f_max: float = None  # Nyquist when None
    log_scale: float = 10000.0

    @property
    def n_freq(self):
        return self.n_fft // 2 + 1

    @property
    def top_frequency(self):
        return self.f_max if self.f_max is not None else self.sample_rate / 2


def waveform_to_frames(n_samples, config=LogMelConfig()):
    """Frames produced by the centred STFT (librosa ``center=True``) for n_samples."""
    return 1 + n_samples // config.hop_length


def frames_to_samples(n_frames, config=LogMelConfig()):
    """Smallest waveform length that yields n_frames centred STFT frames."""
    return (n_frames - 1) * config.hop_length


# Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
_LINEAR_HZ_PER_MEL = 200.0 / 3
_LOG_FROM_HZ = 1000.0
_LOG_FROM_MEL = _LOG_FROM_HZ / _LINEAR_HZ_PER_MEL
_LOG_STEP = np.log(6.4) / 27.0


def _hz_to_mel(hz):
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _LINEAR_HZ_PER_MEL
    logarithmic = _LOG_FROM_MEL + np.log(np.maximum(hz, _LOG_FROM_HZ) / _LOG_FROM_HZ) / _LOG_STEP
    return np.where(hz >= _LOG_FROM_HZ, logarithmic, linear)


def _mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * _LINEAR_HZ_PER_MEL
    logarithmic = _LOG_FROM_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _LOG_FROM_MEL) - _LOG_FROM_MEL))
    return np.where(mel >= _LOG_FROM_MEL, logarithmic, linear)


@functools.lru_cache(maxsize=4)
def mel_filterbank(config=LogMelConfig()):
    """[n_freq, n_mels] float32: librosa.filters.mel(htk=False, norm="slaney"), as kapre builds it."""
    bin_hz = np.linspace(0.0, config.sample_rate / 2, config.n_freq)
    edges_hz = _mel_to_hz(np.linspace(_hz_to_mel(config.f_min), _hz_to_mel(config.top_frequency), config.n_mels + 2))
    widths = np.diff(edges_hz)
    distance = edges_hz[:, None] - bin_hz[None, :]
    rising = -distance[:-2] / widths[:-1, None]
    falling = distance[2:] / widths[1:, None]
    triangles = np.maximum(0.0, np.minimum(rising, falling))
    triangles *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]  # Slaney: equal area per band
    return np.ascontiguousarray(triangles.T, dtype=np.float32)
