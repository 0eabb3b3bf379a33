"""musicnn's patching inside an exported graph, so that every runtime gives zoo.tag's answer.

zoo.tag (zoo.audio.streaming) zero-pads a clip shorter than one patch, takes the log-mel of the whole
clip (centred STFT: reflect padding at both ends), cuts it into non-overlapping patches of the
model's length (187 frames, about 3 s, for length-agnostic models: musicnn's patch) with the
incomplete tail dropped, scores every patch and averages the scores. ``clip_model(model)``
wraps a zoo model (waveform in) into a Keras model that does exactly that in its graph: a
[batch, samples] clip of any length in, the mean over its patches out. Waveform front-ends get
the waveform cut at the same places. The SavedModel signatures and the TFLite and ONNX exports
are built from it, so TF Serving, TFLite, ONNX Runtime, zoo-tag and Beam agree (tested <= 1e-4).
"""
import keras
from keras import ops

from export.errors import ExportError
from zoo.models.log_mel_config import LOG_MEL_LAYER, LogMelConfig, frames_to_samples, waveform_to_frames

__all__ = ["DEFAULT_PATCH_FRAMES", "MeanOverPatches", "PadToLength", "Patches", "clip_model", "patch_samples"]

EMBEDDING_LAYER = "head_dropout"  # zoo.models: its input is the back-end embedding
DEFAULT_PATCH_FRAMES = 187  # musicnn's 3 s patch (zoo.tagging), for models taking any length
_HOP = LogMelConfig().hop_length  # waveform patches start where zoo.tag's log-mel patches do


@keras.saving.register_keras_serializable(package="export")
class PadToLength(keras.layers.Layer):
    """Zero-pads [batch, samples] at the end up to ``samples`` (zoo.tag pads short clips so)."""

    def __init__(self, samples, **kwargs):
        super().__init__(**kwargs)
        self.samples = int(samples)

    def call(self, waveform):
        missing = ops.maximum(0, self.samples - ops.shape(waveform)[1])
        return ops.pad(waveform, [[0, 0], [0, missing]])

    def compute_output_shape(self, input_shape):
        length = input_shape[1]
        return (input_shape[0], None if length is None else max(length, self.samples))

    def get_config(self):
        return {**super().get_config(), "samples": self.samples}


@keras.saving.register_keras_serializable(package="export")
class Patches(keras.layers.Layer):
    """[batch, time, ...] -> [batch * patches, length, ...]: patches starting every ``step``
    (>= length) along time, as many as fit; patch p of clip b is row b * patches + p."""

    def __init__(self, length, step, **kwargs):
        super().__init__(**kwargs)
        self.length, self.step = int(length), int(step)
        if self.step < self.length:
            raise ValueError(f"patches must not overlap: step {step} < length {length}")

    def call(self, x):
        count = (ops.shape(x)[1] - self.length) // self.step + 1
        padding = [[0, 0], [0, self.step - self.length]] + [[0, 0]] * (len(x.shape) - 2)
        x = ops.pad(x, padding)[:, :count * self.step]
        x = ops.reshape(x, (-1, self.step, *x.shape[2:]))
        return x[:, :self.length]

    def compute_output_shape(self, input_shape):
        return (None, self.length, *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "length": self.length, "step": self.step}


@keras.saving.register_keras_serializable(package="export")
class MeanOverPatches(keras.layers.Layer):
    """([batch * patches, units] per-patch outputs, [batch, ...] clips) -> [batch, units] means."""

    def call(self, inputs):
        per_patch, clips = inputs
        return ops.mean(ops.reshape(per_patch, (ops.shape(clips)[0], -1, per_patch.shape[-1])), axis=1)

    def compute_output_shape(self, input_shapes):
        return (input_shapes[1][0], input_shapes[0][-1])


def _output(model, output):
    if output == "scores":
        return model.output
    try:
        return model.get_layer(EMBEDDING_LAYER).input
    except ValueError:
        raise ExportError(f"model {model.name!r} has no {EMBEDDING_LAYER!r} layer: export needs a zoo model "
                          "built with include_top=True.") from None


def _input_stage(model):
    """The model's own log-mel layers, in order (shared, so the clip's log-mel is the model's)."""
    names = [layer.name for layer in model.layers]
    return model.layers[1:names.index(LOG_MEL_LAYER) + 1]  # after the Input layer


def _takes_log_mel(model):
    return any(layer.name == LOG_MEL_LAYER for layer in model.layers)


def patch_samples(model, samples=None):
    """Samples per patch the clip model cuts: ``samples`` when given (a run folder's training
    crop, as zoo.tag cuts it), else the model's own input length, else musicnn's 3 s."""
    if samples is not None:
        return samples
    if _takes_log_mel(model):
        return frames_to_samples(model.get_layer(LOG_MEL_LAYER).output.shape[1] or DEFAULT_PATCH_FRAMES)
    return model.input_shape[1] or frames_to_samples(DEFAULT_PATCH_FRAMES)


def clip_model(model, output="scores", samples=None):
    """A Keras model: waveform [batch, samples] of any length -> the mean over zoo.tag's
    patches of ``model``'s ``output`` ("scores", or "embedding": the back-end's output);
    ``samples``: the patch length, when not the model's own (see ``patch_samples``)."""
    waveform = keras.Input((None,), name="waveform")
    samples = patch_samples(model, samples)
    x = PadToLength(samples, name="pad_to_one_patch")(waveform)
    if _takes_log_mel(model):
        for layer in _input_stage(model):
            x = layer(x)
        frames = waveform_to_frames(samples)
        patches = Patches(frames, frames, name="log_mel_patches")(x)
        body = keras.Model(model.get_layer(LOG_MEL_LAYER).output, _output(model, output), name=f"{model.name}_patch")
    else:
        patches = Patches(samples, waveform_to_frames(samples) * _HOP, name="waveform_patches")(x)
        body = keras.Model(model.input, _output(model, output), name=f"{model.name}_patch")
    per_patch = body(patches)
    return keras.Model(waveform, MeanOverPatches(name=f"mean_{output}")([per_patch, waveform]),
                       name=f"{model.name}_clips")
