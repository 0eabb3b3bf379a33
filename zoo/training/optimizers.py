"""Optimizers by name, built from a recipe ``Phase`` (``OPTIMIZERS[phase.optimizer](phase)``)."""
import keras

__all__ = ["OPTIMIZERS", "make_optimizer"]


def _adam(phase):
    return keras.optimizers.Adam(phase.learning_rate, weight_decay=phase.weight_decay)


def _sgd(phase):
    return keras.optimizers.SGD(phase.learning_rate, momentum=phase.momentum, nesterov=phase.nesterov,
                                weight_decay=phase.weight_decay)


OPTIMIZERS = {"adam": _adam, "sgd": _sgd}


def make_optimizer(phase, mixed_precision=False):
    """The phase's optimizer; with mixed precision wrapped in dynamic loss scaling."""
    if phase.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {phase.optimizer!r}; known: {', '.join(sorted(OPTIMIZERS))}")
    optimizer = OPTIMIZERS[phase.optimizer](phase)
    return keras.optimizers.LossScaleOptimizer(optimizer) if mixed_precision else optimizer
