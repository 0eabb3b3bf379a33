"""Spectrogram front-ends: vertical, horizontal, vertical+horizontal (musicnn), small-rectangular.

Each takes a log-mel map [batch, frames, mels] and returns features [batch, time, channels].
Kernel shapes are (time, frequency).
"""
from keras import layers

from zoo.models import blocks
from zoo.models.registry import LOG_MEL, register_front_end

__all__ = ["vertical", "horizontal", "vertical_horizontal", "small_rectangular"]


def _normalised_map(log_mel):
    # musicnn: expand to one channel, then batch norm over that channel (a single
    # scale/shift for the whole map), before any filter sees it.
    n_mels = log_mel.shape[-1]
    x = layers.Reshape((-1, n_mels, 1), name="frontend_add_channel")(log_mel)
    return blocks.BatchNormalization(name="frontend_input_bn")(x)


def _conv_relu_bn_freq_max(x, filters, kernel_size, padding, name):
    """Conv2D -> ReLU -> BN -> max over all frequency bins -> [batch, time, filters]."""
    x = blocks.Conv2D(filters, kernel_size, padding=padding, activation="relu", name=f"{name}_conv")(x)
    x = blocks.BatchNormalization(name=f"{name}_bn")(x)
    freq_bins = x.shape[2]
    x = blocks.FrequencyMaxPooling2D(freq_bins, name=f"{name}_freq_max")(x)
    return layers.Reshape((-1, filters), name=f"{name}_squeeze")(x)


def _timbral_branch(x, filters, time_extent, freq_fraction, name):
    # musicnn pads only time by (time_extent // 2) and convolves 'valid': 'same' in time,
    # while frequency shrinks before the max over it.
    freq_extent = int(freq_fraction * x.shape[2])
    pad = time_extent // 2
    padded = layers.ZeroPadding2D(((pad, pad), (0, 0)), name=f"{name}_time_pad")(x)
    return _conv_relu_bn_freq_max(padded, filters, (time_extent, freq_extent), "valid", name)


def _temporal_branch(x, filters, time_extent, name):
    return _conv_relu_bn_freq_max(x, filters, (time_extent, 1), "same", name)


@register_front_end(
    "vertical",
    input_kind=LOG_MEL,
    summary="a single vertical (timbre) filter shape, 7x0.7*mels, max over frequency",
    min_samples=512,
)
def vertical(log_mel, *, filters=204, time_extent=7, freq_fraction=0.7):
    # One of musicnn's two timbral shapes on its own (7 x int(0.7*96) = 7 x 67, 204 filters).
    x = _normalised_map(log_mel)
    return _timbral_branch(x, filters, time_extent, freq_fraction, "frontend_timbral")


@register_front_end(
    "horizontal",
    input_kind=LOG_MEL,
    summary="horizontal temporal filters of 128, 64, 32 frames per band, max over frequency",
    min_samples=512,
)
def horizontal(log_mel, *, filters_per_shape=51, time_extents=(128, 64, 32)):
    # musicnn's temporal branch on its own: per-band 1-D filters, max over frequency.
    x = _normalised_map(log_mel)
    branches = [
        _temporal_branch(x, filters_per_shape, t, f"frontend_temporal{t}") for t in time_extents
    ]
    return layers.Concatenate(name="frontend_concat")(branches)


@register_front_end(
    "vertical-horizontal",
    input_kind=LOG_MEL,
    summary="musicnn: 2 timbral (7x38, 7x67) + 3 temporal (128, 64, 32) filter shapes",
    min_samples=512,
)
def vertical_horizontal(
    log_mel,
    *,
    timbral_filters=204,
    timbral_freq_fractions=(0.4, 0.7),
    temporal_filters=51,
    temporal_extents=(128, 64, 32),
):
    # Pons et al. 2018 / jordipons/musicnn models.py: 1.6*128 = 204 timbral and 1.6*32 = 51
    # temporal filters per shape; timbral heights 0.4 and 0.7 of the mel axis; 561 channels.
    # Branch order = checkpoint order (conv2d .. conv2d_4).
    x = _normalised_map(log_mel)
    timbral = [
        _timbral_branch(x, timbral_filters, 7, frac, f"frontend_timbral{i}")
        for i, frac in enumerate(timbral_freq_fractions)
    ]
    temporal = [_temporal_branch(x, temporal_filters, t, f"frontend_temporal{t}") for t in temporal_extents]
    return layers.Concatenate(name="frontend_concat")(timbral + temporal)


# musicnn VGG (models.py `vgg`): max-pool (size, stride) per layer, in (time, frequency).
VGG_POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))


@register_front_end(
    "small-rectangular",
    input_kind=LOG_MEL,
    summary="VGG-like stack of five 3x3 conv + BN + max-pool layers, 128 filters",
    min_samples=65 * 256,  # 66 frames: the least that survives the five poolings
)
def small_rectangular(log_mel, *, filters=128, pools=VGG_POOLS, dropout=0.25):
    # Choi et al. 2016 via musicnn's VGG baseline: conv 3x3 'same' -> ReLU -> BN -> pool,
    # dropout between layers (not after the last pool).
    x = _normalised_map(log_mel)
    for i, (size, strides) in enumerate(pools, start=1):
        x = blocks.Conv2D(filters, 3, padding="same", activation="relu", name=f"frontend_conv{i}")(x)
        x = blocks.BatchNormalization(name=f"frontend_bn{i}")(x)
        x = layers.MaxPooling2D(size, strides=strides, name=f"frontend_pool{i}")(x)
        if i < len(pools):
            x = layers.Dropout(dropout, name=f"frontend_dropout{i}")(x)
    freq_bins, channels = x.shape[2], x.shape[3]
    return layers.Reshape((-1, freq_bins * channels), name="frontend_flatten_freq")(x)
