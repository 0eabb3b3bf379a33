"""The weights registry: every set of trained weights a zoo model can be loaded with.

One ``WeightsEntry`` per (model id, weights name): its tag names, what it was trained on, the
scores its authors reported, its licence, where it comes from and how to fetch or convert it
ahead of time. ``zoo.load(model, weights=name)`` and tagging look weights up here;
``list_weights()`` shows the table.

The zoo fills nothing itself. Packages that provide weights (``pretrained``: musicnn's four
checkpoints) declare a callable in the entry-point group ``audio_zoo.weights`` (setup.py) that
returns their entries; the group is read once, at the first lookup. So no module of the zoo
imports the packages built on it, and a third-party package adds weights the same way.

Imports nothing from the zoo but ``zoo.files``, nor TensorFlow: it is on the floor every
package may reach.
"""
import difflib
import importlib.metadata
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from zoo.files import file_sha256

__all__ = ["ENTRY_POINT_GROUP", "UnknownWeightsError", "WeightsEntry", "WeightsRegistryError", "available",
           "list_weights", "load_weights_file", "register_weights", "register_weights_file", "resolve_weights"]

ENTRY_POINT_GROUP = "audio_zoo.weights"


class UnknownWeightsError(ValueError):
    """No weights of that name for that model."""


class WeightsRegistryError(RuntimeError):
    """A weights provider is broken: its entry point fails, or two entries claim one name."""


@dataclass(frozen=True)
class WeightsEntry:
    model_id: str
    name: str
    tag_names: Sequence[str]
    load_into: Callable  # load_into(keras_model) fills the weights in place
    # Model parameters the weights were trained with, where they differ from the model's
    # defaults; create_model builds with them (explicit overrides still win).
    overrides: Mapping[str, Any] = field(default_factory=dict)
    trained_on: str = ""
    reported: Mapping[str, float] = field(default_factory=dict)  # metric -> value its authors reported
    licence: str = ""
    source: str = ""  # where the values come from and how they are converted
    prepare: Optional[Callable] = None  # prepare(): fetch and convert ahead of time (e.g. before going offline)
    sample_rate: Optional[int] = None  # of the audio it was trained on; zoo.load refuses another (None: any)
    content_hash: str = ""  # of a weights file: conversions of the model are cached under it
    # Weights of a fixed-length model trained on inputs of this many samples: tagging cuts patches
    # of that length (None: any length; tagging cuts musicnn's 3 s patches).
    input_samples: Optional[int] = None

    @property
    def num_classes(self):
        return len(self.tag_names)


_REGISTRY = {}  # model id -> {weights name -> WeightsEntry}
_PROVIDERS_READ = False
_LOCK = threading.Lock()


def register_weights(entry):
    """Adds ``entry``; registering the same entry twice is harmless, a different one under a
    taken (model id, name) is refused."""
    taken = _REGISTRY.get(entry.model_id, {}).get(entry.name)
    if taken is not None and taken != entry:
        raise WeightsRegistryError(f"weights {entry.name!r} for {entry.model_id!r} are registered twice "
                                   f"({taken.source or 'first'} and {entry.source or 'second'})")
    _REGISTRY.setdefault(entry.model_id, {})[entry.name] = entry
    return entry


@dataclass(frozen=True)
class _WeightsFile:
    """load_into of a registered .weights.h5 file (equal for equal paths: re-registering is harmless)."""

    path: str

    def __call__(self, model):
        return load_weights_file(model, self.path)


# Release 0.1.0's one-channel convolution had a class of its own, and Keras names a layer's weights
# in a .weights.h5 file after its class; the kernel class now carries the Keras layer's name. Every
# Conv2D of a zoo model of that release was that class, so the numbering is the same.
_RENAMED_WEIGHT_GROUPS = {"single_channel_conv2d": "conv2d"}


def _renamed_groups(handle):
    """{old group: new group} for a weights file of release 0.1.0, else {}."""
    names = list(handle.get("layers", {}).keys())
    renamed = {}
    for old_prefix, new_prefix in _RENAMED_WEIGHT_GROUPS.items():
        old = [name for name in names if name == old_prefix or name.startswith(old_prefix + "_")]
        if old and not any(name == new_prefix or name.startswith(new_prefix + "_") for name in names):
            renamed.update({f"layers/{name}": f"layers/{new_prefix}{name[len(old_prefix):]}" for name in old})
    return renamed


