"""musicnn 0.1.0's four TF1 checkpoints ported onto zoo models.

MTT_musicnn / MSD_musicnn fit ``musicnn-vertical-horizontal`` and MTT_vgg / MSD_vgg fit
``dense-small-rectangular``. Each checkpoint is converted once into a Keras
``.weights.h5`` in the cache (see ``pretrained.source``); loading copies those weights into
any model built with the same architecture, whatever its input stage or clip length.

MSD_vgg was trained with other max-pool shapes than MTT_vgg (read from its ``.meta``), which
the musicnn package's own code does not reproduce; our MSD_vgg port uses the trained ones.
"""
import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pretrained.source import cache_dir, checkpoint_dir
from pretrained.tags import MSD_TAGS, MTT_TAGS
from zoo.files import cached_file
from zoo.weights import WeightsEntry, load_weights_file

__all__ = [
    "CHECKPOINTS",
    "MSD_VGG_POOLS",
    "PATCH_FRAMES",
    "SAMPLE_RATE",
    "Checkpoint",
    "ConversionError",
    "build_model",
    "checkpoint_values",
    "convert",
    "find_checkpoint",
    "load_into",
    "port_weights",
    "weights_entries",
    "weights_file",
]

SAMPLE_RATE = 16000
PATCH_FRAMES = 187  # musicnn's 3 s patch: every checkpoint's input placeholder is [None, 187, 96]
CONVERSION_VERSION = 2  # bump when the Keras layout changes: old cached files are then ignored

# Keras layer -> checkpoint variable scope. tf.compat.v1.layers numbers scopes in graph
# creation order; pretrained.reference.batch_norm_inputs shows which layer feeds each BN.
MUSICNN_SCOPES = {
    "frontend_input_bn": "batch_normalization",
    "frontend_timbral0_conv": "conv2d",
    "frontend_timbral0_bn": "batch_normalization_1",
    "frontend_timbral1_conv": "conv2d_1",
    "frontend_timbral1_bn": "batch_normalization_2",
    "frontend_temporal128_conv": "conv2d_2",
    "frontend_temporal128_bn": "batch_normalization_3",
    "frontend_temporal64_conv": "conv2d_3",
    "frontend_temporal64_bn": "batch_normalization_4",
    "frontend_temporal32_conv": "conv2d_4",
    "frontend_temporal32_bn": "batch_normalization_5",
    "midend_conv1": "conv2d_5",
    "midend_bn1": "batch_normalization_6",
    "midend_conv2": "conv2d_6",
    "midend_bn2": "batch_normalization_7",
    "midend_conv3": "conv2d_7",
    "midend_bn3": "batch_normalization_8",
    "backend_bn_in": "batch_normalization_9",
    "backend_dense": "dense",
    "backend_bn_out": "batch_normalization_10",
    "head_logits": "dense_1",
}

VGG_SCOPES = {
    "frontend_input_bn": "batch_normalization",
    **{f"frontend_conv{i}": f"{i}CNN" for i in range(1, 6)},
    **{f"frontend_bn{i}": f"batch_normalization_{i}" for i in range(1, 6)},
    "head_logits": "dense",
}


# MSD_vgg's .meta: max-pool (size, stride) per layer in (time, frequency). The five layers
# still end in 2 x 1 x 128 = 256 features for 187 frames, like MTT_vgg's pools.
MSD_VGG_POOLS = (((4, 1), (4, 1)), ((1, 4), (1, 4)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))


class ConversionError(ValueError):
    """A checkpoint and a Keras model do not correspond variable for variable."""


@dataclass(frozen=True, eq=False)
class Checkpoint:
    name: str  # folder in the musicnn wheel
    model_id: str
    weights: str  # the zoo's weights name
    tag_names: Sequence[str]
    scopes: Mapping[str, str]  # Keras layer -> checkpoint scope
    trained_on: str
    reported: Mapping[str, float]  # test scores musicnn's authors report for it
    overrides: Mapping[str, Any] = field(default_factory=dict)  # model parameters it was built with


LICENCE = "ISC (musicnn 0.1.0)"
MTT = "MagnaTagATune"
MSD = "Million Song Dataset"


