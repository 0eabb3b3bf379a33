"""Runs musicnn's ORIGINAL TF1 graph (the checkpoint's ``.meta``) on log-mel patches.

The anchor that the Keras ports are tested and benchmarked against. It imports the saved
graph as data, keeps only what computes ``model/Sigmoid`` (the training ops go), restores the
variables from the checkpoint and feeds ``is_training = False``. No musicnn code is run.
"""
import os

import numpy as np

from pretrained.source import checkpoint_dir

__all__ = ["ReferenceGraph", "batch_norm_epsilons", "batch_norm_inputs", "inference_graph_def"]

INPUT = "model/Placeholder"
OUTPUT = "model/Sigmoid"


def _meta_graph(folder):
    from tensorflow.core.protobuf import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    meta.ParseFromString((folder / ".meta").read_bytes())
    return meta


def inference_graph_def(folder):
    """GraphDef of the checkpoint's inference path: everything ``model/Sigmoid`` needs."""
    import tensorflow as tf

    graph_def = _meta_graph(folder).graph_def
    for node in graph_def.node:
        # Shapes recorded by TF 1.12 need not match what today's shape inference infers.
        node.attr.pop("_output_shapes", None)
    previous = tf.get_logger().level
    tf.get_logger().setLevel("ERROR")  # extract_sub_graph warns that it is deprecated
    try:
        return tf.compat.v1.graph_util.extract_sub_graph(graph_def, [OUTPUT])
    finally:
        tf.get_logger().setLevel(previous)


def _producer(name):
    return name.lstrip("^").split(":")[0]


def _is_normalised_tensor(source, scope):
    # A BN scope's ops read its own ops and variables, is_training, and the tensor it normalises.
    own = source.startswith((f"model/{scope}/", f"{scope}/"))
    return not own and not source.startswith("model/Placeholder")


def batch_norm_inputs(folder):
    """{batch-norm scope: op feeding it} read from the graph, e.g. batch_normalization_1: conv2d/Relu.

    Proves which layer each ``batch_normalization_N`` variable set belongs to.
    """
    nodes = inference_graph_def(folder).node
    inputs = {}
    for node in nodes:
        parts = node.name.split("/")
        if len(parts) < 3 or parts[0] != "model" or not parts[1].startswith("batch_normalization"):
            continue
        scope = parts[1]
        for source in map(_producer, node.input):
            if _is_normalised_tensor(source, scope):
                inputs.setdefault(scope, set()).add(source.removeprefix("model/"))
    return {scope: sorted(sources) for scope, sources in inputs.items()}


def batch_norm_epsilons(folder):
    """Every epsilon the graph's batch normalisations use (fused ops and unfused ones)."""
    epsilons = set()
    for node in inference_graph_def(folder).node:
        if node.op.startswith("FusedBatchNorm"):
            epsilons.add(node.attr["epsilon"].f)
        elif node.name.endswith("batchnorm/add/y"):
            epsilons.update(node.attr["value"].tensor.float_val)
    return epsilons


class ReferenceGraph:
    """The original musicnn graph of one checkpoint, ready to predict tag probabilities.

    >>> graph = ReferenceGraph("MTT_musicnn")
    >>> graph.predict(log_mel_patches)  # [batch, 187, 96] float32 -> [batch, 50]
    """

    def __init__(self, checkpoint, source=None):
        import tensorflow as tf

        folder = checkpoint_dir(checkpoint, source)
        graph_def = inference_graph_def(folder)
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.compat.v1.import_graph_def(graph_def, name="")
            restore = self._restore_ops(graph_def, folder)
        self.session = tf.compat.v1.Session(graph=self.graph)
        self.session.run(restore)
        self._feed_false = self._bool_placeholders(graph_def)
        self.input = self.graph.get_tensor_by_name(f"{INPUT}:0")
        self.output = self.graph.get_tensor_by_name(f"{OUTPUT}:0")
        self.frames, self.n_mels = self.input.shape[1], self.input.shape[2]

    def _restore_ops(self, graph_def, folder):
        import tensorflow as tf

        reader = tf.compat.v1.train.NewCheckpointReader(f"{folder}{os.sep}")
        return [
            tf.compat.v1.assign(self.graph.get_tensor_by_name(f"{node.name}:0"), reader.get_tensor(node.name))
            for node in graph_def.node
            if node.op in ("VariableV2", "Variable")
        ]

    def _bool_placeholders(self, graph_def):
        from tensorflow.core.framework import types_pb2

        placeholders = [node for node in graph_def.node if node.op == "Placeholder"]
        others = [p for p in placeholders if p.name != INPUT]
        unexpected = [p.name for p in others if p.attr["dtype"].type != types_pb2.DT_BOOL]
        if unexpected:
            raise ValueError(f"the graph needs inputs besides {INPUT}: {unexpected}")
        return [self.graph.get_tensor_by_name(f"{p.name}:0") for p in others]

    def predict(self, log_mel, batch_size=32):
        """Tag probabilities [batch, tags] of log-mel patches [batch, 187, 96]."""
        log_mel = np.asarray(log_mel, dtype=np.float32)
        if log_mel.ndim != 3 or log_mel.shape[1:] != (self.frames, self.n_mels):
            expected = f"[batch, {self.frames}, {self.n_mels}]"
            raise ValueError(f"expected log-mel patches {expected}, got {log_mel.shape}")
        not_training = dict.fromkeys(self._feed_false, False)
        outputs = [
            self.session.run(self.output, {self.input: log_mel[i:i + batch_size], **not_training})
            for i in range(0, len(log_mel), batch_size)
        ]
        return np.concatenate(outputs) if outputs else np.zeros((0, self.output.shape[1]), np.float32)

    def close(self):
        self.session.close()
