"""Export a zoo model as a versioned SavedModel that stock TF Serving loads and serves.

Layout written, the one TF Serving watches for (docs/serving.md)::

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
from zoo.models.model_files import is_model_path, model_file, split_model_name
from zoo.tagging.analyser import file_patching

__all__ = ["ExportedModel", "build_servable_model", "export_saved_model", "servable", "serving_model_name"]

DEFAULT_SAMPLE_RATE = 16000
# Fixed-length back-ends only: musicnn's "3 s" patch, 187 log-mel frames = 47616 samples at
# 16 kHz, the length the pretrained VGG (dense-small-rectangular) weights and zoo.tag use.
DEFAULT_INPUT_SECONDS = frames_to_samples(187) / 16000
WARMUP_SECONDS = 3.0
DEFAULT_TOP_K = 5
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


def _servable_name(described):
    """A model file's served name: its run folder's or its file's name, in URL-safe characters."""
    base = os.path.basename(described.run_folder or os.path.splitext(described.path)[0])
    return re.sub(r"[^A-Za-z0-9._-]", "-", base).lstrip("._-") or "model"


def servable(model_or_id, *, weights=None, sample_rate=DEFAULT_SAMPLE_RATE, **build):
    """(Keras model, served name, patch samples or None for the model's own) of a zoo model id,
    a ``.keras`` file or run folder (cut into the patches zoo.tag cuts it into), or a Keras model."""
    if isinstance(model_or_id, keras.Model):
        return model_or_id, serving_model_name(model_or_id), None
    if not is_model_path(model_or_id):
        model_id, named = split_model_name(model_or_id)  # ID:WEIGHTS, as every entry point takes it
        if named is not None and weights not in (None, named):
            raise registry.InvalidOverrideError(f"{model_or_id} names the weights {named!r} and --weights {weights!r}")
        model = build_servable_model(model_id, weights=named or weights, sample_rate=sample_rate, **build)
        return model, serving_model_name(model_id), None
    if weights is not None or build or sample_rate != DEFAULT_SAMPLE_RATE:
        raise registry.InvalidOverrideError(f"{model_or_id} is exported as it was saved; --weights, --sample_rate, "
                                            "--input_seconds and model options apply to registry ids only")
    described = model_file(model_or_id)
    return zoo.load(model_or_id), _servable_name(described), file_patching(described).samples


def _resolve_id(name):
    try:
        return registry.resolve(name)
    except registry.UnknownModelError:
        return None


def serving_model_name(model_or_id):
    """The directory / served name: the zoo id (``musicnn-vertical-horizontal``) when known."""
    if isinstance(model_or_id, str):
        return registry.resolve(model_or_id).model_id
    resolved = _resolve_id(model_or_id.name.replace("_", "-"))
    return resolved.model_id if resolved else model_or_id.name


def build_servable_model(model_id, *, weights=None, tag_names=None, sample_rate=DEFAULT_SAMPLE_RATE,
                         input_seconds=DEFAULT_INPUT_SECONDS, **overrides):
    """zoo.load with the serving input length: any length for variable-length back-ends."""
    back_end = registry.resolve(model_id).back
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


def _warmup_samples(model, sample_rate, patch):
    return max(int(WARMUP_SECONDS * sample_rate), patch_samples(model, patch))


def _write_version(work_dir, model, name, *, top_k, sample_rate, warmup_requests, check_ops, patch):
    with tempfile.TemporaryDirectory() as scratch:
        tag_file = signatures.write_tag_file(_tag_names(model), scratch)
        archive = signatures.build_archive(model, tag_file, top_k=top_k, patch_samples=patch)
        archive.write_out(work_dir, verbose=False)
    if warmup_requests:
        warmup.write_warmup_file(work_dir, name, _warmup_samples(model, sample_rate, patch))
    if check_ops:
        check_core_ops(work_dir)


def export_saved_model(
    model_or_id,
    base_path,
    version=None,
    force=False,
    *,
    weights=None,
    top_k=None,
    tag_names=None,
    sample_rate=DEFAULT_SAMPLE_RATE,
    input_seconds=DEFAULT_INPUT_SECONDS,
    model_name=None,
    warmup_requests=True,
    check_ops=True,
    patch_length=None,
    **overrides,
):
    """Write ``base_path/<model name>/<version>/`` atomically and return an ExportedModel.

    Args:
        model_or_id: a zoo model id / alias (built here, variable-length back-ends with any
            input length), a ``.keras`` file or zoo-train run folder (its own tag names and the
            patches zoo.tag cuts for it), or a zoo Keras model taking [batch, samples].
        base_path: the directory TF Serving is pointed at (one sub-directory per model).
        version: integer version; None writes the next one after those present.
        force: replace an existing version (the new one is complete before the swap).
        weights, tag_names, sample_rate, input_seconds, **overrides: passed to zoo.load
            when model_or_id is an id (input_seconds applies to fixed-length back-ends).
        top_k: how many tags top_k_tags / top_k_scores return (None: 5, or every tag of a
            model with fewer).
        model_name: served name; defaults to the zoo model id.
        warmup_requests: write assets.extra/tf_serving_warmup_requests.
        check_ops: refuse graphs with ops stock TF Serving lacks (costs a TF start-up).
        patch_length: samples per patch the served graph cuts, when not the model's own (a
            model file's is found here).
    """
    if not isinstance(model_or_id, (str, os.PathLike, keras.Model)):
        raise ExportError(f"expected a zoo model id, a model file or a keras.Model, got {type(model_or_id).__name__}")
    build = dict(overrides)
    if tag_names is not None:
        build["tag_names"] = tag_names
    if input_seconds != DEFAULT_INPUT_SECONDS:
        build["input_seconds"] = input_seconds
    model, default_name, patch = servable(model_or_id, weights=weights, sample_rate=sample_rate, **build)
    patch = patch_length or patch
    _check_model(model)
    top_k = min(DEFAULT_TOP_K, model.output_shape[-1]) if top_k is None else top_k
    name = model_name or default_name
    if not _SERVABLE_NAME.match(name):
        raise ExportError(f"model name {name!r} must be letters, digits, '.', '_' or '-' (it becomes a URL path)")
    with version_directory(os.path.join(base_path, name), version, force) as (chosen_version, work_dir):
        _write_version(work_dir, model, name, top_k=top_k, sample_rate=sample_rate,
                       warmup_requests=warmup_requests, check_ops=check_ops, patch=patch)
    return ExportedModel(
        name=name,
        version=chosen_version,
        path=os.path.join(base_path, name, str(chosen_version)),
        patch_samples=patch_samples(model, patch),
        sample_rate=sample_rate,
        tag_names=tuple(_tag_names(model)),
    )
