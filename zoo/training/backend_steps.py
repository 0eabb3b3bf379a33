"""The train step of each Keras backend, looked up by name (``TRAIN_STEPS[keras.config.backend()]``).

The trainer (``zoo.training.trainer``) is one loop for every backend; what differs is how a step
computes gradients and applies them, and how batches reach it:

- TensorFlow: a GradientTape step under ``strategy.run`` inside a ``tf.function`` that pulls its
  batch from a distributed tf.data iterator (tf.distribute's custom loop: Keras 3's ``fit`` fails
  under MultiWorkerMirroredStrategy; docs/training.md, "Distributed training").
- JAX: ``model.stateless_call`` under ``jax.value_and_grad`` and ``optimizer.stateless_apply``,
  jitted once; the weights live as arrays between steps and go back into the Keras variables at
  the end of each epoch's steps (as Keras' own JAX trainer does), with DataParallel sharding
  each batch over the devices.
- PyTorch: autograd's ``backward`` and ``optimizer.apply`` under ``torch.no_grad``.

Every backend computes the same loss: binary cross-entropy averaged over the global batch, plus
the recipe's L2 term ``l2 * sum(kernel ** 2) / 2`` (``tf.nn.l2_loss``'s convention).
"""
import itertools

import keras
from keras import ops

__all__ = ["TRAIN_STEPS", "make_train_steps"]


def _kernel_flags(variables):
    return [("kernel" in variable.path) for variable in variables]


def _l2_term(values, flags, l2):
    kernels = [ops.sum(ops.square(ops.cast(v, "float32"))) for v, is_kernel in zip(values, flags) if is_kernel]
    return l2 * ops.sum(ops.stack(kernels)) / 2.0 if kernels and l2 else 0.0


def _mean_cross_entropy(labels, scores):
    return ops.mean(keras.losses.binary_crossentropy(labels, ops.cast(scores, "float32")))


class TensorFlowSteps:
    """tf.distribute's custom loop: every strategy, one replica or many, one worker or many."""

    def __init__(self, model, recipe, global_batch, strategy):
        import tensorflow as tf

        self._tf, self.model, self.recipe, self.strategy = tf, model, recipe, strategy
        self.global_batch = global_batch
        self.forward = self._forward_step()
        self.sync_statistics = self._statistics_sync() or (lambda: None)
        self.train = None

    def batches(self, dataset, split, batch_size, **options):
        """The split's batches (``zoo.datasets.pipeline.make_dataset`` options), distributed."""
        from zoo.datasets.pipeline import make_dataset

        return self._distributed(make_dataset(dataset, split, batch_size, **options))

    def in_memory_batches(self, waveforms, labels):
        """One batch, again and again (benchmarks time the step without the input pipeline)."""
        return self._distributed(self._tf.data.Dataset.from_tensors((waveforms, labels)).repeat())

    def _distributed(self, batches):
        tf = self._tf
        options = tf.data.Options()
        # The file list is one tensor, not files to shard: every worker reads all and keeps its share.
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return iter(self.strategy.experimental_distribute_dataset(batches.with_options(options)))

    def start_phase(self, optimizer):
        tf, model, strategy = self._tf, self.model, self.strategy
        trainable = model.trainable_variables
        flags = _kernel_flags(trainable)
        replicas = strategy.num_replicas_in_sync
        global_batch, l2 = self.global_batch, self.recipe.l2

        def replica_step(waveforms, labels):
            with tf.GradientTape() as tape:
                scores = tf.cast(model(waveforms, training=True), tf.float32)
                per_example = keras.losses.binary_crossentropy(labels, scores)
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
                loss += _l2_term(trainable, flags, l2) / replicas
                scaled = optimizer.scale_loss(loss)
            gradients = tape.gradient(scaled, trainable)
            optimizer.apply_gradients(zip(gradients, trainable))
            return loss

        @tf.function
        def step(iterator):
            waveforms, labels = next(iterator)
            losses = strategy.run(replica_step, args=(waveforms, labels))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

        self.train = lambda iterator: float(step(iterator))

    def start_epoch(self):
        pass

    def end_of_steps(self):
        pass

    def _forward_step(self):
        """Training-mode forward pass (no weight update): what batch-norm recalibration runs."""
        tf, model, strategy = self._tf, self.model, self.strategy

        @tf.function
        def step(iterator):
            waveforms, _ = next(iterator)
            strategy.run(lambda x: model(x, training=True), args=(waveforms,))

        return step

    def _statistics_sync(self):
        """Averages BN moving statistics over all replicas; None with a single replica.

        Gradients are all-reduced, but every replica updates its own moving statistics from the
        batches it sees, so workers would evaluate (and save) different models without this.
        """
        tf, strategy = self._tf, self.strategy
        statistics = [v for v in self.model.non_trainable_variables
                      if v.path.endswith(("moving_mean", "moving_variance"))]
        if strategy.num_replicas_in_sync == 1 or not statistics:
            return None

        @tf.function
        def sync():
            local = strategy.run(lambda: [tf.identity(v) for v in statistics])
            return [strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None) for value in local]

        def apply():
            for variable, mean in zip(statistics, sync()):
                variable.assign(mean)

        return apply


