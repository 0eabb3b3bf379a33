"""The models the demo page offers: every registered weights entry (``zoo.list_weights()``) and,
when ``zoo-demo --model`` names one, a ``.keras`` file or zoo-train run folder of your own.

    >>> offered, default = model_choices("musicnn", "mtt")
    >>> [choice.key for choice in offered][:2]
    ['dense-small-rectangular:msd', 'dense-small-rectangular:mtt']
"""
import os
from dataclasses import dataclass
from typing import Optional

from zoo.models.model_files import is_model_path, split_model_name
from zoo.tagging.analyser import pretrained_model
from zoo.weights import list_weights

__all__ = ["Choice", "model_choices"]

# The model file's key in the chooser (registry keys are ID:WEIGHTS, which holds no "@").
_FILE_KEY = "@file"


@dataclass(frozen=True)
class Choice:
    key: str  # the chooser's value
    label: str  # what the chooser shows
    model: str  # a registry id, or the model file's path
    weights: Optional[str]  # None for a model file

    @property
    def short(self):
        """The model in a few words: "ID, WEIGHTS", or the model file's name."""
        if self.weights is None:
            return os.path.basename(os.path.normpath(self.model))
        return f"{self.model}, {self.weights}"


def _registered():
    return [Choice(f"{row.model}:{row.weights}", f"{row.model} · {row.weights} ({row.trained_on}, {row.tags} tags)",
                   row.model, row.weights)
            for row in list_weights().itertuples()]


def model_choices(model, weights):
    """([Choice], the key of the one ``model`` and ``weights`` name): the registered weights, and
    first the model file when ``model`` names one. ValueError (one line) for an unknown model or
    weights, or an unusable model file, as ``zoo-tag`` says it."""
    offered = _registered()
    if is_model_path(model):
        pretrained_model(model, None)  # an unusable file: the zoo's one-line error
        name = os.path.basename(os.path.normpath(os.fspath(model)))
        return [Choice(_FILE_KEY, f"{name} (your model)", os.fspath(model), None), *offered], _FILE_KEY
    model, named = split_model_name(model)  # "vgg:msd" names its weights
    weights = named or weights
    model_id, _ = pretrained_model(model, weights)
    return offered, f"{model_id}:{weights}"
