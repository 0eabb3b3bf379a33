"""Audio classification model zoo: every front-end x back-end of Pons' review as a Keras model.

    >>> import zoo
    >>> zoo.list_models()[:3]
    >>> model = zoo.load("musicnn-vertical-horizontal")
"""
import kapre
import keras

from zoo.layers import TaggedSigmoid
from zoo.models import create_model, load
from zoo.registry import (
    ALIASES,
    InvalidOverrideError,
    UnknownModelError,
    back_ends,
    front_ends,
    list_models,
)

__all__ = [
    "ALIASES",
    "InvalidOverrideError",
    "UnknownModelError",
    "back_ends",
    "catalogue",
    "create_model",
    "front_ends",
    "list_models",
    "load",
    "tag_names",
]

# kapre 0.4.1 does not register its layers with Keras; do it so `.keras` files load.
for _layer in (kapre.STFT, kapre.Magnitude, kapre.ApplyFilterbank):
    keras.saving.get_custom_objects().setdefault(_layer.__name__, _layer)


def tag_names(model):
    """The tag names stored in a zoo model's output layer, or None."""
    for layer in model.layers:
        if isinstance(layer, TaggedSigmoid):
            return layer.tag_names
    return None


def catalogue(**kwargs):
    """A pandas DataFrame describing every registered model (see zoo.describe)."""
    from zoo.describe import build_catalogue

    return build_catalogue(**kwargs)
