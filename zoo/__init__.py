"""Audio classification model zoo: every front-end x back-end of Pons' review as a Keras model.

    >>> import zoo
    >>> zoo.list_models()[:3]
    >>> model = zoo.load("musicnn-vertical-horizontal")
"""
import os

# Before TensorFlow loads (via kapre): its start-up chatter would precede every CLI error line.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import kapre  # noqa: E402
import keras  # noqa: E402

from zoo.audio import AudioError, load_audio  # noqa: E402
from zoo import fast_conv  # noqa: E402,F401  (registers SingleChannelConv2D for load_model)
from zoo.layers import TaggedSigmoid  # noqa: E402
from zoo.models import create_model, load  # noqa: E402
from zoo.registry import (  # noqa: E402
    ALIASES,
    InvalidOverrideError,
    UnknownModelError,
    back_ends,
    front_ends,
    list_models,
)
from zoo.tagging import embeddings, tag, taggram  # noqa: E402
from zoo.training import train  # noqa: E402

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
