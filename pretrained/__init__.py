"""Pretrained weights for zoo models, entered in the zoo's weights registry (``zoo.weights``).

musicnn 0.1.0's checkpoints (``pretrained.musicnn``): "mtt" and "msd" weights for
``musicnn-vertical-horizontal`` and ``dense-small-rectangular``. setup.py declares
``pretrained.musicnn:weights_entries`` in the entry-point group ``audio_zoo.weights``; the zoo
reads it at its first weights lookup (``zoo.list_weights()`` shows the table).
``python -m pretrained convert`` fetches and converts them ahead of time.

The names below are the registry's, kept here for code written against earlier releases.
"""
from zoo.weights import UnknownWeightsError, WeightsEntry, available, register_weights, resolve_weights

PretrainedWeights = WeightsEntry  # its name before the registry moved into the zoo

__all__ = ["PretrainedWeights", "UnknownWeightsError", "WeightsEntry", "available", "register_weights",
           "resolve_weights"]
