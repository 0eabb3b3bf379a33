"""Training recipes of the field, as data: ``RECIPES[name]`` is a ``Recipe``.

Sources (compared in docs/training.md, "Recipes"):
- ``musicnn``: jordipons/musicnn-training (train.py, config_file.py).
- ``won2020``: Won et al. 2020, minzwon/sota-music-tagging-models (solver.py).
- ``default``: a short run for comparisons on small sets (the benchmark's).

Every recipe trains on one random crop of ``input_seconds`` per clip per epoch with binary
cross-entropy and evaluates on non-overlapping crops averaged per clip.
"""
import dataclasses
from dataclasses import dataclass
from typing import Optional

from zoo.arguments import positive_int, positive_number

__all__ = ["Phase", "Recipe", "RECIPES", "resolve_recipe"]


@dataclass(frozen=True)
class Phase:
    """A stretch of training with one optimizer, ending at ``until`` x the run's epochs."""

    optimizer: str  # key of zoo.training.optimizers.OPTIMIZERS
    learning_rate: float
    until: float = 1.0
    weight_decay: Optional[float] = None
    momentum: float = 0.0
    nesterov: bool = False
    reload_best: bool = False  # start the phase from the best weights so far (Won et al.)


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    epochs: int
    batch_size: int
    phases: tuple
    input_seconds: float = 3.0
    # L2 penalty l2 * sum(||kernel||^2) / 2 over every kernel, as tf.nn.l2_loss in musicnn-training.
    l2: float = 0.0
    # Halve (plateau_factor) the learning rate once `plateau_patience` epochs have not improved the
    # best validation loss, counted since the last change (musicnn-training's k_patience).
    plateau_patience: Optional[int] = None
    plateau_factor: float = 0.5
    # Stop after this many epochs in a row without a new best validation loss.
    early_stopping_patience: Optional[int] = None
    # Re-estimate batch-norm statistics over this many training batches before each validation:
    # after a few dozen steps, momentum-0.99 moving averages still hold half their initial values.
    recalibrate_bn_batches: int = 0

    def phase_at(self, epoch, epochs):
        """(index, Phase) that trains 0-based ``epoch`` of a run of ``epochs``."""
        for index, phase in enumerate(self.phases):
            if epoch < round(phase.until * epochs):
                return index, phase
        return len(self.phases) - 1, self.phases[-1]


_WON_TOTAL = 140  # Adam for 80 epochs, then SGD 1e-3, 1e-4, 1e-5 for 20 each (solver.py)

RECIPES = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            name="default",
            summary="short comparison run: Adam 1e-3, batch 16, 8 epochs, BN statistics re-estimated",
            epochs=8,
            batch_size=16,
            phases=(Phase("adam", 1e-3),),
            recalibrate_bn_batches=16,
        ),
        Recipe(
            name="musicnn",
            summary="musicnn-training: Adam 1e-3, batch 32, L2 1e-5 on kernels, lr x0.5 after 75 "
                    "non-improving epochs, best by validation loss, up to 600 epochs",
            epochs=600,
            batch_size=32,
            phases=(Phase("adam", 1e-3),),
            l2=1e-5,
            plateau_patience=75,
            plateau_factor=0.5,
            # Ours: musicnn-training runs all its epochs and keeps the best; we stop after two of its
            # halving periods without a new best.
            early_stopping_patience=150,
        ),
        Recipe(
            name="won2020",
            summary="Won et al. 2020: Adam 1e-4 (wd 1e-4) for 80/140 of the epochs, then from the best "
                    "weights SGD Nesterov 0.9 (wd 1e-4) at 1e-3, 1e-4, 1e-5",
            epochs=_WON_TOTAL,
            batch_size=16,
            phases=(
                Phase("adam", 1e-4, until=80 / _WON_TOTAL, weight_decay=1e-4),
                Phase("sgd", 1e-3, until=100 / _WON_TOTAL, weight_decay=1e-4, momentum=0.9, nesterov=True,
                      reload_best=True),
                Phase("sgd", 1e-4, until=120 / _WON_TOTAL, weight_decay=1e-4, momentum=0.9, nesterov=True),
                Phase("sgd", 1e-5, until=1.0, weight_decay=1e-4, momentum=0.9, nesterov=True),
            ),
        ),
    )
}


def resolve_recipe(name, learning_rate=None, **overrides):
    """RECIPES[name] with the non-None ``overrides`` (epochs, batch_size, input_seconds, ...);
    ``learning_rate`` scales every phase's rate so that the first phase starts at it.

        >>> resolve_recipe("default", learning_rate=1e-4).phases[0].learning_rate
        0.0001
    """
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(sorted(RECIPES))}")
    fields = {f.name for f in dataclasses.fields(Recipe)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"recipes have no field(s) {', '.join(unknown)}; fields: {', '.join(sorted(fields))}")
    recipe = dataclasses.replace(RECIPES[name], **{k: v for k, v in overrides.items() if v is not None})
    positive_int(recipe.epochs, "epochs")
    positive_int(recipe.batch_size, "batch_size")
    positive_number(recipe.input_seconds, "input_seconds", unit="seconds")
    if learning_rate is not None:
        positive_number(learning_rate, "learning_rate")
        factor = learning_rate / recipe.phases[0].learning_rate
        recipe = dataclasses.replace(recipe, phases=tuple(
            dataclasses.replace(phase, learning_rate=phase.learning_rate * factor) for phase in recipe.phases))
    return recipe
