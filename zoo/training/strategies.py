"""tf.distribute strategies by name (``STRATEGIES``), and which worker writes the outputs.

``multi_worker`` reads TF_CONFIG; every worker runs the same command and only the chief
(worker 0) writes. It must be created before TensorFlow runs its first op in the process.
"""
import tensorflow as tf

__all__ = ["STRATEGIES", "make_strategy", "is_chief", "worker_label"]

STRATEGIES = {
    "default": tf.distribute.get_strategy,
    "mirrored": tf.distribute.MirroredStrategy,  # every GPU of this machine (or its CPU)
    "multi_worker": tf.distribute.MultiWorkerMirroredStrategy,
}


def make_strategy(name):
    if name is None:
        name = "default"
    if isinstance(name, tf.distribute.Strategy):
        return name
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]()


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
