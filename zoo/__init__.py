"""Audio classification model zoo: every front-end x back-end of Pons' review as a Keras model.

    >>> import zoo
    >>> zoo.list_models()[:3]
    >>> model = zoo.load("musicnn-vertical-horizontal")

``import zoo`` does not import TensorFlow: what needs it (building, training) is imported on
first use, so that tagging with a TensorFlow-free runtime starts in a fraction of a second.
"""
import importlib
import os

# Before TensorFlow loads (via kapre): its start-up chatter would precede every CLI error line.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from zoo.audio import AudioError, load_audio  # noqa: E402
from zoo.keras_registration import register_when_keras_loads  # noqa: E402
from zoo.registry import (  # noqa: E402
    ALIASES,
    InvalidOverrideError,
    UnknownModelError,
    back_ends,
    front_ends,
    list_models,
)
from zoo.tagging import embeddings, tag, taggram  # noqa: E402

__all__ = [
    "ALIASES",
    "AudioError",
    "InvalidOverrideError",
    "UnknownModelError",
    "back_ends",
    "catalogue",
    "create_model",
    "embeddings",
    "front_ends",
    "list_models",
    "load",
    "load_audio",
    "tag",
    "tag_names",
    "taggram",
    "train",
]

# keras.models.load_model reads zoo models after `import zoo` (see zoo.keras_registration).
register_when_keras_loads()

# Public names whose modules import TensorFlow: imported on first use.
_LAZY = {"TaggedSigmoid": "zoo.layers", "create_model": "zoo.models", "load": "zoo.models", "train": "zoo.training"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def tag_names(model):
    """The tag names stored in a zoo model's output layer, or None."""
    from zoo.layers import TaggedSigmoid

    for layer in model.layers:
        if isinstance(layer, TaggedSigmoid):
            return layer.tag_names
    return None


def catalogue(**kwargs):
    """A pandas DataFrame describing every registered model (see zoo.describe)."""
    from zoo.describe import build_catalogue

    return build_catalogue(**kwargs)
