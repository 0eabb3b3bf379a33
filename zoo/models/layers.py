"""Small serialisable Keras layers the zoo's graphs need beyond Keras and kapre.

Every layer here is registered under the package name ``zoo`` so a saved ``.keras`` model
loads back with plain ``keras.models.load_model`` once ``zoo`` is imported.
"""
import keras
from keras import ops

__all__ = [
    "ReflectPad1D",
    "ComplexPower",
    "Log10Compression",
    "TemporalMaxMeanPooling",
    "AttentionPooling1D",
    "TaggedSigmoid",
    "MinimumLength",
]

_PACKAGE = "zoo"
_PAIR_RANK = 5  # an STFT as [batch, frames, freq, channels, (re, im)]


@keras.saving.register_keras_serializable(package=_PACKAGE)
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


@keras.saving.register_keras_serializable(package=_PACKAGE)
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


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Log10Compression(keras.layers.Layer):
    """log10(scale * x + 1): musicnn's log-mel compression (scale 10000).

    Computed in float32 on purpose: musicnn's extractor casts to float16 first, which
    overflows on loud bins (see DESIGN.md); we do not reproduce that.
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


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TemporalMaxMeanPooling(keras.layers.Layer):
    """Max and mean over time of [batch, time, channels] -> [batch, 2 * channels].

    The output interleaves (max_c, mean_c) per channel, the order musicnn's back-end
    produces (concat on a trailing axis, then flatten), so its Dense kernel ports as is.
    """

    def call(self, x):
        pooled = ops.stack([ops.max(x, axis=1), ops.mean(x, axis=1)], axis=-1)
        return ops.reshape(pooled, (-1, 2 * x.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class AttentionPooling1D(keras.layers.Layer):
    """Attention-weighted average over time: softmax(score(x_t)) weights the values v(x_t).

    A learned linear score per frame, softmax over the time axis, then the weighted sum of
    a linear projection of the frames (as in the attention back-ends of audio tagging,
    e.g. Kong et al. 2019). Works for any number of frames.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.score = keras.layers.Dense(1, name="score")
        self.value = keras.layers.Dense(self.units, name="value")

    def build(self, input_shape):
        self.score.build(input_shape)
        self.value.build(input_shape)

    def call(self, x):
        weights = ops.softmax(self.score(x), axis=1)
        return ops.sum(weights * self.value(x), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TaggedSigmoid(keras.layers.Layer):
    """Sigmoid output layer that carries the tag names in its config (survives `.keras` saving)."""

    def __init__(self, tag_names=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.tag_names = None if tag_names is None else [str(t) for t in tag_names]

    def call(self, logits):
        return ops.sigmoid(logits)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "tag_names": self.tag_names}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MinimumLength(keras.layers.Layer):
    """Passes a waveform [batch, samples] through, refusing one shorter than ``min_samples``.

    Length-agnostic models need it: below a front-end's minimum, TensorFlow fails deep in a
    convolution ("Negative dimension size"). A known length is checked while the graph is
    built or traced (ValueError: always so on JAX and PyTorch, whose calls see concrete
    shapes); an unknown one, which only a TensorFlow graph has, when it runs
    (InvalidArgumentError with this message).
    """

    def __init__(self, min_samples, sample_rate, model_name="", **kwargs):
        super().__init__(**kwargs)
        self.min_samples = int(min_samples)
        self.sample_rate = int(sample_rate)
        self.model_name = str(model_name)

    def _message(self, samples):
        return (f"{self.model_name or 'this model'} needs waveforms of at least {self.min_samples} samples "
                f"({self.min_samples / self.sample_rate:.4g} s at {self.sample_rate} Hz), got {samples}")

    def call(self, waveform):
        samples = waveform.shape[1]
        if samples is not None:
            if samples < self.min_samples:
                raise ValueError(self._message(samples))
            return waveform
        if keras.config.backend() != "tensorflow":
            return waveform  # a symbolic build; every real call has a concrete length
        import tensorflow as tf

        check = tf.debugging.assert_greater_equal(
            tf.shape(waveform)[1], self.min_samples, message=self._message("fewer"))
        with tf.control_dependencies([check]):
            return tf.identity(waveform)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "min_samples": self.min_samples, "sample_rate": self.sample_rate,
                "model_name": self.model_name}
