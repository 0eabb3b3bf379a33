"""Audio classification model zoo: every front-end x back-end of Pons' review as a Keras model.

    >>> import zoo
    >>> zoo.list_models()[:3]
    >>> model = zoo.load("musicnn-vertical-horizontal")

``import zoo`` does not import TensorFlow: what needs it (building, training) is imported on
first use, so that tagging with a TensorFlow-free runtime starts in a fraction of a second.

The package is built in floors; a module imports its own package and lower floors only
(tests/test_floors.py checks it, and nothing in zoo imports benchmarks, export or pretrained):

    5  zoo.tagging, zoo.training       tagging audio and libraries; training and fine-tuning
    4  zoo.datasets                    tagging datasets by name, the tf.data input pipeline
    3  zoo.audio, zoo.conversion       decoding, NumPy log-mel, streaming; ONNX / TFLite forms
    2  zoo.models                      the grid: registry, front-ends, back-ends, layers, builder
    1  zoo.weights, zoo.kernels        the weights registry; the CPU speed kernels (ZOO_KERNELS=off)
    0  zoo.cache, zoo.files, ...       cache folder; atomic writes and content hashes; host allocator

This module, ``zoo.demo`` (the zoo-demo page) and the ``python -m zoo.beam`` / ``zoo.describe``
shims sit on top. Importing it changes nothing process-wide (no allocator or logging settings):
the command-line tools do that.
"""
from zoo.audio import AudioError, load_audio
from zoo.host_allocator import tune_host_allocator
from zoo.lazy import lazy_attributes
from zoo.models.keras_registration import register_when_keras_loads
from zoo.models.model_files import ModelFileError
from zoo.models.registry import (
    ALIASES,
    InvalidOverrideError,
    UnknownModelError,
    back_ends,
    front_ends,
    list_models,
)
from zoo.tagging.analyser import embeddings, tag, taggram
from zoo.weights import UnknownWeightsError, register_weights_file

__all__ = [
    "ALIASES",
    "AudioError",
    "InvalidOverrideError",
    "ModelFileError",
    "UnknownModelError",
    "UnknownWeightsError",
    "back_ends",
    "catalogue",
    "create_model",
    "embeddings",
    "front_ends",
    "list_models",
    "list_weights",
    "load",
    "load_audio",
    "plot_taggram",
    "register_weights_file",
    "tag",
    "tag_names",
    "taggram",
    "train",
    "tune_host_allocator",
]

# keras.models.load_model reads zoo models after `import zoo` (see zoo.models.keras_registration).
register_when_keras_loads()

# Public names whose modules import TensorFlow: imported on first use.
# plot_taggram imports matplotlib only when called; it is listed here so that `import zoo` does
# not even load its module.
_LAZY = {"TaggedSigmoid": "zoo.models.head", "create_model": "zoo.models.builder", "load": "zoo.models.builder",
         "plot_taggram": "zoo.tagging.taggram_plot", "train": "zoo.training.trainer"}
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)


def tag_names(model):
    """The tag names stored in a zoo model's output layer, or None."""
    from zoo.models.head import TaggedSigmoid

    for layer in model.layers:
        if isinstance(layer, TaggedSigmoid):
            return layer.tag_names
    return None


def catalogue(**kwargs):
    """A pandas DataFrame describing every registered model (see zoo.models.catalogue)."""
    from zoo.models.catalogue import build_catalogue

    return build_catalogue(**kwargs)


def list_weights(model=None):
    """A pandas DataFrame of the registered weights (of ``model``, an id or alias, when given):
    model, weights, tags, trained_on, the reported scores, licence and source (zoo.weights)."""
    from zoo.weights import list_weights as registered

    return registered(None if model is None else ALIASES.get(model, model))
