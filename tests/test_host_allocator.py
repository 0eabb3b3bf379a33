"""zoo.host_allocator: ``import zoo`` leaves glibc's malloc alone; ``zoo.tune_host_allocator()`` (which the
zoo's command-line tools call) makes a JAX or PyTorch process reuse the host memory it freed instead of
faulting fresh pages in for every large allocation. Each probe runs in a process of its own: the
settings last for the process' life."""
import os
import platform
import subprocess
import sys

import pytest

from zoo import host_allocator

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")

# MB of pages faulted in by a 256 MB block allocated, filled and freed once already: glibc serves it
# from a fresh mapping each time, unless its freed memory is kept for reuse.
_PROBE = """
import ctypes, resource, sys
if sys.argv[1] != "numpy only":
    import zoo
if sys.argv[1] == "tune":
    print("tuned", zoo.tune_host_allocator())
if sys.argv[1] == "zoo-train":
    import zoo.training.cli  # what the console script imports first
    assert "keras" not in sys.modules  # so the settings come before Keras' threads
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def faulted_mb():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(256 << 20)
    ctypes.memset(block, 1, 256 << 20)
    libc.free(block)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) * resource.getpagesize() / 2**20
faulted_mb()
print(faulted_mb())
"""
_KEPT, _FRESH = 16, 200  # MB: far apart (0-1 against 256 measured)


def _faulted_mb(environ, how="import zoo"):
    run = subprocess.run([sys.executable, "-c", _PROBE, how], env=environ, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return float(run.stdout.strip().splitlines()[-1])


def _environ(**extra):
    environ = {key: value for key, value in os.environ.items()
               if key not in ("GLIBC_TUNABLES", host_allocator.OPT_OUT[0])}
    return {**environ, **extra}


@pytest.mark.parametrize("backend", host_allocator.TUNED_BACKENDS)
def test_import_zoo_alone_leaves_the_allocator_alone(backend):
    assert _faulted_mb(_environ(KERAS_BACKEND=backend)) > _FRESH


@pytest.mark.parametrize("backend", host_allocator.TUNED_BACKENDS)
def test_the_public_call_keeps_freed_memory_on_tuned_backends(backend):
    assert _faulted_mb(_environ(KERAS_BACKEND=backend), how="tune") < _KEPT


@pytest.mark.parametrize("backend", host_allocator.TUNED_BACKENDS)
def test_zoo_train_tunes_its_process_before_keras_loads(backend):
    assert _faulted_mb(_environ(KERAS_BACKEND=backend), how="zoo-train") < _KEPT


def test_tensorflow_and_the_opt_out_keep_glibc_defaults():
    name, value = host_allocator.OPT_OUT
    assert _faulted_mb(_environ(KERAS_BACKEND="tensorflow"), how="tune") > _FRESH
    assert _faulted_mb(_environ(KERAS_BACKEND="jax", **{name: value}), how="tune") > _FRESH


def test_the_backend_is_read_without_importing_keras(tmp_path):
    code = "import sys; from zoo.host_allocator import keras_backend; print(keras_backend(), 'keras' in sys.modules)"
    (tmp_path / "keras.json").write_text('{"backend": "torch"}')
    environ = {key: value for key, value in _environ().items() if key != "KERAS_BACKEND"}
    for extra, expected in (({"KERAS_HOME": str(tmp_path)}, "torch False"), ({"KERAS_BACKEND": "jax"}, "jax False")):
        run = subprocess.run([sys.executable, "-c", code], env={**environ, **extra}, capture_output=True, text=True)
        assert run.stdout.strip() == expected, run.stderr[-2000:]


def test_child_environment_carries_the_tunables():
    tuned = host_allocator.environment("torch", _environ(GLIBC_TUNABLES="glibc.malloc.check=0"))
    assert tuned["GLIBC_TUNABLES"] == "glibc.malloc.check=0:" + host_allocator.TUNABLES
    assert _faulted_mb(tuned, how="numpy only") < _KEPT
    assert "GLIBC_TUNABLES" not in host_allocator.environment("tensorflow", _environ())
    name, value = host_allocator.OPT_OUT
    assert "GLIBC_TUNABLES" not in host_allocator.environment("jax", _environ(**{name: value}))
