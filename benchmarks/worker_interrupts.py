"""Ctrl-C in a benchmark's worker process: leave at once with 130, quietly.

The CLI reports the interruption and keeps finished models; a worker writes its row atomically
at its very end, so leaving mid-way leaves nothing half-written.
"""
import os
import signal
import sys

__all__ = ["leave_quietly_on_ctrl_c"]

INTERRUPTED_EXIT_CODE = 130


def _leave(signum, frame):
    # os._exit, not sys.exit: an exception raised while Python runs a garbage-collector callback
    # (JAX registers one, and TensorFlow imports JAX wherever it is installed) is printed with a
    # traceback and swallowed, and the worker would go on running.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(INTERRUPTED_EXIT_CODE)


def leave_quietly_on_ctrl_c():
    """Ctrl-C reaches the whole process group, maybe while TensorFlow is still importing."""
    signal.signal(signal.SIGINT, _leave)
