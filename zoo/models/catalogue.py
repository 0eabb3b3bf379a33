"""The registry as a table: front-end, back-end, input kind, length policy, params, FLOPs.

FLOPs are counted analytically from the built graph (2 per multiply-accumulate of conv,
dense and recurrent layers, plus the STFT's FFT and the mel filterbank); element-wise
work (BN, activations, pooling) is left out, as is usual in the literature.
"""
import math

import kapre
import keras
import pandas as pd

from zoo.models import registry
from zoo.models.builder import create_model

__all__ = ["count_flops", "build_catalogue", "catalogue_markdown"]


def _spatial(shape):
    """Product of the axes between batch and channels."""
    return math.prod(d for d in shape[1:-1])


def _conv_flops(layer):
    kernel = layer.kernel.shape  # (*kernel_size, in_channels, filters)
    return 2 * math.prod(kernel) * _spatial(layer.output.shape)


def _dense_flops(layer):
    return 2 * math.prod(layer.kernel.shape) * _spatial(layer.output.shape)


def _recurrent_flops(layer):
    # Per step, each gate is a dense map of [x_t, h_{t-1}] to `units`.
    gates = {keras.layers.GRU: 3, keras.layers.LSTM: 4}[type(layer)]
    steps = layer.input.shape[1]
    inputs, units = layer.input.shape[-1], layer.units
    return 2 * gates * (inputs + units) * units * steps


def _attention_flops(layer):
    frames, channels = layer.input.shape[1], layer.input.shape[2]
    return 2 * frames * channels * (1 + layer.units)


def _stft_flops(layer):
    # A real FFT of n points costs about 2.5 n log2 n flops; one per frame.
    frames = layer.output.shape[1]
    return frames * 2.5 * layer.n_fft * math.log2(layer.n_fft)


def _filterbank_flops(layer):
    frames = layer.output.shape[1]
    return 2 * frames * math.prod(layer.filterbank.shape)


_FLOP_COUNTERS = {
    keras.layers.Conv1D: _conv_flops,
    keras.layers.Conv2D: _conv_flops,
    keras.layers.Dense: _dense_flops,
    keras.layers.GRU: _recurrent_flops,
    keras.layers.LSTM: _recurrent_flops,
    kapre.STFT: _stft_flops,
    kapre.ApplyFilterbank: _filterbank_flops,
}


def count_flops(model):
    """Forward-pass FLOPs for one example of a model built with a fixed input length."""
    from zoo.models.pooling import AttentionPooling1D

    counters = {**_FLOP_COUNTERS, AttentionPooling1D: _attention_flops}
    total = 0
    for layer in model.layers:
        # isinstance, not type: subclasses such as SingleChannelConv2D count as their base.
        counter = next((c for cls, c in counters.items() if isinstance(layer, cls)), None)
        if counter is not None:
            total += counter(layer)
    return int(total)


def _describe(model_id, front, back, input_seconds):
    model = create_model(model_id, input_seconds=input_seconds)
    return {
        "model": model_id,
        "front_end": front.name,
        "back_end": back.name,
        "input": front.input_kind,
        "length": back.length_policy,
        "params": model.count_params(),
        "mflops_per_clip": round(count_flops(model) / 1e6, 1),
        "min_input_samples": front.min_samples,
    }


def build_catalogue(pattern=None, input_seconds=3.0):
    """DataFrame, one row per model id: parameters and MFLOPs per ``input_seconds`` clip."""
    rows = []
    for model_id in registry.list_models(pattern):
        _, front, back = registry.resolve(model_id)
        rows.append(_describe(model_id, front, back, input_seconds))
        keras.backend.clear_session()
    return pd.DataFrame(rows)


def catalogue_markdown(frame):
    header = "| model | input | length | params | MFLOPs / 3 s |\n|---|---|---|---:|---:|\n"
    lines = [
        f"| `{r.model}` | {r.input} | {r.length} | {r.params:,} | {r.mflops_per_clip:,.1f} |"
        for r in frame.itertuples()
    ]
    return header + "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(catalogue_markdown(build_catalogue()))
