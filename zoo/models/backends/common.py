"""Pieces shared by the back-ends."""
from keras import layers

from zoo.models import blocks

__all__ = ["penultimate_dense", "static_time_steps"]


def penultimate_dense(x, units, dropout, name):
    """BN -> dropout -> Dense(ReLU) -> BN: musicnn's penultimate block (models.py `backend`).

    Every variable-length back-end ends with it, so they differ only in how they
    aggregate time.
    """
    x = blocks.BatchNormalization(name=f"{name}_bn_in")(x)
    x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    x = layers.Dense(units, activation="relu", name=f"{name}_dense")(x)
    return blocks.BatchNormalization(name=f"{name}_bn_out")(x)


def static_time_steps(features, back_end):
    """The fixed number of time steps a fixed-length back-end is built for."""
    steps = features.shape[1]
    if steps is None:
        raise ValueError(
            f"Back-end {back_end!r} is fixed-length: build it with a number for input_seconds "
            "(input_seconds=None makes only variable-length back-ends)."
        )
    return steps
