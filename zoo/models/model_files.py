"""A model named by a file: a ``.keras`` file, or a zoo-train run folder (its best ``model.keras``).

``model_file(name)`` tells whether a model name is a path and, if so, describes the model it
names from the file alone: the ``.keras`` archive's ``config.json`` is read as JSON, so this
needs no TensorFlow (a tagging run whose runtime needs none never imports it), and every
problem is named in one line (``ModelFileError``): a missing file, a folder that is no run
folder, a run with no finished epoch yet, an unreadable or corrupt archive, a Keras model that
is not a zoo tagging model (no ``TaggedSigmoid`` output, or one without tag names).
"""
import json
import os
import zipfile
from dataclasses import dataclass
from typing import Optional

from zoo.files import file_sha256
from zoo.models.log_mel_config import LOG_MEL_LAYER
from zoo.models.registry import LOG_MEL, WAVEFORM

__all__ = ["MODEL_FILE", "RUN_SETTINGS", "ModelFile", "ModelFileError", "is_model_path", "model_file",
           "split_model_name"]

# What zoo-train writes into a run folder (zoo.training.run_directory uses these names).
MODEL_FILE = "model.keras"
RUN_SETTINGS = "run.json"
_OUTPUT_LAYER = "zoo>TaggedSigmoid"


class ModelFileError(ValueError):
    """A model file or run folder that cannot be used, with the reason in one line."""


@dataclass(frozen=True)
class ModelFile:
    path: str  # the .keras file
    tag_names: tuple
    input_samples: Optional[int]  # None: the model takes any length
    input_kind: str  # what its front-end meets: LOG_MEL (in-graph log-mel) or WAVEFORM
    architecture: Optional[str]  # the registry id it was built as (zoo.load names models after it)
    run_folder: Optional[str] = None
    training_seconds: Optional[float] = None  # the run's training crop, for a run folder

    @property
    def model_id(self):
        """What tagging knows the model as: the id it was built as (its embeddings' layer names), else "file"."""
        return self.architecture or "file"

    def content_hash(self):
        """sha256 of the file's bytes: what a conversion of it is cached under."""
        return file_sha256(self.path)


def is_model_path(name):
    """True when ``name`` names a file or folder rather than a registry id or alias: a path
    object, or text ending in .keras or holding a path separator (ids have neither). A run
    folder right under the current directory is named ``./NAME``, so that a folder called
    ``musicnn`` never hides the model id."""
    if isinstance(name, os.PathLike):
        return True
    text = str(name)
    return text.endswith(".keras") or os.sep in text or "/" in text


def split_model_name(name):
    """(model, weights or None) of a model name as every entry point takes it: ``ID:WEIGHTS``
    (e.g. "vgg:msd", "musicnn:mtt") names registered weights; an id, an alias, a ``.keras``
    file or a run folder names none.

        >>> split_model_name("vgg:msd")
        ('vgg', 'msd')
    """
    if is_model_path(name):
        return name, None
    model, separator, weights = str(name).partition(":")
    return (model, weights) if separator and model and weights else (name, None)


def _read_run_settings(folder):
    try:
        with open(os.path.join(folder, RUN_SETTINGS)) as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{folder} is a zoo-train run folder whose {RUN_SETTINGS} cannot be read: "
                             f"{error}") from None


def _run_folder_model(folder):
    has_model, has_settings = (os.path.isfile(os.path.join(folder, n)) for n in (MODEL_FILE, RUN_SETTINGS))
    if not has_settings:
        raise ModelFileError(f"{folder} is a folder but not a zoo-train run folder (no {RUN_SETTINGS}, "
                             f"no {MODEL_FILE}); name a .keras file or a run folder")
    if not has_model:
        raise ModelFileError(f"the run in {folder} has no finished epoch yet (no {MODEL_FILE}); rerun its "
                             "zoo-train command to train on")
    crop = _read_run_settings(folder).get("recipe.input_seconds")
    return os.path.join(folder, MODEL_FILE), crop


def _archive_config(path):
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except KeyError:
        raise ModelFileError(f"{path} is a zip archive but not a .keras file (no config.json)") from None
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ModelFileError(f"{path} is not a readable .keras file: {' '.join(str(error).split())}") from None


def _layers(config):
    """Every layer config of a functional model config, nested models included."""
    for layer in config.get("config", {}).get("layers", []):
        yield layer
        if "layers" in layer.get("config", {}):
            yield from _layers(layer)


def _input_samples(layers):
    inputs = [layer for layer in layers if layer.get("class_name") == "InputLayer"]
    shape = inputs[0]["config"].get("batch_shape") if inputs else None
    return shape[1] if shape and len(shape) >= 2 else None


def _describe(path, run_folder=None, crop=None):
    config = _archive_config(path)
    layers = list(_layers(config))
    outputs = [layer for layer in layers if layer.get("registered_name") == _OUTPUT_LAYER]
    if not outputs:
        raise ModelFileError(f"{path} holds a Keras model but not a zoo tagging model (no TaggedSigmoid output); "
                             "build it with zoo.load or train it with zoo-train")
    tag_names = outputs[-1]["config"].get("tag_names")
    if not tag_names:
        raise ModelFileError(f"{path} is a zoo model without tag names; build it with zoo.load(..., tag_names=[...]) "
                             "or train it with zoo-train, which stores the dataset's tags")
    kind = LOG_MEL if any(layer.get("config", {}).get("name") == LOG_MEL_LAYER for layer in layers) else WAVEFORM
    architecture = str(config.get("config", {}).get("name", "")).replace("_", "-") or None
    return ModelFile(os.path.abspath(path), tuple(tag_names), _input_samples(layers), kind, architecture,
                     run_folder, crop)


def model_file(name):
    """The ``ModelFile`` that ``name`` (a .keras file or a run folder) names; ModelFileError when
    it cannot be used."""
    path = os.fspath(name)
    if os.path.isdir(path):
        model_path, crop = _run_folder_model(path)
        return _describe(model_path, os.path.abspath(path), crop)
    if not os.path.exists(path):
        raise ModelFileError(f"no such model file or run folder: {path}")
    return _describe(path)
