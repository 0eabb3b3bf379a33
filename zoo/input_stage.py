"""In-graph audio input stage: waveform -> musicnn log-mel, built from kapre layers.

musicnn (jordipons/musicnn) computes librosa's mel spectrogram of 16 kHz audio with
n_fft 512, hop 256, 96 Slaney mel bands, power 2, ``center=True`` reflect padding, then
log10(10000 x + 1). The pretrained weights only make sense on exactly that input.
"""
from dataclasses import dataclass

import kapre
import keras

from zoo.layers import ComplexPower, Log10Compression, ReflectPad1D

__all__ = ["LogMelConfig", "log_mel", "waveform_to_frames", "frames_to_samples"]


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


def waveform_to_frames(n_samples, config=LogMelConfig()):
    """Frames produced by the centred STFT (librosa ``center=True``) for n_samples."""
    return 1 + n_samples // config.hop_length


def frames_to_samples(n_frames, config=LogMelConfig()):
    """Smallest waveform length that yields n_frames centred STFT frames."""
    return (n_frames - 1) * config.hop_length


def log_mel(waveform, config=LogMelConfig(), center=True):
    """[batch, samples] float32 waveform -> [batch, frames, n_mels] compressed log-mel.

    center=False skips the reflect padding: for a waveform already padded (or cut from the
    middle of a longer one, as the streaming path does), frame j starts at sample j * hop.
    """
    f_max = config.f_max if config.f_max is not None else config.sample_rate / 2
    # float32 whatever the global dtype policy: the FFT and the 10000x compression need it.
    float32 = {"dtype": "float32"}
    x = ReflectPad1D(config.n_fft // 2, name="logmel_center_pad", **float32)(waveform) if center else waveform
    x = keras.layers.Reshape((-1, 1), name="logmel_add_channel", **float32)(x)
    x = kapre.STFT(
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        window_name="hann_window",
        pad_begin=False,
        pad_end=False,
        input_data_format="channels_last",
        output_data_format="channels_last",
        name="logmel_stft", **float32,
    )(x)
    x = ComplexPower(name="logmel_power", **float32)(x)
    x = kapre.ApplyFilterbank(
        type="mel",
        filterbank_kwargs={
            "sample_rate": config.sample_rate,
            "n_freq": config.n_freq,
            "n_mels": config.n_mels,
            "f_min": config.f_min,
            "f_max": f_max,
            "htk": False,
            "norm": "slaney",
        },
        data_format="channels_last",
        name="logmel_mel_filterbank", **float32,
    )(x)
    x = Log10Compression(config.log_scale, name="logmel_log10", **float32)(x)
    return keras.layers.Reshape((-1, config.n_mels), name="logmel", **float32)(x)
