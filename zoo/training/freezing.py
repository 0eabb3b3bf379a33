"""What ``freeze=`` holds still while fine-tuning (``FREEZE_MODES``).

Frozen layers get ``trainable = False``; a frozen Keras 3 BatchNormalization also runs in
inference mode, so its statistics stay the pretrained ones.
"""
__all__ = ["FREEZE_MODES", "HEAD_LAYERS", "freeze"]

HEAD_LAYERS = ("head_dropout", "head_logits", "scores")  # zoo.models: the tagging head


def _front_end(layer):
    return layer.name.startswith(("frontend_", "logmel_"))


def _backbone(layer):
    return layer.name not in HEAD_LAYERS


FREEZE_MODES = {
    None: lambda layer: False,
    "none": lambda layer: False,
    "frontend": _front_end,  # transfer: the front-end's filters (and its BN) fixed
    "backbone": _backbone,  # linear probe: only the new head trains
}


def freeze(model, mode):
    """Freeze the layers ``mode`` selects; returns how many weights became non-trainable."""
    if mode not in FREEZE_MODES:
        raise ValueError(f"unknown freeze mode {mode!r}; known: frontend, backbone, none")
    selects = FREEZE_MODES[mode]
    frozen = 0
    for layer in model.layers:
        if selects(layer) and layer.weights:
            frozen += sum(int(w.numpy().size) for w in layer.trainable_weights)
            layer.trainable = False
    return frozen