def _reported(roc_auc, pr_auc):
    return {"roc_auc": roc_auc, "pr_auc": pr_auc}


# Reported scores: the musicnn package's README (jordipons/musicnn, 0.1.0).
CHECKPOINTS = (
    Checkpoint("MTT_musicnn", "musicnn-vertical-horizontal", "mtt", MTT_TAGS, MUSICNN_SCOPES, MTT,
               _reported(0.9067, 0.3831)),
    Checkpoint("MSD_musicnn", "musicnn-vertical-horizontal", "msd", MSD_TAGS, MUSICNN_SCOPES, MSD,
               _reported(0.8802, 0.2891)),
    Checkpoint("MTT_vgg", "dense-small-rectangular", "mtt", MTT_TAGS, VGG_SCOPES, MTT, _reported(0.9030, 0.3823)),
    Checkpoint("MSD_vgg", "dense-small-rectangular", "msd", MSD_TAGS, VGG_SCOPES, MSD, _reported(0.8768, 0.2819),
               {"pools": MSD_VGG_POOLS}),
)
_BY_NAME = {checkpoint.name: checkpoint for checkpoint in CHECKPOINTS}


def find_checkpoint(name):
    """The Checkpoint called ``name`` (e.g. "MTT_musicnn")."""
    if name not in _BY_NAME:
        raise KeyError(f"Unknown musicnn checkpoint {name!r}; known: {', '.join(_BY_NAME)}.")
    return _BY_NAME[name]


def build_model(checkpoint):
    """The checkpoint's network as a zoo model taking [batch, 187, 96] log-mel patches."""
    import zoo
    from zoo.models.input_stage import frames_to_samples

    return zoo.load(
        checkpoint.model_id,
        input_stage=False,
        sample_rate=SAMPLE_RATE,
        input_seconds=frames_to_samples(PATCH_FRAMES) / SAMPLE_RATE,
        num_classes=len(checkpoint.tag_names),
        tag_names=list(checkpoint.tag_names),
        **checkpoint.overrides,
    )


def _is_optimizer_state(variable_name):
    return "/Adam" in variable_name or variable_name in ("beta1_power", "beta2_power")


def checkpoint_values(checkpoint, source=None):
    """{variable name: array} of the checkpoint's model variables (Adam state left out)."""
    import tensorflow as tf

    folder = checkpoint_dir(checkpoint.name, source)
    reader = tf.compat.v1.train.NewCheckpointReader(f"{folder}{os.sep}")
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if not _is_optimizer_state(name)
    }


def _fit(value, weight, variable_name):
    target = tuple(weight.shape)
    if value.shape == target:
        return value
    # musicnn's mid-end convolves a [time, channels, 1] map with kernels spanning all the
    # channels, [7, C, 1, F]: exactly a Conv1D whose kernel is [7, C, F].
    if value.ndim == 4 and value.shape[2] == 1 and value.shape[:2] + value.shape[3:] == target:
        return value[:, :, 0, :]
    raise ConversionError(f"{variable_name} has shape {value.shape}, but {weight.path} needs {target}.")


def port_weights(checkpoint, model, values):
    """Set every weight of ``model`` from ``values``; every value must be used exactly once."""
    used = set()
    for layer_name, scope in checkpoint.scopes.items():
        layer = model.get_layer(layer_name)
        arrays = []
        for weight in layer.weights:
            variable_name = f"{scope}/{weight.name}"
            if variable_name not in values:
                raise ConversionError(f"{checkpoint.name} has no {variable_name} for {weight.path}.")
            arrays.append(_fit(values[variable_name], weight, variable_name))
            used.add(variable_name)
        layer.set_weights(arrays)
    unused = sorted(set(values) - used)
    unset = [layer.name for layer in model.layers if layer.weights and layer.name not in checkpoint.scopes]
    if unused or unset:
        raise ConversionError(
            f"{checkpoint.name} does not map one to one onto {checkpoint.model_id}: "
            f"unused checkpoint variables {unused}, Keras layers left unset {unset}."
        )
    return model


def weights_file(checkpoint):
    return cache_dir() / "weights" / f"{checkpoint.name}.v{CONVERSION_VERSION}.weights.h5"


