"""ONNX form of a zoo Keras model with tf2onnx (a model with dict outputs keeps their names).

Findings (tf2onnx 1.17.0, onnx 1.17.0): waveform models convert as they are. Spectrogram
models do not: tf2onnx converts TensorFlow's RFFT only when a ComplexAbs consumes it
directly ("Current implementation of RFFT or FFT only allows ComplexAbs as consumer"), and
ONNX has no complex tensors for kapre's complex Transpose and the Real / Imag of
ComplexPower ("Unsupported ops: Counter({'Real': 1, 'Imag': 1})"); tf2onnx still writes a
model, which onnxruntime then rejects ("No Op registered for RFFT"). With the real-valued
STFT twin (zoo.conversion.real_valued_stft, the default here) they convert to plain Conv / Mul / Add.
"""
import contextlib
import logging
import re

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from zoo.conversion.errors import ConversionError
from zoo.conversion.explicit_padding import explicit_padding_twin
from zoo.conversion.real_valued_stft import real_valued_twin

__all__ = ["DEFAULT_OPSET", "INPUT_NAME", "OUTPUT_NAME", "convert_to_onnx"]

DEFAULT_OPSET = 17
INPUT_NAME = "waveform"
OUTPUT_NAME = "scores"


class _ErrorLog(logging.Handler):
    """Collects what tf2onnx logs as errors: it reports unsupported ops there, not by raising."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.messages = []

    def emit(self, record):
        line = re.sub(r" \(fct=.*\)$", "", record.getMessage().strip().splitlines()[0])
        if record.exc_info and record.exc_info[1] is not None:
            line = f"{line}: {record.exc_info[1]}"  # why the node failed, e.g. RFFT's consumer
        if line not in self.messages:
            self.messages.append(line)


@contextlib.contextmanager
def _tf2onnx_errors_collected():
    """Route tf2onnx's log records to a collector instead of stderr, for one clear error."""
    logger = logging.getLogger("tf2onnx")
    collector = _ErrorLog()
    saved = logger.handlers[:], logger.propagate
    logger.handlers, logger.propagate = [collector], False
    try:
        yield collector.messages
    finally:
        logger.handlers, logger.propagate = saved


def _unknown_onnx_ops(onnx_model):
    import onnx

    return sorted({node.op_type for node in onnx_model.graph.node
                   if node.domain in ("", "ai.onnx") and not onnx.defs.has(node.op_type)})


def _output_names(model):
    """ONNX output names: a dict-output model's keys (sorted, tf.nest's order), else "scores"."""
    return sorted(model.output) if isinstance(model.output, dict) else [OUTPUT_NAME]


def _frozen_graph(model):
    """GraphDef of model's forward pass, variables and captured constants folded in, with its
    input and output tensor names.

    tf2onnx.convert.from_function would take kapre's captured filterbank constant for a
    second graph input; freezing first makes it a Const.
    """
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name=INPUT_NAME)
    function = tf.function(lambda waveform: model(waveform, training=False), input_signature=[spec])
    frozen = convert_variables_to_constants_v2(function.get_concrete_function())
    return frozen.graph.as_graph_def(), frozen.inputs[0].name, [tensor.name for tensor in frozen.outputs]


def _convert(model, opset):
    import tf2onnx

    graph_def, input_tensor, output_tensors = _frozen_graph(model)
    renames = {input_tensor: INPUT_NAME, **dict(zip(output_tensors, _output_names(model)))}
    with _tf2onnx_errors_collected() as logged_errors:
        try:
            onnx_model, _ = tf2onnx.convert.from_graph_def(
                graph_def,
                input_names=[input_tensor],
                output_names=output_tensors,
                opset=opset,
                tensors_to_rename=renames,
            )
        except Exception as error:  # tf2onnx raises assorted internal errors
            raise ConversionError(f"tf2onnx could not convert {model.name!r}: {error}") from None
    return onnx_model, logged_errors


def convert_to_onnx(model, *, opset=DEFAULT_OPSET, real_valued_stft=True):
    """An onnx.ModelProto of a zoo Keras model; ConversionError when ONNX cannot express it."""
    import onnx

    source = explicit_padding_twin(real_valued_twin(model) if real_valued_stft else model)
    onnx_model, logged_errors = _convert(source, opset)
    unknown = _unknown_onnx_ops(onnx_model)
    if unknown or logged_errors:
        details = "; ".join(logged_errors) or "no further detail from tf2onnx"
        raise ConversionError(
            f"ONNX cannot express {model.name!r}: ops left unconverted: {', '.join(unknown) or 'none'} "
            f"(tf2onnx: {details})"
        )
    onnx.checker.check_model(onnx_model)
    return onnx_model