def load_weights_file(model, path):
    """``model.load_weights(path)`` that also reads the weights files of release 0.1.0 (their
    one-channel convolutions' weights under another name; see _RENAMED_WEIGHT_GROUPS). Returns ``model``.

        >>> import zoo, zoo.weights
        >>> model = zoo.load("musicnn-vertical")
        >>> model.save_weights("/tmp/vertical.weights.h5")
        >>> zoo.weights.load_weights_file(zoo.load("musicnn-vertical"),  # doctest: +ELLIPSIS
        ...                               "/tmp/vertical.weights.h5")
        <Functional ...>
    """
    import h5py

    path = os.fspath(path)
    with h5py.File(path, "r") as handle:
        renamed = _renamed_groups(handle)
    if not renamed:
        model.load_weights(path)
        return model
    with tempfile.TemporaryDirectory() as folder:
        copy = os.path.join(folder, "renamed.weights.h5")
        shutil.copyfile(path, copy)
        with h5py.File(copy, "r+") as handle:
            for old, new in renamed.items():
                handle.move(old, new)
        model.load_weights(copy)
    return model


def register_weights_file(model_id, name, path, tag_names, sample_rate=16000, **model_options):
    """Registers a ``.weights.h5`` file (``model.save_weights``) of a model built as
    ``zoo.load(model_id, tag_names=tag_names, **model_options)``, for this process: from then on
    ``zoo.load(model_id, weights=name)``, ``zoo.tag(..., model=model_id, weights=name)``, zoo-tag's
    Python API and export take it by name. To have it in every process, call this at start-up, or
    ship it as a provider in the ``audio_zoo.weights`` entry-point group. ``model_id`` must be the
    canonical id (``zoo.list_models()``)."""
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise UnknownWeightsError(f"no such weights file: {path}")
    tag_names = tuple(str(tag) for tag in tag_names)
    _read_providers()  # a provider's entry of the same name is found before, not after, this one
    return register_weights(WeightsEntry(
        model_id, name, tag_names, _WeightsFile(path), dict(model_options),
        source=path, sample_rate=sample_rate, content_hash=file_sha256(path)))


def _entry_points():
    found = importlib.metadata.entry_points()
    if hasattr(found, "select"):  # Python 3.10+
        return list(found.select(group=ENTRY_POINT_GROUP))
    return list(found.get(ENTRY_POINT_GROUP, ()))  # Python 3.9: a dict by group


def _read_providers():
    global _PROVIDERS_READ
    with _LOCK:
        if _PROVIDERS_READ:
            return
        for point in _entry_points():
            try:
                entries = list(point.load()())
            except Exception as error:  # a third-party provider may fail in any way
                raise WeightsRegistryError(f"weights provider {point.name!r} ({point.value}) failed: "
                                           f"{type(error).__name__}: {error}") from error
            for entry in entries:
                register_weights(entry)
        _PROVIDERS_READ = True


def available(model_id=None):
    """{model id: [weights names]} or, for one model id, its weights names."""
    _read_providers()
    if model_id is None:
        return {m: sorted(w) for m, w in sorted(_REGISTRY.items())}
    return sorted(_REGISTRY.get(model_id, {}))


def resolve_weights(model_id, weights):
    """The entry of ``weights`` for ``model_id``; UnknownWeightsError naming what there is."""
    names = available(model_id)
    if weights in names:
        return _REGISTRY[model_id][weights]
    if names:
        close = difflib.get_close_matches(str(weights), names, n=3)
        offer = f"did you mean {', '.join(close)}? " if close else ""
        offer += f"available: {', '.join(names)}"
    elif not _REGISTRY:
        offer = (f"no weights are registered at all: the entry points {ENTRY_POINT_GROUP!r} were not found; "
                 "reinstall the package (pip install -e .)")
    else:
        offer = "this model has no pretrained weights; zoo.list_weights() lists those that exist"
    raise UnknownWeightsError(f"No pretrained weights {weights!r} for {model_id!r} ({offer}).")


def list_weights(model_id=None):
    """A pandas DataFrame, one row per registered weights entry (of ``model_id`` when given):
    model, weights, tags, sample_rate, trained_on, one column per reported metric, licence, source."""
    import pandas as pd

    _read_providers()
    rows = []
    for entry_model, entries in sorted(_REGISTRY.items()):
        if model_id is not None and entry_model != model_id:
            continue
        for name, entry in sorted(entries.items()):
            rows.append({"model": entry_model, "weights": name, "tags": entry.num_classes,
                         "sample_rate": entry.sample_rate, "trained_on": entry.trained_on, **dict(entry.reported),
                         "licence": entry.licence,
                         "source": entry.source})
    return pd.DataFrame(rows, columns=None if rows else ["model", "weights", "tags", "sample_rate", "trained_on",
                                                         "licence", "source"])
