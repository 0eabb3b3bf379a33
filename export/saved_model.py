"""Export a zoo model as a versioned SavedModel that stock TF Serving loads and serves.

Layout written (DESIGN.md, TF Serving layout)::

    <base_path>/<model name>/<version>/saved_model.pb
                                      /variables/
                                      /assets/tags.txt
                                      /assets.extra/tf_serving_warmup_requests
"""
import os
import re
import tempfile
from dataclasses import dataclass
from typing import Sequence

import keras

import zoo
from export import signatures, warmup
from export.errors import ExportError
from export.opcheck import check_core_ops
from export.patching import patch_samples
from export.versions import version_directory
from zoo.models import registry
from zoo.models.input_stage import frames_to_samples

__all__ = ["ExportedModel", "build_servable_model", "export_saved_model", "serving_model_name"]

DEFAULT_SAMPLE_RATE = 16000
# Fixed-length back-ends only: musicnn's "3 s" patch, 187 log-mel frames = 47616 samples at
# 16 kHz, the length the pretrained VGG (dense-small-rectangular) weights and zoo.tag use.
DEFAULT_INPUT_SECONDS = frames_to_samples(187) / 16000
WARMUP_SECONDS = 3.0
_SERVABLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class ExportedModel:
    """What export_saved_model wrote."""

    name: str
    version: int
    path: str
    patch_samples: int  # the served graph takes clips of any length and averages patches of this length
    sample_rate: int
    tag_names: Sequence[str]


def _resolve_id(name):
    try:
        return registry.resolve(name)
    except registry.UnknownModelError:
        return None


def serving_model_name(model_or_id):
    """The directory / served name: the zoo id (``musicnn-vertical-horizontal``) when known."""
    if isinstance(model_or_id, str):
        return registry.resolve(model_or_id)[0]
    resolved = _resolve_id(model_or_id.name.replace("_", "-"))
    return resolved[0] if resolved else model_or_id.name


def build_servable_model(model_id, *, weights=None, tag_names=None, sample_rate=DEFAULT_SAMPLE_RATE,
                         input_seconds=DEFAULT_INPUT_SECONDS, **overrides):
    """zoo.load with the serving input length: any length for variable-length back-ends."""
    _, _, back_end = registry.resolve(model_id)
    if back_end.length_policy == registry.VARIABLE:
        input_seconds = None
    kwargs = dict(weights=weights, sample_rate=sample_rate, input_seconds=input_seconds, **overrides)
    if tag_names is not None and weights is None:
        kwargs.update(tag_names=list(tag_names), num_classes=len(tag_names))
    return zoo.load(model_id, **kwargs)


def _tag_names(model):
    names = zoo.tag_names(model)
    if names is None:
        return [f"tag_{i}" for i in range(model.output_shape[-1])]
    return list(names)


def _check_model(model):
    shape = model.input_shape
    if not isinstance(shape, tuple) or len(shape) != 2:
        raise ExportError(f"export needs a model taking a waveform [batch, samples]; {model.name!r} takes {shape}")


def _warmup_samples(model, sample_rate):
    return max(int(WARMUP_SECONDS * sample_rate), patch_samples(model))


def _write_version(work_dir, model, name, *, top_k, sample_rate, warmup_requests, check_ops):
    with tempfile.TemporaryDirectory() as scratch:
        tag_file = signatures.write_tag_file(_tag_names(model), scratch)
        archive = signatures.build_archive(model, tag_file, top_k=top_k)
        archive.write_out(work_dir, verbose=False)
    if warmup_requests:
        warmup.write_warmup_file(work_dir, name, _warmup_samples(model, sample_rate))
    if check_ops:
        check_core_ops(work_dir)


def export_saved_model(
    model_or_id,
    base_path,
    version=None,
    force=False,
    *,
    weights=None,
    top_k=5,
    tag_names=None,
    sample_rate=DEFAULT_SAMPLE_RATE,
    input_seconds=DEFAULT_INPUT_SECONDS,
    model_name=None,
    warmup_requests=True,
    check_ops=True,
    **overrides,
):
    """Write ``base_path/<model name>/<version>/`` atomically and return an ExportedModel.

    Args:
        model_or_id: a zoo model id / alias (built here, variable-length back-ends with any
            input length) or a zoo Keras model taking [batch, samples].
        base_path: the directory TF Serving is pointed at (one sub-directory per model).
        version: integer version; None writes the next one after those present.
        force: replace an existing version (the new one is complete before the swap).
        weights, tag_names, sample_rate, input_seconds, **overrides: passed to zoo.load
            when model_or_id is an id (input_seconds applies to fixed-length back-ends).
        top_k: how many tags top_k_tags / top_k_scores return.
        model_name: served name; defaults to the zoo model id.
        warmup_requests: write assets.extra/tf_serving_warmup_requests.
        check_ops: refuse graphs with ops stock TF Serving lacks (costs a TF start-up).
    """
    if isinstance(model_or_id, str):
        model = build_servable_model(model_or_id, weights=weights, tag_names=tag_names, sample_rate=sample_rate,
                                     input_seconds=input_seconds, **overrides)
    elif isinstance(model_or_id, keras.Model):
        model = model_or_id
    else:
        raise ExportError(f"expected a zoo model id or a keras.Model, got {type(model_or_id).__name__}")
    _check_model(model)
    name = model_name or serving_model_name(model_or_id)
    if not _SERVABLE_NAME.match(name):
        raise ExportError(f"model name {name!r} must be letters, digits, '.', '_' or '-' (it becomes a URL path)")
    with version_directory(os.path.join(base_path, name), version, force) as (chosen_version, work_dir):
        _write_version(work_dir, model, name, top_k=top_k, sample_rate=sample_rate,
                       warmup_requests=warmup_requests, check_ops=check_ops)
    return ExportedModel(
        name=name,
        version=chosen_version,
        path=os.path.join(base_path, name, str(chosen_version)),
        patch_samples=patch_samples(model),
        sample_rate=sample_rate,
        tag_names=tuple(_tag_names(model)),
    )