def _read_every_array(path):
    """The HDF5 format's own check, for converted files of the previous release (no sidecar)."""
    import h5py

    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: item[()] if isinstance(item, h5py.Dataset) else None)


def convert(checkpoint, source=None, force=False):
    """Path of the checkpoint's converted ``.weights.h5``, converting it if not cached (or damaged:
    ``zoo.files.cached_file`` checks it before each use)."""

    def make(temporary):
        model = port_weights(checkpoint, build_model(checkpoint), checkpoint_values(checkpoint, source))
        model.save_weights(temporary)

    path = weights_file(checkpoint)
    return Path(cached_file(path, make, what="converted musicnn weights", check=_read_every_array, rebuild=force))


# Layer settings that leave the computation as the checkpoint's.
_NOT_ARCHITECTURE = ("name", "trainable", "dtype", "tag_names")


def _architecture(layer):
    return {key: value for key, value in layer.get_config().items() if key not in _NOT_ARCHITECTURE}


@functools.cache
def _pretrained_layers(checkpoint_name):
    """{layer name: (config, weights)} of the converted network, read once per process."""
    checkpoint = find_checkpoint(checkpoint_name)
    model = build_model(checkpoint)
    load_weights_file(model, convert(checkpoint))
    return {layer.name: (_architecture(layer), layer.get_weights()) for layer in model.layers}


def _differences(ours, pretrained):
    keys = sorted(set(ours) | set(pretrained))
    changed = [k for k in keys if ours.get(k) != pretrained.get(k)]
    return ", ".join(f"{k}={ours.get(k)!r} (pretrained {pretrained.get(k)!r})" for k in changed)


def _check_fits(checkpoint, layer, pretrained):
    usage = f"build {checkpoint.model_id!r} as the pretrained network to use weights {checkpoint.weights!r}"
    if pretrained is None:
        raise ConversionError(f"{checkpoint.name} has no layer {layer.name!r}: {usage}.")
    config, arrays = pretrained
    ours = _architecture(layer)
    if ours != config:
        raise ConversionError(
            f"Layer {layer.name!r} differs from {checkpoint.name}'s: {_differences(ours, config)}; {usage}."
        )
    for weight, array in zip(layer.weights, arrays):
        if tuple(weight.shape) != array.shape:
            raise ConversionError(
                f"Weights {checkpoint.weights!r} do not fit {weight.path} (pretrained {array.shape}, "
                f"model {tuple(weight.shape)}): {usage} (fixed-length models need musicnn's 3 s input)."
            )


def load_into(checkpoint, model, only=None):
    """Fill ``model`` with the checkpoint, after checking its layers are the pretrained ones.

    The model may have any input stage and, for variable-length back-ends, any clip length.
    ``only`` (a test of layer names) fills just those layers, e.g. the front-end of a model with
    another back-end; at least one must be filled.
    """
    import keras

    pretrained = _pretrained_layers(checkpoint.name)
    filled = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer) or not (layer.weights or layer.name in pretrained):
            continue  # the input and the waveform input stage are not part of the checkpoint
        if only is not None and not only(layer.name):
            continue
        _check_fits(checkpoint, layer, pretrained.get(layer.name))
        layer.set_weights(pretrained[layer.name][1])
        filled += 1
    if not filled:
        raise ConversionError(f"{model.name} has no layer of {checkpoint.name} to fill")
    return model


def weights_entries():
    """The four checkpoints as entries of the zoo's weights registry (entry point
    ``audio_zoo.weights``, setup.py); nothing is fetched until one is loaded or prepared."""
    return [
        WeightsEntry(
            checkpoint.model_id,
            checkpoint.weights,
            tuple(checkpoint.tag_names),
            functools.partial(load_into, checkpoint),
            checkpoint.overrides,
            trained_on=checkpoint.trained_on,
            reported=checkpoint.reported,
            licence=LICENCE,
            source=f"{checkpoint.name} checkpoint of the musicnn 0.1.0 wheel on PyPI (pip download --no-deps "
                   f"musicnn==0.1.0), ported to .weights.h5 in the zoo cache",
            prepare=functools.partial(convert, checkpoint),
            sample_rate=SAMPLE_RATE,
        )
        for checkpoint in CHECKPOINTS
    ]
