"""In-graph audio input stage: waveform -> musicnn log-mel.

The configuration is in ``zoo.models.log_mel_config`` (its NumPy twin for tagging:
``zoo.audio.log_mel``); the pretrained weights only make sense on exactly that input. On the
TensorFlow backend the STFT and the mel filterbank are kapre's layers, as in every model saved so
far; on JAX and PyTorch they are their keras.ops twins (``zoo.models.portable_log_mel``), equal
within float rounding (tested). Neither holds a variable, so weights move freely between backends.
"""
import keras
from keras import ops

from zoo.models.log_mel_config import LOG_MEL_LAYER, LogMelConfig, frames_to_samples, waveform_to_frames

__all__ = ["ComplexPower", "Log10Compression", "LogMelConfig", "ReflectPad1D", "frames_to_samples", "log_mel",
           "spectral_layers", "waveform_to_frames"]

_PAIR_RANK = 5  # an STFT as [batch, frames, freq, channels, (re, im)]


@keras.saving.register_keras_serializable(package="zoo")
class ReflectPad1D(keras.layers.Layer):
    """Reflect-pads a waveform [batch, samples] by ``pad`` samples on each side.

    Reproduces librosa's ``center=True, pad_mode="reflect"`` framing, which musicnn's
    checkpoints were trained on (librosa 0.7 default).
    """

    def __init__(self, pad, **kwargs):
        super().__init__(**kwargs)
        self.pad = int(pad)

    def call(self, waveform):
        return ops.pad(waveform, [[0, 0], [self.pad, self.pad]], mode="reflect")

    def compute_output_shape(self, input_shape):
        samples = input_shape[1]
        return (input_shape[0], None if samples is None else samples + 2 * self.pad)

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}


@keras.saving.register_keras_serializable(package="zoo")
class ComplexPower(keras.layers.Layer):
    """|z|^2 of an STFT as float32 (re^2 + im^2, no square root then square).

    Takes kapre's complex STFT [batch, frames, freq, channels], or the real and imaginary parts
    on a last axis of size 2 ([batch, frames, freq, channels, 2], ``portable_log_mel.FramedStft``).
    """

    def call(self, stft):
        if len(stft.shape) == _PAIR_RANK:
            return ops.sum(stft * stft, axis=-1)
        real, imag = ops.real(stft), ops.imag(stft)
        return real * real + imag * imag

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) if len(input_shape) == _PAIR_RANK else input_shape


@keras.saving.register_keras_serializable(package="zoo")
class Log10Compression(keras.layers.Layer):
    """log10(scale * x + 1): musicnn's log-mel compression (scale 10000).

    Computed in float32 on purpose: musicnn's extractor casts to float16 first, which
    overflows on loud bins (log10 of inf); we do not reproduce that.
    """

    def __init__(self, scale=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, x):
        return ops.log(self.scale * x + 1.0) / ops.log(10.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _kapre_layers():
    import kapre

    return kapre.STFT, kapre.ApplyFilterbank


def _portable_layers():
    from zoo.models.portable_log_mel import FramedStft, MelFilterbank

    return FramedStft, MelFilterbank


# Backend -> (STFT layer, filterbank layer); a backend not listed gets the keras.ops twins.
_SPECTRAL_LAYERS = {"tensorflow": _kapre_layers}


def spectral_layers(backend=None):
    """(STFT class, filterbank class) the input stage uses on ``backend`` (default: Keras' own)."""
    return _SPECTRAL_LAYERS.get(backend or keras.config.backend(), _portable_layers)()


def log_mel(waveform, config=LogMelConfig(), center=True):
    """[batch, samples] float32 waveform -> [batch, frames, n_mels] compressed log-mel.

    center=False skips the reflect padding: for a waveform already padded (or cut from the
    middle of a longer one, as the streaming path does), frame j starts at sample j * hop.
    """
    stft_layer, filterbank_layer = spectral_layers()
    # float32 whatever the global dtype policy: the FFT and the 10000x compression need it.
    float32 = {"dtype": "float32"}
    x = ReflectPad1D(config.n_fft // 2, name="logmel_center_pad", **float32)(waveform) if center else waveform
    x = keras.layers.Reshape((-1, 1), name="logmel_add_channel", **float32)(x)
    x = stft_layer(
        n_fft=config.n_fft,
        win_length=config.n_fft,
        hop_length=config.hop_length,
        window_name="hann_window",
        pad_begin=False,
        pad_end=False,
        input_data_format="channels_last",
        output_data_format="channels_last",
        name="logmel_stft", **float32,
    )(x)
    x = ComplexPower(name="logmel_power", **float32)(x)
    x = filterbank_layer(
        type="mel",
        filterbank_kwargs={
            "sample_rate": config.sample_rate,
            "n_freq": config.n_freq,
            "n_mels": config.n_mels,
            "f_min": config.f_min,
            "f_max": config.top_frequency,
            "htk": False,
            "norm": "slaney",
        },
        data_format="channels_last",
        name="logmel_mel_filterbank", **float32,
    )(x)
    x = Log10Compression(config.log_scale, name="logmel_log10", **float32)(x)
    return keras.layers.Reshape((-1, config.n_mels), name=LOG_MEL_LAYER, **float32)(x)
