"""The guard before a length-agnostic model: a waveform shorter than the front-end's minimum is refused
in words, not deep in a convolution."""
import keras

__all__ = ["MinimumLength"]


@keras.saving.register_keras_serializable(package="zoo")
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
