"""Pretrained weights for zoo models (filled by the pretrained-weights work)."""

__all__ = ["available", "load_pretrained_weights", "UnknownWeightsError"]

# model id -> {weights name -> loader}
_REGISTRY = {}


class UnknownWeightsError(ValueError):
    pass


def available(model_id=None):
    if model_id is None:
        return {m: sorted(w) for m, w in _REGISTRY.items()}
    return sorted(_REGISTRY.get(model_id, {}))


def load_pretrained_weights(model, model_id, weights):
    names = available(model_id)
    if weights not in names:
        offer = f"available: {', '.join(names)}" if names else "this model has no pretrained weights"
        raise UnknownWeightsError(f"No pretrained weights {weights!r} for {model_id!r} ({offer}).")
    _REGISTRY[model_id][weights](model)
