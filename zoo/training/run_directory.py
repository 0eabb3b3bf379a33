"""A training run's ``--out`` folder: outputs, and the checkpoint a killed run resumes from.

Layout:
    run.json            the settings; a rerun with other settings is refused
    history.csv         one row per finished epoch (rewritten from the checkpoint, atomically)
    model.keras         the best weights by validation loss (refreshed at each new best)
    metrics.json        the test evaluation, written last: its presence marks the run finished
    per_tag.csv         test ROC-AUC / PR-AUC per tag
    tensorboard/        scalars per epoch
    checkpoints/epoch-NNNN/  weights, best weights, optimizer slots, loop state of epoch NNNN
    checkpoints/latest  the name of the newest complete checkpoint folder

A checkpoint folder is written under a temporary name and renamed when complete; ``latest``
is replaced atomically after it. A kill at any moment leaves either the old or the new
checkpoint current, so a resumed run never trains an epoch twice.
"""
import json
import os
import shutil
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zoo.files import atomic_path, write_csv_atomically
from zoo.models.model_files import MODEL_FILE, RUN_SETTINGS
from zoo.weights import load_weights_file

__all__ = ["Checkpoint", "RunDirectory", "SettingsMismatchError"]

WEIGHTS, BEST_WEIGHTS, OPTIMIZER, STATE = "weights.weights.h5", "best.weights.h5", "optimizer.npz", "state.json"


class SettingsMismatchError(ValueError):
    """--out holds a run made with other settings."""


def _write_json(path, value):
    with atomic_path(path) as temporary:
        with open(temporary, "w") as handle:
            json.dump(value, handle, indent=2, default=float)


def _read_json(path):
    with open(path) as handle:
        return json.load(handle)


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint folder holds besides the model's weights."""

    state: dict  # the training loop's state, as the trainer saved it
    best_weights: list  # arrays of the best weights so far by validation loss, or None
    optimizer_values: list  # the optimizer's variables' values, in order


class RunDirectory:
    """``writable`` is False on the workers of a cluster that are not the chief: they read only."""

    def __init__(self, path, writable=True):
        self.path = os.path.abspath(os.fspath(path))
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise ValueError(f"out_dir {os.fspath(path)} is an existing file; a run folder is a directory (a new one, "
                             "or a run to resume)")
        self.writable = writable

    def file(self, name):
        return os.path.join(self.path, name)

    @property
    def checkpoints(self):
        return self.file("checkpoints")

    # --- settings and completion ---------------------------------------------------------
    def finished(self):
        return os.path.isfile(self.file("metrics.json"))

    def metrics(self):
        return _read_json(self.file("metrics.json"))

    def claim(self, settings):
        """Record ``settings`` for a new run, or check they equal the recorded ones."""
        recorded_path = self.file(RUN_SETTINGS)
        if os.path.isfile(recorded_path):
            recorded = _read_json(recorded_path)
            current = json.loads(json.dumps(settings, default=float))
            differ = sorted(k for k in set(recorded) | set(current) if recorded.get(k) != current.get(k))
            if differ:
                details = "; ".join(f"{k}: {recorded.get(k)!r} there, {current.get(k)!r} now" for k in differ)
                raise SettingsMismatchError(
                    f"{self.path} holds a run with other settings ({details}); choose another --out"
                )
            return
        if self.writable:
            os.makedirs(self.path, exist_ok=True)
            _write_json(recorded_path, settings)

    # --- checkpoints -----------------------------------------------------------------------
    def latest_checkpoint(self):
        pointer = os.path.join(self.checkpoints, "latest")
        if not os.path.isfile(pointer):
            return None
        with open(pointer) as handle:
            folder = os.path.join(self.checkpoints, handle.read().strip())
        return folder if os.path.isfile(os.path.join(folder, STATE)) else None

    def save_checkpoint(self, epoch, model, best_weights, optimizer, state):
        if not self.writable:
            return
        name = f"epoch-{epoch:04d}"
        final = os.path.join(self.checkpoints, name)
        temporary = os.path.join(self.checkpoints, f".{name}.partial-{os.getpid()}")
        shutil.rmtree(temporary, ignore_errors=True)
        os.makedirs(temporary)
        model.save_weights(os.path.join(temporary, WEIGHTS))
        _save_weight_list(os.path.join(temporary, BEST_WEIGHTS + ".npz"), best_weights)
        _save_weight_list(os.path.join(temporary, OPTIMIZER), [v.numpy() for v in optimizer.variables])
        with open(os.path.join(temporary, STATE), "w") as handle:
            json.dump(state, handle, indent=2, default=float)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(temporary, final)
        with atomic_path(os.path.join(self.checkpoints, "latest")) as pointer:
            with open(pointer, "w") as handle:
                handle.write(name)
        self._remove_checkpoints_except(name)

    def _remove_checkpoints_except(self, keep):
        for entry in os.listdir(self.checkpoints):
            if entry not in (keep, "latest") and not entry.startswith(".latest"):
                shutil.rmtree(os.path.join(self.checkpoints, entry), ignore_errors=True)

    @staticmethod
    def load_checkpoint(folder, model):
        """The ``Checkpoint`` in ``folder``, after filling ``model``'s weights from it."""
        load_weights_file(model, os.path.join(folder, WEIGHTS))
        return Checkpoint(state=_read_json(os.path.join(folder, STATE)),
                          best_weights=_load_weight_list(os.path.join(folder, BEST_WEIGHTS + ".npz")),
                          optimizer_values=_load_weight_list(os.path.join(folder, OPTIMIZER)))

    def trained_seconds(self):
        """Seconds the epochs in history.csv took (with their checkpoints): what a killed run had
        spent before it resumes; 0.0 for a new folder."""
        path = self.file("history.csv")
        if not os.path.isfile(path):
            return 0.0
        history = pd.read_csv(path)
        return float(sum(history[column].sum() for column in ("seconds", "checkpoint_seconds") if column in history))

    # --- outputs ---------------------------------------------------------------------------
    def write_history(self, rows):
        if self.writable:
            write_csv_atomically(pd.DataFrame(rows), self.file("history.csv"))

    def save_model(self, model):
        if self.writable:
            with atomic_path(self.file(MODEL_FILE)) as temporary:
                model.save(temporary + ".keras")
                os.replace(temporary + ".keras", temporary)

    def write_results(self, metrics, per_tag):
        if self.writable:
            write_csv_atomically(per_tag, self.file("per_tag.csv"))
            _write_json(self.file("metrics.json"), metrics)  # last: marks the run finished


def _save_weight_list(path, arrays):
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, *arrays)


def _load_weight_list(path):
    with np.load(path) as stored:
        return [stored[f"arr_{i}"] for i in range(len(stored.files))]
