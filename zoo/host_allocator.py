"""glibc malloc settings under which JAX and PyTorch reuse freed host memory instead of faulting it in anew.

XLA:CPU and PyTorch take every call's large activations from malloc, and glibc serves requests
above its mmap threshold (32 MB at most) with fresh mappings that it unmaps on free, so each call
page-faults its activations in again: musicnn's inference on JAX and PyTorch, and PyTorch's
training, ran up to several times slower for it. With one arena, no mmaps and no trimming, freed
memory stays in the heap for the next call. TensorFlow's allocator keeps its memory already, so it
is left alone (measured: benchmarks/results/backend_speed_history.md).

``import zoo`` changes nothing here: a library must not retune its host program's allocator. The
zoo's command-line tools (zoo-tag, zoo-train, zoo-export, the benchmark and its workers) call
``tune_host_allocator``; a Python user may too, as early as possible:

    >>> import zoo
    >>> zoo.tune_host_allocator()  # True where the backend is JAX or PyTorch on glibc

Settings made while a process runs reach only the threads that have not called malloc yet (a
thread keeps its arena, and arenas other than the main one map every large request afresh): made
before Keras loads they sufficed for JAX, not always for PyTorch. Set at the process' start, as
``GLIBC_TUNABLES`` (``TUNABLES``; ``environment`` gives it to child processes), they reach every
thread. The price is the one the backends' GPU allocators pay: the process keeps its peak heap
until it exits. ``ZOO_HOST_ALLOCATOR=glibc-defaults`` leaves glibc's settings as they are.
"""
import ctypes
import json
import os
import platform
import sys

__all__ = ["OPT_OUT", "TUNABLES", "TUNED_BACKENDS", "environment", "keras_backend", "tune_host_allocator"]

TUNED_BACKENDS = ("jax", "torch")  # where the settings were measured to help
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


def keras_backend():
    """The backend Keras computes on, read without importing Keras where it is not loaded yet:
    ``KERAS_BACKEND``, else keras.json (in ``KERAS_HOME`` or ~/.keras), else TensorFlow."""
    if "keras" in sys.modules and hasattr(sys.modules["keras"], "config"):
        return sys.modules["keras"].config.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as handle:
            return json.load(handle).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def tune_host_allocator(backend=None):
    """Applies the settings to this process, once, where ``backend`` (default: Keras' backend,
    ``keras_backend``) is one of TUNED_BACKENDS, glibc is the C library and the user has not opted
    out. Call it before the backend computes, best before Keras is imported. Returns whether the
    settings are in force."""
    if _applied:
        return True
    backend = keras_backend() if backend is None else backend
    if backend not in TUNED_BACKENDS or _opted_out(os.environ):
        return False
    libc = _glibc()
    if libc is None:
        return False
    if all(libc.mallopt(parameter, setting) == 1 for parameter, setting in _SETTINGS):
        _applied.append(backend)
    return bool(_applied)


def environment(backend, base=None):
    """``base`` (default os.environ) for a child process computing on ``backend``, with TUNABLES
    added to its GLIBC_TUNABLES where the backend is tuned and the user has not opted out."""
    environ = dict(os.environ if base is None else base)
    if backend not in TUNED_BACKENDS or _opted_out(environ) or _glibc() is None:
        return environ
    present = environ.get("GLIBC_TUNABLES", "")
    environ["GLIBC_TUNABLES"] = f"{present}:{TUNABLES}" if present else TUNABLES
    return environ
