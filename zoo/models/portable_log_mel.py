"""kapre's STFT and mel filterbank as layers of keras.ops only: the log-mel input stage off TensorFlow.

kapre 0.4.1 computes with ``tf.signal`` and ``tf.tensordot``, so its layers run on the TensorFlow
backend only. These twins take kapre's constructor arguments and compute the same values on every
backend (JAX, PyTorch, TensorFlow), so that

- ``zoo.models.input_stage`` builds the musicnn log-mel from them where the backend is not
  TensorFlow (TensorFlow keeps kapre);
- a ``.keras`` file saved on TensorFlow, whose config names ``Kapre>STFT`` and
  ``Kapre>ApplyFilterbank``, loads on JAX and PyTorch: ``zoo.models.keras_registration``
  registers the twins under kapre's names there.

Neither holds a variable (the Slaney filterbank is a NumPy constant, as in kapre), so a
``.weights.h5`` file has the same layout whichever input stage wrote or reads it.
"""
import keras
from keras import ops

from zoo.models.log_mel_config import LogMelConfig, mel_filterbank

__all__ = ["FramedStft", "MelFilterbank", "KAPRE_NAMES"]

_PACKAGE = "zoo"
_CHANNELS_LAST = "channels_last"


def _refuse(layer, settings):
    """One line naming the settings a twin does not reproduce (ValueError)."""
    if settings:
        different = ", ".join(f"{key}={value!r}" for key, value in settings.items())
        raise ValueError(f"{type(layer).__name__} {layer.name!r} reproduces kapre's layer only as the zoo's "
                         f"log-mel input stage configures it, not with {different}")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FramedStft(keras.layers.Layer):
    """kapre.STFT(pad_begin=False, pad_end=False, channels_last) in keras.ops.

    [batch, samples, channels] -> [batch, frames, n_fft // 2 + 1, channels, 2]: the real and
    imaginary parts on a last axis (``ComplexPower`` reads either this or kapre's complex
    tensor). 'valid' frames of n_fft samples every hop_length, periodic Hann window, as
    ``tf.signal.stft`` with kapre's settings.
    """

    def __init__(self, n_fft=2048, win_length=None, hop_length=None, window_name=None, pad_begin=False,
                 pad_end=False, input_data_format="default", output_data_format="default", **kwargs):
        super().__init__(**kwargs)
        self.n_fft = int(n_fft)
        self.win_length = int(win_length or n_fft)
        self.hop_length = int(hop_length or self.win_length // 4)
        self.window_name = window_name or "hann_window"
        self.pad_begin, self.pad_end = bool(pad_begin), bool(pad_end)
        self.input_data_format, self.output_data_format = input_data_format, output_data_format
        expected = {"win_length": self.n_fft, "window_name": "hann_window", "pad_begin": False, "pad_end": False}
        _refuse(self, {key: getattr(self, key) for key, value in expected.items() if getattr(self, key) != value})
        _refuse(self, {key: getattr(self, key) for key in ("input_data_format", "output_data_format")
                       if getattr(self, key) not in (_CHANNELS_LAST, "default")})

    def call(self, waveform):
        signals = ops.moveaxis(waveform, -1, 1)  # [batch, channels, samples]
        real, imag = ops.stft(signals, self.n_fft, self.hop_length, self.n_fft, window="hann", center=False)
        pair = ops.stack([real, imag], axis=-1)  # [batch, channels, frames, freq, 2]
        return ops.transpose(pair, (0, 2, 3, 1, 4))

    def compute_output_shape(self, input_shape):
        samples = input_shape[1]
        frames = None if samples is None else 1 + (samples - self.n_fft) // self.hop_length
        return (input_shape[0], frames, self.n_fft // 2 + 1, input_shape[2], 2)

    def get_config(self):
        return {**super().get_config(), "n_fft": self.n_fft, "win_length": self.win_length,
                "hop_length": self.hop_length, "window_name": self.window_name, "pad_begin": self.pad_begin,
                "pad_end": self.pad_end, "input_data_format": self.input_data_format,
                "output_data_format": self.output_data_format}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MelFilterbank(keras.layers.Layer):
    """kapre.ApplyFilterbank(type="mel", Slaney, channels_last) in keras.ops.

    [batch, frames, n_freq, channels] -> [batch, frames, n_mels, channels] through
    ``zoo.models.log_mel_config.mel_filterbank``, kapre's own matrix (tested equal).
    """

    def __init__(self, type="mel", filterbank_kwargs=None, data_format="default", **kwargs):
        super().__init__(**kwargs)
        self.type, self.data_format = type, data_format
        self.filterbank_kwargs = dict(filterbank_kwargs or {})
        settings = self.filterbank_kwargs
        unsupported = {key: value for key, value in (("type", type), ("htk", settings.get("htk", False)),
                                                    ("norm", settings.get("norm", "slaney")))
                       if value != {"type": "mel", "htk": False, "norm": "slaney"}[key]}
        if data_format not in (_CHANNELS_LAST, "default"):
            unsupported["data_format"] = data_format
        _refuse(self, unsupported)
        config = LogMelConfig(sample_rate=int(settings["sample_rate"]), n_fft=2 * (int(settings["n_freq"]) - 1),
                              n_mels=int(settings["n_mels"]), f_min=float(settings.get("f_min", 0.0)),
                              f_max=settings.get("f_max"))
        self._matrix = mel_filterbank(config)  # [n_freq, n_mels], a constant: no variable

    def call(self, power):
        return ops.einsum("btfc,fm->btmc", power, ops.convert_to_tensor(self._matrix, dtype=power.dtype))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self._matrix.shape[1], input_shape[3])

    def get_config(self):
        return {**super().get_config(), "type": self.type, "filterbank_kwargs": self.filterbank_kwargs,
                "data_format": self.data_format}


# The names kapre's layers have in a .keras config: the twins stand in for them off TensorFlow.
KAPRE_NAMES = {"Kapre>STFT": FramedStft, "Kapre>ApplyFilterbank": MelFilterbank}
