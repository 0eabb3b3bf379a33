"""Variable-length back-ends: temporal max / average / max+mean (musicnn), attention, RNN.

They aggregate any number of time steps into one embedding, so a model built with
input_seconds=None takes audio of any length at or above its front-end's minimum.
"""
from keras import layers

from zoo.models import blocks
from zoo.models.backends.common import penultimate_dense
from zoo.models.pooling import AttentionPooling1D, TemporalMaxMeanPooling
from zoo.models.registry import VARIABLE, register_back_end

__all__ = ["maxpool", "avgpool", "musicnn", "attention", "rnn"]


@register_back_end("maxpool", length_policy=VARIABLE, summary="global max over time -> dense")
def maxpool(features, *, units=200, dropout=0.5):
    x = layers.GlobalMaxPooling1D(name="backend_time_max")(features)
    return penultimate_dense(x, units, dropout, "backend")


@register_back_end("avgpool", length_policy=VARIABLE, summary="global average over time -> dense")
def avgpool(features, *, units=200, dropout=0.5):
    x = layers.GlobalAveragePooling1D(name="backend_time_mean")(features)
    return penultimate_dense(x, units, dropout, "backend")


def _midend_conv(x, filters, index):
    x = layers.Conv1D(filters, 7, padding="same", activation="relu", name=f"midend_conv{index}")(x)
    return blocks.BatchNormalization(name=f"midend_bn{index}")(x)


def _musicnn_midend(features, filters):
    # musicnn mid-end: three Conv 7 x channels ('same' in time), ReLU -> BN; layers 2
    # and 3 residual; dense connection = concat of the front-end and all three outputs.
    cnn1 = _midend_conv(features, filters, 1)
    cnn2 = layers.Add(name="midend_residual2")([_midend_conv(cnn1, filters, 2), cnn1])
    cnn3 = layers.Add(name="midend_residual3")([_midend_conv(cnn2, filters, 3), cnn2])
    return layers.Concatenate(name="midend_concat")([features, cnn1, cnn2, cnn3])


@register_back_end(
    "musicnn",
    length_policy=VARIABLE,
    summary="musicnn mid-end (3 dense-connected Conv 7, 64 filters) + max & mean over time -> dense",
)
def musicnn(features, *, midend_filters=64, units=200, dropout=0.5):
    # jordipons/musicnn models.py: 64 mid-end filters and 200 units (MSD big: 512, 500).
    x = _musicnn_midend(features, midend_filters)
    x = TemporalMaxMeanPooling(name="backend_time_max_mean")(x)
    return penultimate_dense(x, units, dropout, "backend")


@register_back_end(
    "attention",
    length_policy=VARIABLE,
    summary="softmax attention weights over time, weighted sum of projected frames -> dense",
)
def attention(features, *, attention_units=None, units=200, dropout=0.5):
    value_units = attention_units or features.shape[-1]
    x = AttentionPooling1D(value_units, name="backend_attention")(features)
    return penultimate_dense(x, units, dropout, "backend")


@register_back_end(
    "rnn",
    length_policy=VARIABLE,
    summary="stacked GRU (or LSTM) over time, last state -> dense (CRNN-style)",
)
def rnn(features, *, cell="gru", rnn_units=128, rnn_layers=2, units=200, dropout=0.5):
    # Choi et al. 2017 (CRNN) summarise the sequence with two recurrent layers' last state.
    cells = {"gru": layers.GRU, "lstm": layers.LSTM}
    if cell not in cells:
        raise ValueError(f"cell must be one of {sorted(cells)}, got {cell!r}")
    x = features
    for i in range(rnn_layers):
        last = i == rnn_layers - 1
        x = cells[cell](rnn_units, return_sequences=not last, name=f"backend_{cell}{i + 1}")(x)
    return penultimate_dense(x, units, dropout, "backend")
