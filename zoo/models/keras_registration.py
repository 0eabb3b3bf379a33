"""The zoo's layers registered with Keras once Keras is loaded, without ``import zoo`` loading it.

``import zoo`` must not import TensorFlow: zoo-tag with the onnx runtime never needs it, and its
import is a large part of a short run's time. Yet ``keras.models.load_model`` must read zoo models
after ``import zoo``, which needs the zoo's custom layers registered. So they are registered at once
when Keras (and, on the TensorFlow backend, TensorFlow) is already imported, else right after the
later of the two finishes importing (each imports the other, in either order), or after kapre's
import when kapre is what imported them. On JAX and PyTorch, kapre's names in a saved config are
given to the keras.ops twins of its layers (``zoo.models.portable_log_mel``), so that a model saved
on TensorFlow loads.
"""
import importlib.abc
import importlib.machinery
import sys

__all__ = ["register_layers", "register_when_keras_loads"]

_NEEDED = ("keras", "tensorflow")  # on the TensorFlow backend the zoo's layers need both
# kapre's layers are registered too, never while kapre is half-imported: `import zoo, kapre`
# imports TensorFlow from inside kapre, and registering at TensorFlow's end then read a
# partially initialised kapre (AttributeError: ... no attribute 'STFT').
_WATCHED = _NEEDED + ("kapre",)


def _register_kapre():
    import kapre
    import keras

    # kapre 0.4.1 does not register its layers with Keras; do it so `.keras` files load.
    for layer in (kapre.STFT, kapre.Magnitude, kapre.ApplyFilterbank):
        keras.saving.get_custom_objects().setdefault(layer.__name__, layer)


def _register_kapre_twins():
    import keras

    from zoo.models.portable_log_mel import KAPRE_NAMES

    for name, layer in KAPRE_NAMES.items():
        keras.saving.get_custom_objects()[name] = layer


# Backend -> how kapre's layers are registered; a backend not listed gets the keras.ops twins.
_KAPRE_REGISTRATION = {"tensorflow": _register_kapre}


def register_layers():
    """Registers every custom layer a zoo model can hold (idempotent)."""
    import keras

    from zoo.kernels import batch_norm, frequency_max, single_channel_conv  # noqa: F401  (decorators register)
    from zoo.models import head, input_stage, length_guard, pooling, portable_log_mel  # noqa: F401

    _KAPRE_REGISTRATION.get(keras.config.backend(), _register_kapre_twins)()


def _keras_loaded():
    register_layers()


def _finished(name):
    module = sys.modules.get(name)
    return module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False)


def _ready(just_executed=None):
    """Keras and TensorFlow are imported and kapre is not half-way through its import
    (``just_executed`` has finished executing, though importlib has not marked it yet)."""
    def done(name):
        return name == just_executed or _finished(name)

    if not done("keras"):
        return False
    if sys.modules["keras"].config.backend() != "tensorflow":
        return True  # JAX and PyTorch need neither TensorFlow nor kapre
    return all(done(name) for name in _NEEDED) and (done("kapre") or "kapre" not in sys.modules)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds keras / tensorflow / kapre as the path finder would, and registers the layers after
    the execution of whichever completes last."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _WATCHED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            if _ready(fullname) and self in sys.meta_path:
                sys.meta_path.remove(self)
                _keras_loaded()

        spec.loader.exec_module = exec_module
        return spec


def register_when_keras_loads():
    if _ready():
        _keras_loaded()
    elif not any(isinstance(finder, _AfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())
