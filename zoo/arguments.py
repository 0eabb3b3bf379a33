"""The checks of the public calls' numeric arguments, one wording for each kind of value.

A bool is never a count or a length (Python counts ``True`` as the int 1): every check rejects
it. NumPy integers and floats pass as the Python numbers they stand for. Each check returns
the value it was given and raises ``error`` (ValueError unless the caller names its own, e.g.
``AudioError``) with the message "NAME must be ..., got VALUE".

Floor 0: imports nothing from zoo.
"""
import math
import numbers

__all__ = ["is_integer", "is_number", "non_negative_int", "positive_int", "positive_number"]


def is_integer(value):
    """An int or NumPy integer, and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value):
    """An int, float or NumPy real number, and not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _complaint(name, kind, value, *, meaning=None, or_none=False):
    return (f"{name} must be {kind}" + (f" ({meaning})" if meaning else "") + (" or None" if or_none else "")
            + f", got {value!r}")


def positive_int(value, name, *, meaning=None, or_none=False, error=ValueError):
    """``value``, an integer >= 1 (or None where ``or_none``); else
    ``error("NAME must be a positive integer[ (MEANING)][ or None], got VALUE")``."""
    if value is None and or_none:
        return value
    if not is_integer(value) or value < 1:
        raise error(_complaint(name, "a positive integer", value, meaning=meaning, or_none=or_none))
    return value


def non_negative_int(value, name, *, meaning=None, error=ValueError):
    """``value``, an integer >= 0; else ``error("NAME must be a non-negative integer, got VALUE")``."""
    if not is_integer(value) or value < 0:
        raise error(_complaint(name, "a non-negative integer", value, meaning=meaning))
    return value


def positive_number(value, name, *, unit=None, or_none=False, error=ValueError):
    """``value``, a finite number > 0 (or None where ``or_none``); else
    ``error("NAME must be a positive number[ of UNIT][ or None], got VALUE")``."""
    if value is None and or_none:
        return value
    if not is_number(value) or not math.isfinite(value) or not value > 0:
        kind = "a positive number" + (f" of {unit}" if unit else "")
        raise error(_complaint(name, kind, value, or_none=or_none))
    return value
