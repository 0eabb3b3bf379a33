"""glibc malloc settings under which JAX and PyTorch reuse freed host memory instead of faulting it in anew.

XLA:CPU and PyTorch take every call's large activations from malloc, and glibc serves requests above
its mmap threshold (32 MB at most) with fresh mappings that it unmaps on free, so each call
page-faults its activations in again. musicnn (batch 32 of 3 s) faulted 754 MB per inference call on
JAX, and the kernel's share was 0.44-0.69 of the call's 1.5-1.9 CPU-seconds. With one arena, no
mmaps and no trimming, freed memory stays in the heap for the next call: no faults, and in one run of
``benchmarks.backend_speed`` (2-core AMD EPYC, 2026-12-03) JAX's inference went from 930 to 618 ms,
PyTorch's from 2328 to 560 ms and its train step from 7372 to 3275 ms. TensorFlow, whose allocator
keeps its memory already, measured the same either way (402 / 401 ms), so it is left alone.

Settings made while a process runs reach only the threads that have not malloc'd yet (a thread keeps
its arena, and arenas other than the main one map every request over 64 MB afresh). ``import zoo``
makes them before Keras loads where ``KERAS_BACKEND`` names the backend, which sufficed for JAX
(0-1 MB of faults per call in 3 runs of 3; made after Keras' import: 300 MB in 2 of 3), not for
PyTorch (485-895 MB in 3 of 3). Set at the process' start, as ``GLIBC_TUNABLES`` (``TUNABLES``
below; ``environment`` gives it to child processes), they reach every thread: PyTorch's figures
above are from that.

The price is the one the backends' own GPU allocators pay: the process keeps its peak heap until it
exits. ``ZOO_HOST_ALLOCATOR=glibc-defaults`` in the environment leaves glibc's settings as they are.
"""
import ctypes
import os
import platform
import sys

__all__ = ["OPT_OUT", "TUNABLES", "TUNED_BACKENDS", "environment", "tune_before_keras", "tune_for_backend"]

TUNED_BACKENDS = ("jax", "torch")  # where the settings were measured to help (module docstring)
OPT_OUT = ("ZOO_HOST_ALLOCATOR", "glibc-defaults")

# mallopt(3) parameters (malloc.h) and their values here.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -2, -4, -8
_SETTINGS = (
    (_M_ARENA_MAX, 1),  # a thread's own arena maps requests over 64 MB whatever M_MMAP_MAX says
    (_M_MMAP_MAX, 0),  # every request from the heap, which keeps what is freed
    (_M_TRIM_THRESHOLD, -1),  # -1: never hand the heap's top back to the kernel (mallopt(3))
    (_M_TOP_PAD, 256 << 20),  # grow the heap in large steps: fewer brk calls
)

# The same settings as glibc tunables, read when a process starts (glibc >= 2.26).
TUNABLES = ("glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=18446744073709551615:"
            "glibc.malloc.top_pad=268435456")

_applied = []


def _opted_out(environ):
    name, value = OPT_OUT
    return environ.get(name) == value


def _glibc():
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def tune_for_backend(backend):
    """Applies the settings once, for a backend in TUNED_BACKENDS on glibc, unless opted out.
    Returns whether they are in force."""
    if _applied:
        return True
    if backend not in TUNED_BACKENDS or _opted_out(os.environ):
        return False
    libc = _glibc()
    if libc is None:
        return False
    if all(libc.mallopt(parameter, setting) == 1 for parameter, setting in _SETTINGS):
        _applied.append(backend)
    return bool(_applied)


def tune_before_keras():
    """``tune_for_backend`` for the backend ``KERAS_BACKEND`` names, before Keras loads; a backend
    set otherwise (keras.json) is tuned once Keras has loaded, by zoo.models.keras_registration."""
    return tune_for_backend(os.environ.get("KERAS_BACKEND"))


def environment(backend, base=None):
    """``base`` (default os.environ) for a child process computing on ``backend``, with TUNABLES
    added to its GLIBC_TUNABLES where the backend is tuned and the user has not opted out."""
    environ = dict(os.environ if base is None else base)
    if backend not in TUNED_BACKENDS or _opted_out(environ) or _glibc() is None:
        return environ
    present = environ.get("GLIBC_TUNABLES", "")
    environ["GLIBC_TUNABLES"] = f"{present}:{TUNABLES}" if present else TUNABLES
    return environ
