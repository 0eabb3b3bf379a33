"""Waveform front-ends: frame-level single-shape, frame-level many-shapes, sample-level.

Each takes a mono waveform [batch, samples] and returns features [batch, time, channels].
"""
from keras import layers

from zoo.models import blocks
from zoo.models.registry import WAVEFORM, register_front_end

__all__ = ["frame_single", "frame_many", "sample_level"]


def _conv_bn_relu(x, filters, kernel_size, strides, padding, name):
    x = layers.Conv1D(filters, kernel_size, strides=strides, padding=padding, name=f"{name}_conv")(x)
    x = blocks.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _add_channel_axis(waveform):
    return layers.Reshape((-1, 1), name="frontend_add_channel")(waveform)


@register_front_end(
    "frame-single",
    input_kind=WAVEFORM,
    summary="one Conv1D whose kernel is an STFT window (512) at the STFT hop (256)",
    min_samples=512,
)
def frame_single(waveform, *, filters=256, window=512, hop=256):
    # Dieleman & Schrauwen 2014: a strided conv standing in for the STFT. 'same' padding
    # centres the frames like a centred STFT, so every waveform front-end aligns in time.
    x = _add_channel_axis(waveform)
    return _conv_bn_relu(x, filters, window, hop, "same", "frontend_frame")


@register_front_end(
    "frame-many",
    input_kind=WAVEFORM,
    summary="Conv1D kernels of 512, 256, 128 samples at one 256 hop, concatenated (multi-resolution)",
    min_samples=512,
)
def frame_many(waveform, *, filters_per_shape=85, windows=(512, 256, 128), hop=256):
    # Many-shapes: one filter bank per window length, CQT-like multi-resolution (Pons 2017).
    # 3 x 85 = 255 filters, close to frame-single's 256 so the two compare at equal width.
    x = _add_channel_axis(waveform)
    branches = [
        _conv_bn_relu(x, filters_per_shape, w, hop, "same", f"frontend_frame{w}") for w in windows
    ]
    return layers.Concatenate(name="frontend_concat")(branches)


@register_front_end(
    "sample-level",
    input_kind=WAVEFORM,
    summary="strided 3-tap conv, then Conv1D(3)+BN+ReLU+MaxPool(3) blocks (SampleCNN)",
    min_samples=3**7,
)
def sample_level(waveform, *, filters=(64, 64, 64, 128, 128, 128, 256)):
    # Lee et al. 2017 (SampleCNN) / Pons et al. 2018: 3-sample strided conv, then blocks
    # that each divide the time resolution by 3.
    x = _add_channel_axis(waveform)
    x = _conv_bn_relu(x, filters[0], 3, 3, "valid", "frontend_strided")
    for i, f in enumerate(filters[1:], start=1):
        x = _conv_bn_relu(x, f, 3, 1, "same", f"frontend_block{i}")
        x = layers.MaxPooling1D(3, name=f"frontend_block{i}_pool")(x)
    return x