class _EagerForward:
    """Training-mode forward passes (BN recalibration's), run eagerly on JAX and PyTorch."""

    def batches(self, dataset, split, batch_size, **options):
        """The split's NumPy batches (``zoo.datasets.input_pipelines``: tf.data where TensorFlow is
        installed, else the NumPy pipeline)."""
        from zoo.datasets.input_pipelines import numpy_batches

        return numpy_batches(dataset, split, batch_size, **options)

    def in_memory_batches(self, waveforms, labels):
        return itertools.repeat((waveforms, labels))

    def forward(self, iterator):
        waveforms, _ = next(iterator)
        self.model(self._inputs(waveforms), training=True)

    def _inputs(self, waveforms):
        return waveforms

    def sync_statistics(self):
        pass  # one process: its batch-norm statistics are the model's


class JaxSteps(_EagerForward):
    """A jitted stateless step; the Keras variables are refreshed after each epoch's steps."""

    def __init__(self, model, recipe, global_batch, strategy):
        self.model, self.recipe, self.strategy = model, recipe, strategy
        self.optimizer, self._state, self._step = None, None, None

    def _inputs(self, values):
        distribution = self.strategy.distribution
        if distribution is None:
            return values
        import jax

        return jax.device_put(values, distribution.get_data_layout(values.shape).backend_layout)

    def start_phase(self, optimizer):
        import jax

        model, l2 = self.model, self.recipe.l2
        flags = _kernel_flags(model.trainable_variables)

        def loss_and_state(trainable, non_trainable, waveforms, labels):
            scores, non_trainable = model.stateless_call(trainable, non_trainable, waveforms, training=True)
            return _mean_cross_entropy(labels, scores) + _l2_term(trainable, flags, l2), non_trainable

        gradients = jax.value_and_grad(loss_and_state, has_aux=True)

        def step(state, waveforms, labels):
            trainable, non_trainable, optimizer_values = state
            (loss, non_trainable), grads = gradients(trainable, non_trainable, waveforms, labels)
            trainable, optimizer_values = optimizer.stateless_apply(optimizer_values, grads, trainable)
            return loss, (trainable, non_trainable, optimizer_values)

        self.optimizer, self._step = optimizer, jax.jit(step, donate_argnums=0)

    def start_epoch(self):
        """Reads the Keras variables (the trainer may have set weights or the learning rate)."""
        model = self.model
        self._state = tuple([v.value for v in variables] for variables in
                            (model.trainable_variables, model.non_trainable_variables, self.optimizer.variables))

    def train(self, iterator):
        waveforms, labels = next(iterator)
        loss, self._state = self._step(self._state, self._inputs(waveforms), self._inputs(labels))
        return float(loss)

    def end_of_steps(self):
        model = self.model
        for variables, values in zip((model.trainable_variables, model.non_trainable_variables,
                                      self.optimizer.variables), self._state):
            for variable, value in zip(variables, values):
                variable.assign(value)

    def compiled_step(self, waveforms, labels):
        """The jitted step lowered and compiled for these shapes (its ``memory_analysis()`` is
        the compiler's plan of one step's buffers)."""
        self.start_epoch()
        return self._step.lower(self._state, waveforms, labels).compile()


class TorchSteps(_EagerForward):
    """Autograd's backward and the Keras optimizer's update of the variables in place."""

    def __init__(self, model, recipe, global_batch, strategy):
        self.model, self.recipe, self.strategy = model, recipe, strategy
        self._flags, self._trainable, self.optimizer = None, None, None

    def start_phase(self, optimizer):
        self.optimizer = optimizer
        self._trainable = self.model.trainable_variables
        self._flags = _kernel_flags(self._trainable)

    def start_epoch(self):
        pass

    def train(self, iterator):
        import torch

        waveforms, labels = next(iterator)
        self.model.zero_grad()
        scores = self.model(ops.convert_to_tensor(waveforms), training=True)
        values = [variable.value for variable in self._trainable]
        loss = _mean_cross_entropy(ops.convert_to_tensor(labels), scores) + _l2_term(values, self._flags,
                                                                                      self.recipe.l2)
        loss.backward()
        gradients = [value.grad for value in values]
        with torch.no_grad():
            self.optimizer.apply(gradients, self._trainable)
        return float(loss.detach())

    def end_of_steps(self):
        pass


TRAIN_STEPS = {"tensorflow": TensorFlowSteps, "jax": JaxSteps, "torch": TorchSteps}


def make_train_steps(model, recipe, global_batch, strategy):
    """The train step of Keras' backend for ``model`` (``start_phase(optimizer)`` before training)."""
    backend = keras.config.backend()
    if backend not in TRAIN_STEPS:
        raise ValueError(f"zoo.train has no train step for the {backend} backend; known: {', '.join(TRAIN_STEPS)}")
    return TRAIN_STEPS[backend](model, recipe, global_batch, strategy)
