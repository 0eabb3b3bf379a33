"""Training and fine-tuning zoo models: ``zoo.train`` and the ``zoo-train`` command.

- ``trainer``: the one training loop (``train``), resumable, under any tf.distribute strategy.
- ``recipes``: the field's recipes as data (``RECIPES``: default, musicnn, won2020).
- ``evaluation``: the evaluation protocol (non-overlapping patches averaged per clip).
- ``metrics``: per-tag and macro ROC-AUC / PR-AUC.
- ``freezing``, ``optimizers``, ``strategies``: tables of freeze modes, optimizers, strategies.
- ``run_directory``: the --out folder, its atomic outputs and checkpoints.
- ``cli``: ``zoo-train`` / ``python -m zoo.training``.

May import: ``zoo.datasets``, ``zoo.audio``, ``zoo.conversion``, ``zoo.models`` and the floors
below them; not ``zoo.tagging``, its sibling.
"""
from zoo.training.recipes import RECIPES, Recipe, resolve_recipe
from zoo.training.trainer import TrainingResult, train, weights_fingerprint

__all__ = ["RECIPES", "Recipe", "TrainingResult", "resolve_recipe", "train", "weights_fingerprint"]
