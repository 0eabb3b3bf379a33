"""NumPy batches of a dataset split from the input pipeline this machine has, by name (``PIPELINES``).

``tf.data`` (``pipeline.make_dataset``) wherever TensorFlow is installed, as keras-hub does on every
backend; ``numpy`` (``numpy_pipeline``) where it is not (JAX or PyTorch alone). The TensorFlow train
step reads tf.data directly (``zoo.training.backend_steps``); evaluation and the JAX and PyTorch
steps read the NumPy batches from here.
"""
import importlib.util

__all__ = ["PIPELINES", "default_pipeline", "numpy_batches"]


def _tf_data(dataset, split, batch_size, **options):
    from zoo.datasets.pipeline import make_dataset

    return make_dataset(dataset, split, batch_size, **options).as_numpy_iterator()


def _numpy(dataset, split, batch_size, **options):
    from zoo.datasets.numpy_pipeline import numpy_batches as batches

    return batches(dataset, split, batch_size, **options)


PIPELINES = {"tf.data": _tf_data, "numpy": _numpy}


def _tensorflow_installed():
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):  # ValueError: blocked in sys.modules (tensorflow = None)
        return False


def default_pipeline():
    return "tf.data" if _tensorflow_installed() else "numpy"


def numpy_batches(dataset, split, batch_size, pipeline=None, **options):
    """(waveforms, labels) NumPy batches of ``split``; options as ``pipeline.make_dataset``'s."""
    name = pipeline or default_pipeline()
    if name not in PIPELINES:
        raise ValueError(f"unknown input pipeline {name!r}; known: {', '.join(PIPELINES)}")
    return PIPELINES[name](dataset, split, batch_size, **options)
