"""Where tagging's patches are scored: the Keras network (on Keras' backend), ONNX Runtime or TFLite.

``make_runtime(name, patch_model, layers)`` gives a runtime: ``runtime(patches)`` returns
{"scores": tag scores, layer: its outputs for each of ``layers``} (the layers behind the
requested embeddings), and ``runtime.input_kind`` says whether it takes log-mel or waveform
patches. The ONNX and TFLite forms are converted once (zoo.conversion) and
cached in the zoo cache, keyed by the model, its weights and its patch length, and checked
before each use (``zoo.files.cached_file``: a damaged file is converted again); the ONNX form
carries every embedding layer as an output. With a cached ONNX model a tagging process never
imports TensorFlow, whose import alone costs seconds (``benchmarks.tagging``): ONNX Runtime is
the default for that reason, and it runs the patch model fastest too. All agree within 1e-5
(tested).

Reduced precision (benchmarks/results/quantization.md has what each costs and gains):
``onnx-int8`` (ONNX Runtime on a static int8 form of the ONNX conversion, zoo.conversion.onnx_int8),
``keras-bf16`` (the Keras network under Keras' mixed_bfloat16 policy: on TensorFlow, oneDNN's
bfloat16 kernels where the CPU has AVX512_BF16 or AMX; nothing to convert), ``tflite-int8`` and
``tflite-fp16`` (edge forms; tag scores only). The int8 forms are calibrated on
``zoo.tagging.calibration.Calibration`` (rendered GM clips by default; the user's own files with
``CalibratedRuntime``), whose ``key`` is part of the cached file's name.

    >>> from zoo.tagging.runtimes import CalibratedRuntime
    >>> zoo.tag("song.mp3", runtime="onnx-int8")
    >>> zoo.tag("song.mp3", runtime=CalibratedRuntime("onnx-int8", files=("~/Music/jazz",)))
"""
import os
from dataclasses import dataclass

import numpy as np

from zoo.cache import cache_dir
from zoo.files import cached_file
from zoo.models.registry import LOG_MEL, WAVEFORM
from zoo.tagging.network import SCORES, analysis_network, embedding_layers, inference_network

__all__ = ["CalibratedRuntime", "DEFAULT_RUNTIME", "KERAS_RUNTIME", "RUNTIMES", "RUNTIME_ALIASES",
           "RuntimeUnavailable", "make_runtime", "runtime_name"]

# Bump when a converted file's contents would change (2: embedding outputs, pool first; 3: the
# back-ends' pooled features as outputs too, and 'same' padding made explicit where ONNX erred;
# 4: the back-end's input map, ``frames``, too).
CONVERSION_VERSION = 4


class RuntimeUnavailable(ValueError):  # noqa: N818 - public name, kept for callers that catch it
    """The runtime's package is not installed or cannot convert the model."""


def _cached(patch_model, suffix, convert, check, needs_tensorflow=True):
    """The cached conversion, converted (``convert()``: its bytes) when missing or damaged."""
    path = cache_dir("runtimes") / f"{patch_model.cache_name}-v{CONVERSION_VERSION}{suffix}"

    def make(temporary):
        if needs_tensorflow:
            _check_converter_backend(suffix)
        content = convert()
        with open(temporary, "wb") as handle:
            handle.write(content)

    kind = suffix.rpartition(".")[2].upper()
    what = f"{kind} conversion" if suffix.startswith(".") else f"{kind} {suffix[1:].split('-')[0]} conversion"
    return cached_file(path, make, what=what, check=check)


def _check_converter_backend(suffix):
    """The converters (tf2onnx, the TFLite converter) read TensorFlow graphs: a conversion not yet
    cached needs Keras on TensorFlow. Once cached, the file serves every backend."""
    import keras

    if keras.config.backend() != "tensorflow":
        raise RuntimeUnavailable(
            f"the {suffix.rpartition('.')[2]} conversion of this model is not cached yet, and converting needs Keras "
            "on TensorFlow "
            f"(this process runs {keras.config.backend()}): run the same tagging once with KERAS_BACKEND=tensorflow, "
            "or use runtime keras")


def _quiet_tensorflow():
    # TF's Python-side warnings (e.g. tf.function retracing) would clutter a CLI's output.
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)


