"""Pretrained weights for zoo models.

A weights entry is registered per (model id, weights name) with ``register_weights``; it
knows its tag names and how to put its values into a freshly built model.

musicnn 0.1.0's checkpoints (``pretrained.musicnn``): "mtt" and "msd" weights for
``musicnn-vertical-horizontal`` and ``dense-small-rectangular``. ``python -m pretrained convert``
fetches and converts them ahead of time.
"""
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PretrainedWeights", "UnknownWeightsError", "available", "register_weights", "resolve_weights"]


class UnknownWeightsError(ValueError):
    pass


@dataclass(frozen=True)
class PretrainedWeights:
    model_id: str
    name: str
    tag_names: Sequence[str]
    load_into: Callable  # load_into(keras_model) fills the weights in place
    # Model parameters the pretrained network was built with, where they differ from the
    # model's defaults; create_model builds with them (explicit overrides still win).
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self):
        return len(self.tag_names)


_REGISTRY = {}  # model id -> {weights name -> PretrainedWeights}


def register_weights(entry):
    _REGISTRY.setdefault(entry.model_id, {})[entry.name] = entry
    return entry


def _load_entries():
    # Importing a source module registers its weights; it fetches nothing until one is loaded.
    from pretrained import musicnn  # noqa: F401


def available(model_id=None):
    """{model id: [weights names]} or, for one model id, its weights names."""
    _load_entries()
    if model_id is None:
        return {m: sorted(w) for m, w in _REGISTRY.items()}
    return sorted(_REGISTRY.get(model_id, {}))


def resolve_weights(model_id, weights):
    names = available(model_id)
    if weights not in names:
        offer = f"available: {', '.join(names)}" if names else "this model has no pretrained weights"
        raise UnknownWeightsError(f"No pretrained weights {weights!r} for {model_id!r} ({offer}).")
    return _REGISTRY[model_id][weights]
