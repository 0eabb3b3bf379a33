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
from zoo.lazy import lazy_attributes

__all__ = ["RECIPES", "Recipe", "TrainingResult", "resolve_recipe", "train", "weights_fingerprint"]

# Imported on first use: the trainer loads Keras, and ``zoo-train`` must first set its process up
# (TensorFlow's log level, the host allocator) before anything loads it.
_HOMES = {"RECIPES": "zoo.training.recipes", "Recipe": "zoo.training.recipes", "resolve_recipe": "zoo.training.recipes",
          "TrainingResult": "zoo.training.trainer", "train": "zoo.training.trainer",
          "weights_fingerprint": "zoo.training.trainer"}
__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