class _Keras:
    """The Keras network itself on Keras' backend (TensorFlow, JAX or PyTorch), compiled once."""

    gives_embeddings = True

    def __init__(self, patch_model, layers):
        from zoo.models.inference_call import inference_function

        self._call = inference_function(analysis_network(patch_model, layers))
        self.input_kind = patch_model.input_kind()

    def __call__(self, patches):
        return self._call(patches)


def _onnx_model(patch_model):
    from zoo.conversion.to_onnx import convert_to_onnx

    _quiet_tensorflow()
    network = analysis_network(patch_model, tuple(embedding_layers(patch_model.model_id)))
    return convert_to_onnx(network).SerializeToString()


class _Onnx:
    """ONNX Runtime on the cached conversion; needs no TensorFlow once it is cached."""

    gives_embeddings = True

    def __init__(self, patch_model, layers):
        try:
            import onnxruntime
        except ImportError:
            raise RuntimeUnavailable("the onnx runtime needs onnxruntime: pip install onnxruntime") from None
        self.path = path = str(self._converted(patch_model, onnxruntime))  # the file it reads
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        # Idle threads sleep instead of spinning: the decoding thread needs those cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        patch_input = self._session.get_inputs()[0]
        self._input, self._outputs = patch_input.name, [SCORES, *layers]
        self.input_kind = LOG_MEL if len(patch_input.shape) == 3 else WAVEFORM  # [batch, frames, mels]

    def _converted(self, patch_model, onnxruntime):
        # The previous release's conversions (no sidecar) are kept if ONNX Runtime opens them.
        return _cached(patch_model, ".onnx", lambda: _onnx_model(patch_model), check=_onnx_check(onnxruntime))

    def __call__(self, patches):
        values = self._session.run(self._outputs, {self._input: np.asarray(patches, dtype=np.float32)})
        return dict(zip(self._outputs, values))


def _onnx_check(onnxruntime):
    return lambda path: onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


def _calibration_patches(patch_model, calibration):
    return calibration.patches(patch_model.samples, patch_model.input_kind())


class _OnnxInt8(_Onnx):
    """ONNX Runtime on the static int8 form of the ONNX conversion (zoo.conversion.onnx_int8),
    calibrated on ``calibration``; converting it needs the ONNX conversion only (no TensorFlow
    once that is cached)."""

    def __init__(self, patch_model, layers, calibration):
        self._calibration = calibration
        super().__init__(patch_model, layers)

    def _converted(self, patch_model, onnxruntime):
        from zoo.conversion.onnx_int8 import WEIGHT_BITS, quantize_onnx_int8

        fp32 = super()._converted(patch_model, onnxruntime)

        def convert():
            with open(fp32, "rb") as handle:
                return quantize_onnx_int8(handle.read(), _calibration_patches(patch_model, self._calibration))

        return _cached(patch_model, f"-int8-w{WEIGHT_BITS}-{self._calibration.key}.onnx", convert,
                       check=_onnx_check(onnxruntime), needs_tensorflow=False)


class _Tflite:
    """TFLite (XNNPACK) on the cached conversion of the tagger; tag scores only.

    One interpreter per power-of-two batch size, inputs zero-padded up to it: resizing and
    re-allocating a single interpreter for every new batch size cost more than the inference on
    a folder of short files."""

    gives_embeddings = False
    suffix, quantization = ".tflite", None

    def __init__(self, patch_model, layers, calibration=None):
        import tensorflow as tf

        from zoo.conversion.to_tflite import convert_to_tflite

        def convert():
            patches = None if self.quantization != "int8" else _calibration_patches(patch_model, calibration)
            return convert_to_tflite(inference_network(patch_model), quantization=self.quantization,
                                     calibration_inputs=patches)

        suffix = self.suffix.replace("{key}", calibration.key if calibration else "")
        self.path = str(_cached(patch_model, suffix, convert,  # the file it reads
                                check=lambda p: tf.lite.Interpreter(model_path=p).allocate_tensors()))
        self._interpreters = {}
        self._tf = tf
        self.input_kind = patch_model.input_kind()

    def _interpreter(self, batch, shape):
        if batch not in self._interpreters:
            # The TF wheel's interpreter applies XNNPACK by default.
            interpreter = self._tf.lite.Interpreter(model_path=self.path, num_threads=os.cpu_count())
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
        return {SCORES: interpreter.get_tensor(output_index)[:count].copy()}


class _TfliteFp16(_Tflite):
    """TFLite with float16 weights: half the file; XNNPACK on x86 widens them to float32 at load."""

    suffix, quantization = "-fp16.tflite", "fp16"


