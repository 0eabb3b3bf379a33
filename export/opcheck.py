"""Check that a SavedModel uses only core TensorFlow ops, which stock TF Serving can run.

The check looks up every op type of the SavedModel (graph and function library) in the op
registry of a fresh Python process that imports TensorFlow alone: ops registered by
tensorflow-io, kapre or this project cannot hide there.
"""
import json
import os
import subprocess
import sys
import tempfile

from tensorflow.core.protobuf import saved_model_pb2

from export.errors import ExportError

__all__ = ["check_core_ops", "ops_unknown_to_core_tensorflow", "saved_model_op_types"]

_SAVED_MODEL_FILE = "saved_model.pb"

# Runs with `python -I` (no user site, no PYTHONPATH, no script directory on sys.path).
_REGISTRY_PROBE = """
import json, sys
import tensorflow as tf
from tensorflow.python.framework import op_def_registry
ops = json.loads(sys.stdin.read())
foreign = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow_io", "kapre", "zoo", "export"))
print(json.dumps({
    "unknown": sorted(op for op in ops if op_def_registry.get(op) is None),
    "foreign_modules": foreign,
}))
"""


def saved_model_op_types(saved_model_dir):
    """Every op type in the SavedModel's meta graphs, including their function libraries."""
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, _SAVED_MODEL_FILE), "rb") as f:
        saved_model.ParseFromString(f.read())
    ops = set()
    for meta_graph in saved_model.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def ops_unknown_to_core_tensorflow(op_types, timeout=300):
    """The op types a process running TensorFlow alone does not know (sorted list)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as empty_dir:  # cwd without this project in it
        result = subprocess.run(
            [sys.executable, "-I", "-c", _REGISTRY_PROBE],
            input=json.dumps(sorted(op_types)),
            capture_output=True,
            text=True,
            cwd=empty_dir,
            env=env,
            timeout=timeout,
        )
    if result.returncode != 0:
        raise ExportError(f"could not start a plain TensorFlow process to check ops:\n{result.stderr[-2000:]}")
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    if answer["foreign_modules"]:
        raise ExportError(f"the op check process imported {answer['foreign_modules']}; it must import TensorFlow alone")
    return answer["unknown"]


def check_core_ops(saved_model_dir):
    """Raise ExportError naming the ops stock TF Serving would not know; return the op types."""
    op_types = saved_model_op_types(saved_model_dir)
    unknown = ops_unknown_to_core_tensorflow(op_types)
    if unknown:
        raise ExportError(
            f"the exported graph uses ops that stock TF Serving does not have: {', '.join(unknown)} "
            "(registered by an extension such as tensorflow-io). Build the model from core ops."
        )
    return op_types
