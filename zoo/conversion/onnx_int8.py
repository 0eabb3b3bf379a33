"""Static int8 quantization of an ONNX model (ONNX Runtime's quantization tool), with the choices
measured on the zoo's taggers (benchmarks/results/quantization.md):

- Only the convolutions and matrix products are quantized (QDQ, uint8 activations, int8 weights
  per output channel). Quantizing everything ONNX Runtime can (the batch norms' Mul / Add, the
  concatenations, pools, the sigmoid) moved musicnn MTT's scores on real music by up to 0.63 and
  kept 79% of its top-5 tags; convolutions and products alone: 0.08 and 95% (exploration with
  144 GM calibration patches, 2026-12-06).
- Activation ranges from the 99.999th percentile of a histogram (``percentile``) rather than the
  extremes (``minmax``): 98% top-5 agreement instead of 96% there; ``entropy`` gave what
  ``minmax`` gave, at five times the calibration time.
- A convolution or product with fewer than ``MIN_INT8_DEPTH`` weights per output (input channels x
  kernel taps) stays float32: ONNX Runtime's int8 kernel lowers it to a GEMM too shallow to gain
  from int8, around quantization steps that cost more than they save. musicnn's one-channel
  temporal filters (32-128 taps) ran 4.4-4.7x slower in int8 than in float32, its 266- and
  469-tap timbral filters 2.8-3.1x faster (benchmarks/results/quantization_profile.md). A node
  named with a ``keep_float`` substring stays float32 too (the exports' in-graph log-mel: a power
  spectrogram's range is far beyond 8 bits).
- Weights on 7 bits (ONNX Runtime's ``reduce_range``, ``WEIGHT_BITS``): on an x86 CPU without VNNI
  (AVX2 only) the uint8 x int8 kernel adds pairs of products in 16 bits, which saturate with 8-bit
  weights. There, musicnn MTT's int8 penultimate embedding correlated 0.985 with float32's, and
  0.997 with 7-bit weights (two-clip GM calibration, AMD EPYC with AVX2 and no VNNI, 2026-12-07).
  One form for every CPU: a cached conversion does not depend on the machine that made it.

    >>> import numpy as np, onnx
    >>> from zoo.conversion.onnx_int8 import quantize_onnx_int8
    >>> fp32 = onnx.load("musicnn.onnx").SerializeToString()
    >>> int8 = quantize_onnx_int8(fp32, np.load("calibration_patches.npy"))   # bytes of the int8 model
"""
import contextlib
import io
import logging
import os
import tempfile

import numpy as np

from zoo.conversion.errors import ConversionError

__all__ = ["CALIBRATION_METHODS", "DEFAULT_METHOD", "MIN_INT8_DEPTH", "QUANTIZED_OPS", "WEIGHT_BITS", "float_nodes",
           "quantize_onnx_int8"]

QUANTIZED_OPS = ("Conv", "MatMul", "Gemm")
WEIGHT_BITS = 7  # 7 (ONNX Runtime's reduce_range, see above) or 8; part of the cached conversion's name
MIN_INT8_DEPTH = 256  # weights per output below which a Conv / MatMul stays float32 (measured above)
CALIBRATION_METHODS = ("percentile", "minmax", "entropy")
DEFAULT_METHOD = "percentile"
CALIBRATION_BATCH = 8


def _depth(node, initializers):
    """Weights per output of a Conv ([out, in / group, *kernel]) or MatMul / Gemm ([in, out]); None
    when the weight is not a constant."""
    weight = initializers.get(node.input[1]) if len(node.input) > 1 else None
    if weight is None:
        return None
    dims = list(weight.dims)
    if node.op_type == "Conv":
        return int(np.prod(dims[1:]))
    return int(dims[0]) if len(dims) == 2 else None