class _TfliteInt8(_Tflite):
    """TFLite, weights and activations int8 (float in and out), calibrated on ``calibration``."""

    suffix, quantization = "-int8-{key}.tflite", "int8"


def _bfloat16_twin(network):
    """A clone of ``network`` whose layers compute in bfloat16 (Keras' mixed_bfloat16 policy:
    float32 variables, cast as they are read), same weights."""
    import keras

    def clone(layer):
        if isinstance(layer, keras.layers.InputLayer):
            return layer
        return type(layer).from_config({**layer.get_config(), "dtype": "mixed_bfloat16"})

    twin = keras.models.clone_model(network, clone_function=clone)
    twin.set_weights(network.get_weights())
    return twin


class _KerasBfloat16:
    """The Keras network computing in bfloat16 (mixed_bfloat16: weights kept float32); outputs
    cast back to float32. Nothing is converted or cached: the twin is built from the weights."""

    gives_embeddings = True

    def __init__(self, patch_model, layers):
        from zoo.models.inference_call import inference_function

        self._call = inference_function(_bfloat16_twin(analysis_network(patch_model, layers)))
        self.input_kind = patch_model.input_kind()

    def __call__(self, patches):
        return {name: np.asarray(value, dtype=np.float32) for name, value in self._call(patches).items()}


RUNTIMES = {"keras": _Keras, "onnx": _Onnx, "tflite": _Tflite, "onnx-int8": _OnnxInt8, "keras-bf16": _KerasBfloat16,
            "tflite-int8": _TfliteInt8, "tflite-fp16": _TfliteFp16}
CALIBRATED = ("onnx-int8", "tflite-int8")  # runtimes that take a calibration (zoo.tagging.calibration)
RUNTIME_ALIASES = {"tf": "keras"}  # "tf" named the Keras runtime when TensorFlow was its only backend
KERAS_RUNTIME = "keras"  # zoo.tag and friends: the Keras model itself
DEFAULT_RUNTIME = "onnx"  # of zoo-tag and zoo.beam


def runtime_name(name):
    """The runtime ``name`` stands for (aliases resolved); ValueError naming the known ones."""
    name = RUNTIME_ALIASES.get(name, name)
    if name not in RUNTIMES:
        known = ", ".join([*RUNTIMES, *(f"{alias} (= {target})" for alias, target in RUNTIME_ALIASES.items())])
        raise ValueError(f"unknown runtime {name!r}; known: {known}")
    return name


@dataclass(frozen=True)
class CalibratedRuntime:
    """An int8 runtime (``CALIBRATED``) calibrated on the user's own audio instead of GM clips:
    pass it where a runtime name goes (``zoo.tag(..., runtime=CalibratedRuntime("onnx-int8",
    files=("~/Music",)))``). ``files``, ``clips``, ``seed``: as ``Calibration``'s."""

    name: str
    files: tuple = ()
    clips: int = None
    seed: int = None

    def calibration(self):
        from zoo.tagging.calibration import Calibration

        options = {k: v for k, v in (("clips", self.clips), ("seed", self.seed)) if v is not None}
        return Calibration(files=self.files, **options)


def make_runtime(name, patch_model, layers=()):
    """The runtime ``name`` (a ``RUNTIMES`` name, or a ``CalibratedRuntime``) scoring
    ``patch_model``'s patches (and ``layers``' outputs)."""
    calibration = None
    if isinstance(name, CalibratedRuntime):
        calibration, name = name.calibration(), runtime_name(name.name)
        if name not in CALIBRATED:
            raise ValueError(f"runtime {name!r} takes no calibration; calibrated runtimes: {', '.join(CALIBRATED)}")
    name = runtime_name(name)
    if layers and not RUNTIMES[name].gives_embeddings:  # refused before a conversion is paid for
        raise RuntimeUnavailable(f"runtime {name!r} computes the tag scores only, not the layers "
                                 f"{', '.join(layers)} (use runtime onnx, onnx-int8, keras or keras-bf16)")
    if name in CALIBRATED:
        from zoo.tagging.calibration import Calibration

        options = {"calibration": calibration or Calibration()}
    else:
        options = {}
    try:
        return RUNTIMES[name](patch_model, tuple(layers), **options)
    except ImportError as error:
        raise RuntimeUnavailable(f"runtime {name!r} is not available: {error}") from None
