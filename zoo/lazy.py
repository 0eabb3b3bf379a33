"""Package attributes imported on first use (PEP 562): a package lists which of its public names
live in heavier modules, and loads such a module only when one of its names is asked for.

    >>> __getattr__, __dir__ = lazy_attributes(__name__, {"train": "zoo.training.trainer"})

Floor 0: imports nothing from zoo.
"""
import importlib
import sys

__all__ = ["lazy_attributes"]


def lazy_attributes(package, homes):
    """``(__getattr__, __dir__)`` for the module named ``package``: a name in ``homes`` (name ->
    the module that defines it) is imported from there when first read; ``dir()`` lists those names
    beside the module's own."""

    def __getattr__(name):  # noqa: N807 - the module-level hook PEP 562 names
        if name in homes:
            return getattr(importlib.import_module(homes[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():  # noqa: N807
        return sorted(set(vars(sys.modules[package])) | set(homes))

    return __getattr__, __dir__