def float_nodes(onnx_model, *, min_depth=MIN_INT8_DEPTH, keep_float=()):
    """Names of the Conv / MatMul / Gemm nodes that stay float32: too shallow (``min_depth``), with
    a non-constant weight, or whose name or output's name has one of the ``keep_float`` substrings."""
    initializers = {tensor.name: tensor for tensor in onnx_model.graph.initializer}
    kept = []
    for node in onnx_model.graph.node:
        if node.op_type not in QUANTIZED_OPS:
            continue
        depth = _depth(node, initializers)
        names = (node.name, *node.output)  # tf2onnx renames some nodes (Conv__12); their outputs keep the layer's
        if depth is None or depth < min_depth or any(part in name for part in keep_float for name in names):
            kept.append(node.name)
    return kept


class _Batches:
    """onnxruntime's CalibrationDataReader protocol: one feed per batch."""

    def __init__(self, input_name, batches):
        self._feeds = iter([{input_name: np.asarray(batch, np.float32)} for batch in batches])

    def get_next(self):
        return next(self._feeds, None)


def _batches(inputs):
    if isinstance(inputs, list):  # inputs of different shapes (whole clips): one batch each
        return inputs
    inputs = np.asarray(inputs, np.float32)
    return [inputs[i:i + CALIBRATION_BATCH] for i in range(0, len(inputs), CALIBRATION_BATCH)]


@contextlib.contextmanager
def _quiet():
    """The tool prints its progress to stdout (zoo-tag's output) and logs advice as warnings."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def quantize_onnx_int8(onnx_bytes, calibration_inputs, *, method=DEFAULT_METHOD, per_channel=True,
                       min_depth=MIN_INT8_DEPTH, keep_float=()):
    """The int8 (QDQ) form, as bytes, of the float32 ONNX model ``onnx_bytes``.

    Args:
        calibration_inputs: array of inputs for the model's first input, e.g. [patches, frames, mels]
            log-mel patches (or a list of same-shaped arrays, one batch each); they set the
            activations' ranges.
        method: "percentile" (default), "minmax" or "entropy" (``CALIBRATION_METHODS``).
        per_channel: one weight scale per output channel (else one per tensor).
        min_depth: Conv / MatMul nodes with fewer weights per output stay float32.
        keep_float: substrings of node names that stay float32 (e.g. an input stage's layer names).
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    methods = {"percentile": CalibrationMethod.Percentile, "minmax": CalibrationMethod.MinMax,
               "entropy": CalibrationMethod.Entropy}
    if method not in methods:
        raise ValueError(f"unknown calibration method {method!r}; known: {', '.join(CALIBRATION_METHODS)}")
    batches = _batches(calibration_inputs)
    if not batches:
        raise ValueError("int8 quantization needs calibration inputs; got none")
    try:
        model = onnx.load_from_string(onnx_bytes)
    except Exception as error:  # protobuf's DecodeError and friends
        raise ConversionError(f"int8 quantization failed: not an ONNX model ({type(error).__name__})") from None
    kept = float_nodes(model, min_depth=min_depth, keep_float=keep_float)
    input_name = model.graph.input[0].name
    with tempfile.TemporaryDirectory(prefix="zoo-int8-") as scratch:
        source, target = os.path.join(scratch, "fp32.onnx"), os.path.join(scratch, "int8.onnx")
        with open(source, "wb") as handle:
            handle.write(onnx_bytes)
        try:
            with _quiet():
                quantize_static(source, target, _Batches(input_name, batches), quant_format=QuantFormat.QDQ,
                                per_channel=per_channel, activation_type=QuantType.QUInt8,
                                weight_type=QuantType.QInt8, reduce_range=WEIGHT_BITS == 7,
                                calibrate_method=methods[method],
                                op_types_to_quantize=list(QUANTIZED_OPS), nodes_to_exclude=kept)
        except Exception as error:  # the tool raises assorted errors from deep inside
            raise ConversionError(f"int8 quantization failed: {' '.join(str(error).split())[:300]}") from None
        with open(target, "rb") as handle:
            return handle.read()
