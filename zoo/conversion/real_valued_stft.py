"""A real-valued twin of a zoo spectrogram model, for runtimes without complex tensors.

kapre's STFT computes ``tf.signal.stft``: an RFFT whose complex output kapre transposes
before ``ComplexPower`` takes re^2 + im^2. ONNX has no complex type (tf2onnx converts an RFFT
only when ComplexAbs consumes it directly) and TFLite's builtins cannot transpose complex64,
so those two layers are swapped here for one that computes the same power spectrogram as
a strided convolution with the Hann-windowed cosine and sine bases of the DFT. Every other
layer (and so every weight) is shared with the original model.
"""
import kapre
import keras
import numpy as np
from keras import ops

from zoo.models.input_stage import ComplexPower

__all__ = ["WindowedDftPower", "has_complex_stft", "real_valued_twin"]


# Registered as "export>WindowedDftPower", its name from when it lived in export/portable.py.
@keras.saving.register_keras_serializable(package="export")
class WindowedDftPower(keras.layers.Layer):
    """|STFT|^2 of [batch, samples, 1] -> [batch, frames, n_fft // 2 + 1, 1], real ops only.

    Frames like kapre.STFT(pad_begin=False, pad_end=False): 'valid' frames of n_fft samples
    every hop_length, each weighted by the periodic Hann window (tf.signal.hann_window).
    """

    def __init__(self, n_fft, hop_length, **kwargs):
        super().__init__(**kwargs)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self._kernel = self._dft_kernel(self.n_fft)

    @staticmethod
    def _dft_kernel(n_fft):
        n = np.arange(n_fft)
        window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)  # periodic Hann
        k = np.arange(n_fft // 2 + 1)
        phase = 2.0 * np.pi * np.outer(n, k) / n_fft  # [n_fft, n_freq]
        bases = np.concatenate([np.cos(phase), -np.sin(phase)], axis=1) * window[:, np.newaxis]
        return bases[:, np.newaxis, :].astype(np.float32)  # [taps, in channels, 2 * n_freq]

    def call(self, waveform):
        spectrum = ops.conv(waveform, self._kernel, strides=self.hop_length, padding="valid")
        real, imag = ops.split(spectrum, 2, axis=-1)
        return ops.expand_dims(real * real + imag * imag, axis=-1)

    def compute_output_shape(self, input_shape):
        samples = input_shape[1]
        frames = None if samples is None else 1 + (samples - self.n_fft) // self.hop_length
        return (input_shape[0], frames, self.n_fft // 2 + 1, 1)

    def get_config(self):
        return {**super().get_config(), "n_fft": self.n_fft, "hop_length": self.hop_length}


def has_complex_stft(model):
    return any(isinstance(layer, kapre.STFT) for layer in model.layers)


def _check_replaceable(stft):
    # The twin reproduces exactly this configuration (the zoo's musicnn input stage).
    expected = dict(pad_begin=False, pad_end=False, win_length=stft.n_fft, window_name="hann_window",
                    input_data_format="channels_last", output_data_format="channels_last")
    config = stft.get_config()
    different = {k: config.get(k) for k, v in expected.items() if config.get(k) != v}
    if different:
        raise ValueError(f"layer {stft.name!r} has settings the real-valued STFT does not reproduce: {different}")


def _swap_stft(layer):
    if isinstance(layer, kapre.STFT):
        _check_replaceable(layer)
        return WindowedDftPower(layer.n_fft, layer.hop_length, name=f"{layer.name}_dft_power")
    if isinstance(layer, ComplexPower):
        return keras.layers.Identity(name=f"{layer.name}_done_by_dft")
    return layer  # shared: same weights as the original


def real_valued_twin(model):
    """The model itself if it has no complex STFT, else a twin computing it with real ops."""
    if not has_complex_stft(model):
        return model
    return keras.models.clone_model(model, clone_function=_swap_stft)
