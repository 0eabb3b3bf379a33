"""The zoo's one trainer: any model, any dataset reader, a recipe, resumable, distributed, on
every Keras backend.

One custom loop serves every backend and strategy; the step itself is the backend's
(``zoo.training.backend_steps.TRAIN_STEPS``): on TensorFlow it runs under ``strategy.run`` of any
tf.distribute strategy (Keras 3 ``fit`` fails under MultiWorkerMirroredStrategy; docs/training.md,
"Distributed training"), on JAX as one jitted stateless function, on PyTorch through
autograd. The evaluation (``zoo.training.evaluation``) runs on each worker's own copy of the
weights, so every worker takes the same decisions (learning rate, early stop, best).
"""
import hashlib
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import keras
import numpy as np

from zoo.models import registry
from zoo.models.builder import input_samples
from zoo.models.model_files import MODEL_FILE
from zoo.training import evaluation
from zoo.training.backend_steps import make_train_steps
from zoo.training.freezing import FREEZE_MODES, freeze
from zoo.training.optimizers import make_optimizer
from zoo.training.recipes import resolve_recipe
from zoo.training.run_directory import RunDirectory
from zoo.training.strategies import is_chief, make_strategy, worker_label

__all__ = ["TrainingResult", "train", "weights_fingerprint"]


@dataclass
class TrainingResult:
    model: object  # keras.Model with the best weights by validation loss
    metrics: dict  # test split: roc_auc, pr_auc (macro), per group, loss
    per_tag: object  # pandas.DataFrame, or None for a run finished earlier
    history: list  # one dict per epoch
    out_dir: str
    dataset: object = None  # the TaggingDataset it trained on
    resumed_from_epoch: int = 0
    already_finished: bool = False


