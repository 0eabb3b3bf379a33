"""SavedModel warm-up data: ``assets.extra/tf_serving_warmup_requests``.

TF Serving replays these PredictionLog records when it loads a version, before marking it
available, so the first real request does not pay for lazy initialisation.
"""
import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from export.signatures import EMBED_SIGNATURE, INPUT_NAME, SERVING_SIGNATURE, TAG_NAMES_SIGNATURE

__all__ = ["WARMUP_FILE", "read_warmup_file", "warmup_requests", "write_warmup_file"]

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def _quiet_waveform(n_samples, seed=0):
    # Low-level noise rather than silence: exercises the same kernels real audio does.
    rng = np.random.default_rng(seed)
    return (0.01 * rng.standard_normal((1, n_samples))).astype(np.float32)


def warmup_requests(model_name, n_samples, signatures=(SERVING_SIGNATURE, EMBED_SIGNATURE, TAG_NAMES_SIGNATURE)):
    """One PredictRequest per signature with a [1, n_samples] waveform."""
    tensor = tf.make_tensor_proto(_quiet_waveform(n_samples))
    requests = []
    for signature in signatures:
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
        )
        request.inputs[INPUT_NAME].CopyFrom(tensor)
        requests.append(request)
    return requests


def write_warmup_file(saved_model_dir, model_name, n_samples):
    """Write the warm-up TFRecord into saved_model_dir and return its path."""
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for request in warmup_requests(model_name, n_samples):
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def read_warmup_file(path):
    """The PredictionLog records of a warm-up file."""
    logs = []
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record)
        logs.append(log)
    return logs
