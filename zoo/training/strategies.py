"""Distribution strategies by backend and name (``STRATEGIES[backend][name]``), and which worker writes.

TensorFlow: tf.distribute's ``default``, ``mirrored`` (every GPU of this machine) and
``multi_worker`` (reads TF_CONFIG; every worker runs the same command and only the chief, worker
0, writes; it must be created before TensorFlow runs its first op in the process). JAX:
``default`` and ``data_parallel`` (keras.distribution.DataParallel over every local device).
PyTorch: ``default``. Off TensorFlow a strategy is a small object with the same three things the
trainer reads: ``scope()``, ``num_replicas_in_sync`` and ``cluster_resolver``.
"""
import contextlib

__all__ = ["STRATEGIES", "STRATEGY_NAMES", "make_strategy", "is_chief", "worker_label"]


class SingleDevice:
    """One process, one device (the backend's default)."""

    num_replicas_in_sync = 1
    cluster_resolver = None
    distribution = None

    def scope(self):
        return contextlib.nullcontext()


class JaxDataParallel(SingleDevice):
    """keras.distribution.DataParallel over every local JAX device: weights replicated, each
    global batch split along its first axis (the batch must divide by the device count)."""

    def __init__(self):
        import keras

        self.distribution = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
        self.num_replicas_in_sync = len(keras.distribution.list_devices())

    def scope(self):
        return self.distribution.scope()


def _tf(name):
    def make():
        import tensorflow as tf

        return {"default": tf.distribute.get_strategy, "mirrored": tf.distribute.MirroredStrategy,
                "multi_worker": tf.distribute.MultiWorkerMirroredStrategy}[name]()

    return make


STRATEGIES = {
    "tensorflow": {name: _tf(name) for name in ("default", "mirrored", "multi_worker")},
    "jax": {"default": SingleDevice, "data_parallel": JaxDataParallel},
    "torch": {"default": SingleDevice},
}
STRATEGY_NAMES = sorted({name for names in STRATEGIES.values() for name in names})  # the CLIs' --strategy


def _is_tf_strategy(value):
    import sys

    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(value, tf.distribute.Strategy)


def make_strategy(name):
    """The strategy ``name`` on Keras' backend; a strategy object is returned as it is."""
    if name is None:
        name = "default"
    if isinstance(name, SingleDevice) or _is_tf_strategy(name):
        return name
    import keras

    backend = keras.config.backend()
    known = STRATEGIES.get(backend, {"default": SingleDevice})
    if name not in known:
        others = sorted(b for b, names in STRATEGIES.items() if name in names)
        where = f" ({name} is for {', '.join(others)})" if others else ""
        raise ValueError(f"unknown strategy {name!r} on the {backend} backend; known: {', '.join(known)}{where}")
    return known[name]()


def _task(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return None, None
    return resolver.task_type, resolver.task_id


def is_chief(strategy):
    """True for a single process, or for worker 0 / the chief of a cluster."""
    task_type, task_id = _task(strategy)
    return task_type is None or task_type == "chief" or (task_type == "worker" and task_id == 0)


def worker_label(strategy):
    task_type, task_id = _task(strategy)
    return "" if task_type is None else f"{task_type} {task_id}"