def weights_fingerprint(model):
    """sha256 of every weight, in order: equal fingerprints mean identical models."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()[:16]


def _say(message, chief=True):
    if chief:
        print(message, flush=True)


def _open(dataset, seed, data_root, skip_bad_files, progress):
    from zoo.datasets import open_dataset, parse_dataset
    from zoo.datasets.tagging_dataset import TaggingDataset

    if isinstance(dataset, TaggingDataset):
        return dataset, {"kind": "object", "name": dataset.name}
    if isinstance(dataset, str):
        spec = parse_dataset(dataset, seed=seed, data_root=data_root)
    elif isinstance(dataset, Mapping) and "kind" in dataset:
        spec = dict(dataset)
    else:
        raise ValueError(f"dataset must be a name (gm, gm:TRAIN,VALID,TEST, mtat:PATH, manifest:PATH.csv, "
                         f"soft:PATH.csv), a spec dict from zoo.datasets.parse_dataset or a TaggingDataset; "
                         f"got {dataset!r} ({type(dataset).__name__})")
    return open_dataset(spec, progress=progress, skip_bad_files=skip_bad_files), spec


def _build_model(model_id, dataset, recipe, weights, freeze_mode, model_options):
    from zoo.models.builder import create_model

    model = create_model(model_id, weights=weights, num_classes=len(dataset.tags), tag_names=list(dataset.tags),
                     input_seconds=recipe.input_seconds, sample_rate=dataset.sample_rate, **model_options)
    frozen = freeze(model, freeze_mode)
    return model, frozen


def _recalibrate_batch_norm(model, forward_step, iterator, batches):
    """Re-estimate every trainable BN's moving statistics as the plain mean over ``batches``.

    The mean of the batches' statistics, as torch.optim.swa_utils.update_bn's cumulative
    average gives; dropout is off meanwhile. Frozen BNs are left alone. Each forward pass runs
    with momentum 0 (the moving statistics become that batch's) and the mean is taken here:
    a compiled forward step bakes the momentum in at its first trace, so changing it between
    calls (momentum k/(k+1)) left TensorFlow with the last batch's statistics alone.
    """
    norms = [layer for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    statistics = [variable for norm in norms for variable in (norm.moving_mean, norm.moving_variance)]
    momenta, rates = [n.momentum for n in norms], [d.rate for d in dropouts]
    for dropout in dropouts:
        dropout.rate = 0.0
    for norm in norms:
        norm.momentum = 0.0
    try:
        totals = [np.zeros(variable.shape, np.float64) for variable in statistics]
        for _ in range(batches):
            forward_step(iterator)
            for total, variable in zip(totals, statistics):
                total += keras.ops.convert_to_numpy(variable.value)
        for variable, total in zip(statistics, totals):
            variable.assign((total / batches).astype(variable.dtype))
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        for dropout, rate in zip(dropouts, rates):
            dropout.rate = rate


def _train_batches(steps, dataset, global_batch, patch_samples, seed):
    return steps.batches(dataset, "train", global_batch, clip_samples=patch_samples, shuffle=True, seed=seed,
                         repeat=True, drop_remainder=True)


class _Progress:
    """A Keras progress bar on a terminal, one line per epoch otherwise."""

    def __init__(self, steps, epoch, epochs, enabled, interactive):
        self.bar = keras.utils.Progbar(steps, stateful_metrics=["loss"]) if enabled and interactive else None
        if self.bar is not None:
            print(f"Epoch {epoch}/{epochs}", flush=True)

    def step(self, index, loss):
        if self.bar is not None:
            self.bar.update(index, [("loss", loss)])


def _time_left(history, epochs):
    """'; about 12 min left' from the mean epoch so far ('' after the last epoch)."""
    left = epochs - history[-1]["epoch"]
    if left <= 0:
        return ""
    seconds = left * float(np.mean([row["seconds"] + row.get("checkpoint_seconds", 0.0) for row in history]))
    return f"; about {seconds / 60:.0f} min left" if seconds >= 90 else f"; about {seconds:.0f} s left"


def _epoch_line(row, epochs, improved, history):
    best = "  [best]" if improved else ""
    return (f"epoch {row['epoch']}/{epochs}: loss {row['loss']:.4f}  val_loss {row['val_loss']:.4f}  "
            f"val_roc_auc {row['val_roc_auc']:.4f}  lr {row['learning_rate']:.3g}  {row['seconds']:.0f} s{best}"
            f"{_time_left(history, epochs)}")


class _LoopState:
    """What the loop must remember across a kill: written into every checkpoint."""

    def __init__(self, state=None):
        state = state or {}
        self.epoch = state.get("epoch", 0)  # finished epochs
        self.best_val_loss = state.get("best_val_loss", math.inf)
        self.best_epoch = state.get("best_epoch", 0)
        self.since_best = state.get("since_best", 0)
        self.plateau_count = state.get("plateau_count", 0)
        self.learning_rate = state.get("learning_rate")
        self.phase = state.get("phase", 0)
        self.stopped_early = state.get("stopped_early", False)
        self.history = state.get("history", [])

    def as_dict(self):
        return dict(vars(self))


def _writer(run, chief):
    """TensorBoard's event writer (TensorFlow's, whatever the backend), None where TensorFlow is absent."""
    if not chief:
        return None
    try:
        import tensorflow as tf
    except ImportError:
        return None
    return tf.summary.create_file_writer(run.file("tensorboard"))


def _log_scalars(writer, row):
    if writer is None:
        return
    import tensorflow as tf

    with writer.as_default(step=row["epoch"]):
        for key in ("loss", "val_loss", "val_roc_auc", "val_pr_auc", "learning_rate"):
            tf.summary.scalar(key, row[key])
    writer.flush()


def train(model, dataset, *, out_dir, recipe="default", epochs=None, batch_size=None, learning_rate=None,
          weights=None, freeze=None, strategy=None, seed=0, input_seconds=None, mixed_precision=False,
          skip_bad_files=False, data_root=None, verbose=True, **model_options):
    """Train (or fine-tune) zoo model ``model`` on ``dataset``; resume a killed run in ``out_dir``.

    Args:
        model: model id or alias (``zoo.list_models()``).
        dataset: ``"gm"``, ``"mtat:PATH"``, ``"manifest:PATH.csv"`` or a ``TaggingDataset``.
        out_dir: where model.keras, history.csv, metrics.json, per_tag.csv and checkpoints go.
        recipe: ``zoo.training.RECIPES`` name; epochs, batch_size, input_seconds override it, and
            learning_rate scales its phases' rates so that the first starts there.
        weights: pretrained set ("mtt", "msd"): every layer but the head, a new head for the tags.
        freeze: None, "frontend" or "backbone" (see ``zoo.training.freezing``).
        strategy: None or a name of ``zoo.training.strategies.STRATEGIES`` for Keras' backend
            (TensorFlow: "default", "mirrored", "multi_worker" or a tf.distribute.Strategy; JAX:
            "default", "data_parallel"; PyTorch: "default").
        seed: weights, data order and crops (and the manifest's split when it has none).
        mixed_precision: float16 compute on GPUs (the log-mel input stage stays float32); TensorFlow only.
        skip_bad_files: leave out a manifest's missing or undecodable files instead of failing.
        **model_options: model parameters (``zoo.load`` overrides).

    Returns a ``TrainingResult``. Rerunning a finished ``out_dir`` trains nothing.
    """
    recipe = resolve_recipe(recipe, epochs=epochs, batch_size=batch_size, input_seconds=input_seconds,
                            learning_rate=learning_rate)
    model_id = registry.resolve(model).model_id
    if freeze not in FREEZE_MODES:
        raise ValueError(f"unknown freeze mode {freeze!r}; known: frontend, backbone, none")
    if weights is not None:
        from zoo.weights import resolve_weights

        resolve_weights(model_id, weights)
    if mixed_precision and keras.config.backend() != "tensorflow":
        raise ValueError(f"mixed_precision=True trains on the TensorFlow backend only (its loss-scaled step); "
                         f"this process runs {keras.config.backend()}")
    distribution = make_strategy(strategy)  # before TensorFlow's first op (multi-worker needs that)
    chief = is_chief(distribution)
    run = RunDirectory(out_dir, writable=chief)
    data, spec = _open(dataset, seed, data_root, skip_bad_files, progress=verbose and chief and sys.stderr.isatty())
    # zoo.load's own length checks, before anything is written to out_dir.
    patch_samples = input_samples(model_id, recipe.input_seconds, data.sample_rate, **model_options)
    settings = {"model": model_id, "dataset": spec, "tags": list(data.tags), "weights": weights, "freeze": freeze,
                "seed": seed, "model_options": model_options,
                **{f"recipe.{k}": v for k, v in asdict(recipe).items() if k != "summary"}}
    run.claim(settings)
    skipped = data.info.get("skipped_files", 0)
    if skipped:
        _say(f"skipped {skipped} bad file(s) of the manifest; training on {data.info.get('files')}", chief)
    if run.finished():
        return _finished_run(run, chief, data)
    return _Trainer(run, data, recipe, distribution, chief, verbose, mixed_precision, patch_samples).fit(
        model_id, weights, freeze, seed, model_options)


def _finished_run(run, chief, data):
    import pandas as pd

    metrics = run.metrics()
    _say(f"{run.path} already holds a finished run (test ROC-AUC {metrics['roc_auc']:.4f}, "
         f"PR-AUC {metrics['pr_auc']:.4f}); nothing to train. Use another --out to train again.", chief)
    model = keras.models.load_model(run.file(MODEL_FILE))
    history = pd.read_csv(run.file("history.csv")).to_dict("records")
    per_tag = pd.read_csv(run.file("per_tag.csv"))
    return TrainingResult(model, metrics, per_tag, history, run.path, data, already_finished=True)


class _Trainer:
    def __init__(self, run, data, recipe, strategy, chief, verbose, mixed_precision, patch_samples):
        self.run, self.data, self.recipe, self.strategy = run, data, recipe, strategy
        self.chief, self.verbose, self.mixed_precision = chief, verbose, mixed_precision
        self.patch_samples = patch_samples
        self.interactive = sys.stdout.isatty()

    def _say(self, message):
        _say(message, self.chief and self.verbose)

    def fit(self, model_id, weights, freeze_mode, seed, model_options):
        keras.utils.set_random_seed(seed)
        if self.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            return self._fit(model_id, weights, freeze_mode, seed, model_options)
        finally:
            keras.mixed_precision.set_global_policy("float32")

    def _float32_copy(self, model):
        """The model to save: with mixed precision, a float32 twin holding the same weights.

        The weights are float32 either way; a float32 model runs at full speed and precision
        anywhere (CPU inference, TFLite/ONNX export), where float16 compute is slow or lossy.
        The twin is built once per run and refilled at every save.
        """
        if not self.mixed_precision:
            return model
        if self._float32_twin is None:
            policy = keras.mixed_precision.global_policy()
            keras.mixed_precision.set_global_policy("float32")
            try:
                self._float32_twin = self.build_model()[0]
            finally:
                keras.mixed_precision.set_global_policy(policy)
        self._float32_twin.set_weights(model.get_weights())
        return self._float32_twin

    def _fit(self, model_id, weights, freeze_mode, seed, model_options):
        recipe, strategy, run = self.recipe, self.strategy, self.run
        self.build_model = lambda: _build_model(model_id, self.data, recipe, weights, None, model_options)
        self._float32_twin = None
        with strategy.scope():
            model, frozen = _build_model(model_id, self.data, recipe, weights, freeze_mode, model_options)
        state, best_weights, optimizer_values = self._restore(model)
        global_batch = recipe.batch_size
        train_clips = len(self.data.split("train"))
        steps = max(1, train_clips // global_batch)
        self._say(f"training {model_id} on {self.data.name}: {len(self.data.tags)} tags, "
                  f"{train_clips} training clips, {steps} steps of {global_batch} per epoch, "
                  f"recipe {recipe.name}, {strategy.num_replicas_in_sync} replica(s)"
                  + (f", {frozen:,} weights frozen ({freeze_mode})" if frozen else "")
                  + (f"; resuming after epoch {state.epoch}" if state.epoch else ""))
        train_steps = make_train_steps(model, recipe, global_batch, strategy)
        # A resumed run draws other crops than the first epochs did, not the same ones again.
        batches = _train_batches(train_steps, self.data, global_batch, self.patch_samples, seed * 100003 + state.epoch)
        writer = _writer(run, self.chief)
        resumed_from = state.epoch
        optimizer, phase_index = None, None
        while state.epoch < recipe.epochs and not state.stopped_early:
            index, phase = recipe.phase_at(state.epoch, recipe.epochs)
            if index != phase_index:
                optimizer, best_weights = self._enter_phase(model, index, phase, state, best_weights, optimizer_values)
                train_steps.start_phase(optimizer)
                optimizer_values, phase_index = None, index
            optimizer.learning_rate.assign(state.learning_rate)
            best_weights = self._run_epoch(model, optimizer, train_steps, batches, steps, state, best_weights, writer)
        if best_weights is not None:
            model.set_weights(best_weights)
        return self._finish(model, state, resumed_from)

    def _restore(self, model):
        folder = self.run.latest_checkpoint()
        if folder is None:
            return _LoopState(), None, None
        checkpoint = RunDirectory.load_checkpoint(folder, model)
        state = _LoopState(checkpoint.state)
        self.run.write_history(state.history)  # drop rows of an epoch that was cut short
        return state, checkpoint.best_weights, checkpoint.optimizer_values

    def _enter_phase(self, model, index, phase, state, best_weights, optimizer_values):
        if index != state.phase or state.learning_rate is None:
            state.phase, state.learning_rate, state.plateau_count = index, phase.learning_rate, 0
            if phase.reload_best and best_weights is not None:
                model.set_weights(best_weights)
                self._say(f"phase {index + 1}: {phase.optimizer} from the best weights (epoch {state.best_epoch})")
        with self.strategy.scope():
            optimizer = make_optimizer(phase, self.mixed_precision)
            optimizer.build(model.trainable_variables)
        if optimizer_values is not None:
            for variable, value in zip(optimizer.variables, optimizer_values):
                variable.assign(value)
        return optimizer, best_weights

    def _run_epoch(self, model, optimizer, train_steps, batches, steps, state, best_weights, writer):
        recipe = self.recipe
        epoch = state.epoch + 1
        start = time.perf_counter()
        progress = _Progress(steps, epoch, recipe.epochs, self.verbose and self.chief, self.interactive)
        losses = []
        train_steps.start_epoch()
        for index in range(steps):
            losses.append(train_steps.train(batches))
            progress.step(index + 1, losses[-1])
        train_steps.end_of_steps()
        if recipe.recalibrate_bn_batches:
            _recalibrate_batch_norm(model, train_steps.forward, batches, recipe.recalibrate_bn_batches)
        train_steps.sync_statistics()
        steps_done = time.perf_counter()
        validation = evaluation.evaluate(model, self.data, "valid", self.patch_samples)
        validated = time.perf_counter()
        row = {"epoch": epoch, "loss": float(np.mean(losses)), "val_loss": validation.loss,
               "val_roc_auc": validation.metrics["roc_auc"], "val_pr_auc": validation.metrics["pr_auc"],
               "learning_rate": float(state.learning_rate), "phase": state.phase + 1,
               "seconds": validated - start, "steps_seconds": steps_done - start,
               "validation_seconds": validated - steps_done,
               **{f"val_{name}": value for name, value in validation.agreement.items()}}
        improved = validation.loss < state.best_val_loss
        best_weights = self._update_state(model, state, row, improved, best_weights)
        self.run.save_checkpoint(epoch, model, best_weights, optimizer, state.as_dict())
        _log_scalars(writer, row)
        if improved:
            self.run.save_model(self._float32_copy(model))
        # What saving cost, known only now: in history.csv, and in the next epoch's checkpoint.
        row["checkpoint_seconds"] = time.perf_counter() - validated
        self.run.write_history(state.history)
        self._say(_epoch_line(row, recipe.epochs, improved, state.history) if not self.interactive
                  else f"  val_loss {row['val_loss']:.4f}  val_roc_auc {row['val_roc_auc']:.4f}"
                       + ("  [best]" if improved else "") + _time_left(state.history, recipe.epochs))
        return best_weights

    def _update_state(self, model, state, row, improved, best_weights):
        recipe = self.recipe
        state.epoch, state.history = row["epoch"], state.history + [row]
        if improved:
            state.best_val_loss, state.best_epoch, state.since_best = row["val_loss"], row["epoch"], 0
            best_weights = [np.array(w) for w in model.get_weights()]
        else:
            state.since_best += 1
            state.plateau_count += 1
        if recipe.plateau_patience and state.plateau_count >= recipe.plateau_patience:
            state.learning_rate *= recipe.plateau_factor
            state.plateau_count = 0
            self._say(f"no better validation loss for {recipe.plateau_patience} epochs: "
                      f"learning rate -> {state.learning_rate:.3g}")
        if recipe.early_stopping_patience and state.since_best >= recipe.early_stopping_patience:
            state.stopped_early = True
            self._say(f"early stop: no better validation loss for {state.since_best} epochs")
        return best_weights

    def _finish(self, model, state, resumed_from):
        run = self.run
        test = evaluation.evaluate(model, self.data, "test", self.patch_samples)
        metrics = {**test.metrics, "loss": test.loss, "best_epoch": state.best_epoch, "epochs_trained": state.epoch,
                   "stopped_early": state.stopped_early, "clips": int(len(test.labels))}
        for layer in model.layers:  # the saved model is a plain one, ready for further fine-tuning
            layer.trainable = True
        run.save_model(self._float32_copy(model))
        run.write_results(metrics, test.per_tag)
        fingerprint = weights_fingerprint(model)
        who = worker_label(self.strategy)
        _say(f"test ROC-AUC {metrics['roc_auc']:.4f}  PR-AUC {metrics['pr_auc']:.4f} "
             f"(best epoch {state.best_epoch} of {state.epoch}); weights {fingerprint}"
             + (f" ({who})" if who else "") + (f"; outputs in {run.path}" if self.chief else ""),
             self.verbose)
        return TrainingResult(model, metrics, test.per_tag, state.history, run.path, self.data,
                              resumed_from_epoch=resumed_from)
