"""Where a tagging model's patches are scored: TensorFlow, TFLite (XNNPACK) or ONNX Runtime.

``make_runtime(name, tagger, cache_name)`` gives a callable: float32 patches -> tag scores. The
TFLite and ONNX forms are converted once (export.to_tflite / export.to_onnx) and cached in the
zoo cache, keyed by the model, its weights and its patch length. Which is fastest depends on
the machine: on the DESIGN.md machine (waveform in, batch 32, 2 threads) TF ran musicnn at 13.6
clips/s, TFLite 28.2, ONNX Runtime 28.5; on the log-mel patch model here (AMD EPYC with AVX-512,
2026-11-27) TF 75, TFLite 65, ONNX Runtime 82 clips/s, and end to end (benchmarks.tagging) TF was
fastest. All agree within 1e-6. Only the tag scores run elsewhere than TF; embeddings other than
the taggram need the TF runtime.
"""
import os

import numpy as np

from zoo.cache import cache_dir
from zoo.datasets.tagging_dataset import atomic_path

__all__ = ["DEFAULT_RUNTIME", "RUNTIMES", "RuntimeUnavailable", "make_runtime"]

CONVERSION_VERSION = 1  # bump when a converted file's contents would change


class RuntimeUnavailable(ValueError):
    """The runtime's package is not installed or cannot convert the model."""


def _cached(cache_name, suffix, convert):
    path = cache_dir("runtimes") / f"{cache_name}-v{CONVERSION_VERSION}{suffix}"
    if not path.exists():
        content = convert()
        with atomic_path(str(path)) as temporary, open(temporary, "wb") as handle:
            handle.write(content)
    return path


class _Tflite:
    """One interpreter per power-of-two batch size, inputs zero-padded up to it: resizing and
    re-allocating a single interpreter for every new batch size cost more than the inference on
    a folder of short files (measured: 4.1 s against TF's 2.6 s for 40 files of 3 s)."""

    def __init__(self, tagger, cache_name):
        import tensorflow as tf

        from export.to_tflite import convert_to_tflite

        self._path = str(_cached(cache_name, ".tflite", lambda: convert_to_tflite(tagger)))
        self._interpreters = {}
        self._tf = tf

    def _interpreter(self, batch, shape):
        if batch not in self._interpreters:
            # The TF wheel's interpreter applies XNNPACK by default.
            interpreter = self._tf.lite.Interpreter(model_path=self._path, num_threads=os.cpu_count())
            index = interpreter.get_input_details()[0]["index"]
            interpreter.resize_tensor_input(index, (batch, *shape))
            interpreter.allocate_tensors()
            self._interpreters[batch] = (interpreter, index, interpreter.get_output_details()[0]["index"])
        return self._interpreters[batch]

    def __call__(self, patches):
        patches = np.ascontiguousarray(patches, dtype=np.float32)
        count = len(patches)
        batch = 1 << max(0, count - 1).bit_length()
        interpreter, input_index, output_index = self._interpreter(batch, patches.shape[1:])
        if batch != count:
            patches = np.concatenate([patches, np.zeros((batch - count, *patches.shape[1:]), np.float32)])
        interpreter.set_tensor(input_index, patches)
        interpreter.invoke()
        return interpreter.get_tensor(output_index)[:count].copy()


class _Onnx:
    def __init__(self, tagger, cache_name):
        try:
            import onnxruntime
        except ImportError:
            raise RuntimeUnavailable("the onnx runtime needs onnxruntime: pip install '.[export]'") from None
        from export.to_onnx import INPUT_NAME, OUTPUT_NAME, convert_to_onnx

        path = _cached(cache_name, ".onnx", lambda: convert_to_onnx(tagger).SerializeToString())
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._names = INPUT_NAME, OUTPUT_NAME

    def __call__(self, patches):
        (scores,) = self._session.run([self._names[1]], {self._names[0]: np.asarray(patches, dtype=np.float32)})
        return scores


# "tf": no conversion; zoo.tagging.Analyser runs its own compiled Keras network (which also
# gives the embeddings).
RUNTIMES = {"tf": None, "tflite": _Tflite, "onnx": _Onnx}
DEFAULT_RUNTIME = "tf"  # fastest end to end in benchmarks.tagging on this machine; no conversion step


def make_runtime(name, tagger, cache_name):
    """The runtime scoring ``tagger``'s patches, or None for "tf" (the Keras model itself)."""
    if name not in RUNTIMES:
        raise ValueError(f"unknown runtime {name!r}; known: {', '.join(RUNTIMES)}")
    if RUNTIMES[name] is None:
        return None
    try:
        return RUNTIMES[name](tagger, cache_name)
    except ImportError as error:
        raise RuntimeUnavailable(f"runtime {name!r} is not available: {error}") from None
