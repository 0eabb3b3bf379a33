"""Clients for a zoo model served by TF Serving: audio in, the zoo.tag frame (tag, score) out.

    >>> from export.client import RestClient, GrpcClient
    >>> RestClient("musicnn-vertical-horizontal", "http://localhost:8501").tag("song.mp3")
    >>> GrpcClient("musicnn-vertical-horizontal", "localhost:8500").tag(waveform, sample_rate=44100)

Both resample the audio to the model's rate with zoo.audio.load_audio, send the whole clip (the
served graph cuts and averages zoo.tag's patches, export.patching, so the answer is zoo.tag's),
refuse malformed requests before sending, and raise ServingError with the server's own message
when it refuses a request.
"""
import json
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
from google.protobuf import json_format, wrappers_pb2

__all__ = [
    "ClientError",
    "GrpcClient",
    "RestClient",
    "ServingError",
    "scores_frame",
]

INPUT_NAME = "waveform"
SERVING_SIGNATURE = "serving_default"
TAG_NAMES_SIGNATURE = "tag_names"
# TF Serving's REST answer drops the output name when a signature has only one output.
_SINGLE_OUTPUTS = {"embed": "embedding", TAG_NAMES_SIGNATURE: "tag_names"}
DEFAULT_SAMPLE_RATE = 16000
_REQUEST_FORMATS = ("instances", "inputs")
_DT_FLOAT = 1  # tensorflow.DataType enum
_UNLIMITED = -1


class ClientError(ValueError):
    """A request refused before sending: the audio does not fit the served signature."""


class ServingError(RuntimeError):
    """The server could not be reached or answered with an error (its message included)."""


def scores_frame(tags, scores, top_k=None):
    """DataFrame with columns tag, score, best first (the frame zoo.tag returns)."""
    frame = pd.DataFrame({"tag": [_text(t) for t in tags], "score": np.asarray(scores, dtype=np.float32)})
    frame = frame.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    return frame if top_k is None else frame.head(top_k)


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _as_batch(waveforms):
    """float32 [batch, samples] from what the caller passed, or ClientError."""
    try:
        batch = np.asarray(waveforms)
    except ValueError as error:  # ragged lists
        raise ClientError(f"waveforms must form a [batch, samples] array: {error}") from None
    if batch.dtype.kind != "f":
        raise ClientError(
            f"waveforms must be float audio in [-1, 1], got dtype {batch.dtype}; decode or scale it "
            "first (zoo.audio.load_audio does)."
        )
    if batch.ndim != 2 or batch.shape[0] == 0:
        raise ClientError(f"waveforms must have shape [batch, samples] with batch >= 1, got {batch.shape}")
    if not np.all(np.isfinite(batch)):
        raise ClientError("waveforms contain NaN or infinite samples")
    return batch.astype(np.float32, copy=False)


def _input_info(signature_map, signature_name):
    if signature_name not in signature_map.signature_def:
        raise ServingError(f"the served model has no signature {signature_name!r}; it has "
                           f"{sorted(signature_map.signature_def)}")
    signature = signature_map.signature_def[signature_name]
    if INPUT_NAME not in signature.inputs:
        raise ServingError(f"signature {signature_name!r} takes {sorted(signature.inputs)}, not {INPUT_NAME!r}")
    return signature.inputs[INPUT_NAME]


class _ServingClient:
    """What REST and gRPC share: audio loading, request checks, turning outputs into a frame."""

    def __init__(self, model_name, *, version=None, sample_rate=DEFAULT_SAMPLE_RATE, tag_names=None, timeout=60.0,
                 check_signature=True):
        self.model_name = model_name
        self.version = version
        self.sample_rate = sample_rate
        self.timeout = timeout
        self.check_signature = check_signature
        self._tag_names = None if tag_names is None else [str(t) for t in tag_names]
        self._checked = set()  # signatures whose input was read from the model's metadata

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        pass

    def tag_names(self):
        """The served model's tag names, in score order (asked once from its tag_names signature)."""
        if self._tag_names is None:
            names = self._predict(np.zeros((1, 1), np.float32), TAG_NAMES_SIGNATURE)["tag_names"][0]
            self._tag_names = [_text(name) for name in names]
        return self._tag_names

    def predict(self, waveforms, signature=SERVING_SIGNATURE):
        """Send float32 [batch, samples] at the model's rate; return {output name: ndarray}."""
        batch = _as_batch(waveforms)
        if self.check_signature:
            self._check_signature(signature)
        return self._predict(batch, signature)

    def _check_signature(self, signature):
        """Once per signature: the served model has it, taking float32 ``waveform`` [batch, samples]."""
        if signature in self._checked:
            return
        info = _input_info(self._signature_map(), signature)
        if info.dtype != _DT_FLOAT or len(info.tensor_shape.dim) != 2:
            raise ServingError(f"{self.model_name!r} does not take float32 [batch, samples] in {signature!r}: {info}")
        self._checked.add(signature)

    def _pieces(self, waveform, patch_seconds):
        if patch_seconds is None:
            return waveform[np.newaxis]  # the served graph cuts zoo.tag's patches itself
        length = round(patch_seconds * self.sample_rate)
        waveform = np.pad(waveform, (0, max(0, length - len(waveform))))
        starts = range(0, len(waveform) - length + 1, length)  # an incomplete tail is dropped
        return np.stack([waveform[start:start + length] for start in starts])

    def tag(self, audio, sample_rate=None, top_k=5, patch_seconds=None):
        """The clip's tags, best first: DataFrame with columns tag and score, like zoo.tag.

        Args:
            audio: file path or array (see zoo.audio.load_audio); resampled to the model's rate.
            sample_rate: rate of an array in Hz (None: already at the model's rate).
            top_k: number of rows; None returns every tag.
            patch_seconds: None (default) sends the whole clip, which the served graph cuts
                into zoo.tag's patches: the answer is zoo.tag's. A length cuts the clip into
                pieces of that length (the incomplete tail dropped), each sent as one clip,
                and averages their scores.
        """
        from zoo.audio import load_audio

        waveform = load_audio(audio, sample_rate=sample_rate, target_rate=self.sample_rate)
        scores = self.predict(self._pieces(waveform, patch_seconds))["scores"]
        names = self.tag_names()
        if scores.shape[1] != len(names):
            raise ClientError(f"{len(names)} tag names for {scores.shape[1]} scores")
        return scores_frame(names, scores.mean(axis=0), top_k)

    def _predict(self, batch, signature):
        raise NotImplementedError

    def _signature_map(self):
        raise NotImplementedError


class RestClient(_ServingClient):
    """TF Serving REST API: POST /v1/models/<name>[/versions/<v>]:predict.

    request_format: 'instances' (row format) or 'inputs' (columnar format).
    """

    def __init__(self, model_name, url="http://localhost:8501", *, request_format="instances", **options):
        super().__init__(model_name, **options)
        if request_format not in _REQUEST_FORMATS:
            raise ValueError(f"request_format must be one of {_REQUEST_FORMATS}, got {request_format!r}")
        self.url = url.rstrip("/")
        self.request_format = request_format

    def _model_url(self):
        version = "" if self.version is None else f"/versions/{int(self.version)}"
        return f"{self.url}/v1/models/{self.model_name}{version}"

    def _call(self, url, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise ServingError(f"TF Serving refused the request (HTTP {error.code}): {_error_message(error)}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ServingError(f"cannot reach TF Serving at {self.url}: {reason}") from None

    def _request_body(self, batch, signature):
        rows = batch.tolist()
        if self.request_format == "instances":
            return {"signature_name": signature, "instances": rows}
        return {"signature_name": signature, "inputs": {INPUT_NAME: rows}}

    def _predict(self, batch, signature):
        answer = self._call(f"{self._model_url()}:predict", self._request_body(batch, signature))
        single_output = _SINGLE_OUTPUTS.get(signature, "output")
        if "predictions" in answer:
            return _from_rows(answer["predictions"], single_output)
        if "outputs" in answer:
            return _from_columns(answer["outputs"], single_output)
        raise ServingError(f"unexpected answer from TF Serving: {sorted(answer)}")

    def _signature_map(self):
        from tensorflow_serving.apis import get_model_metadata_pb2

        answer = self._call(f"{self._model_url()}/metadata")
        signature_defs = dict(answer.get("metadata", {}).get("signature_def", {}))
        signature_defs.pop("@type", None)
        return json_format.ParseDict(signature_defs, get_model_metadata_pb2.SignatureDefMap(),
                                     ignore_unknown_fields=True)


def _error_message(http_error):
    body = http_error.read().decode("utf-8", "replace")
    try:
        return json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return body or http_error.reason


def _from_rows(predictions, single_output):
    # Several outputs: one {output: value} dict per instance; one output: bare values.
    if predictions and isinstance(predictions[0], dict):
        return {key: np.asarray([row[key] for row in predictions]) for key in predictions[0]}
    return {single_output: np.asarray(predictions)}


def _from_columns(outputs, single_output):
    if isinstance(outputs, dict):
        return {key: np.asarray(value) for key, value in outputs.items()}
    return {single_output: np.asarray(outputs)}


class GrpcClient(_ServingClient):
    """TF Serving gRPC API: PredictionService/Predict with a PredictRequest."""

    def __init__(self, model_name, target="localhost:8500", **options):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        super().__init__(model_name, **options)
        self.target = target
        self._channel = grpc.insecure_channel(
            target,
            options=[("grpc.max_send_message_length", _UNLIMITED), ("grpc.max_receive_message_length", _UNLIMITED)],
        )
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def close(self):
        self._channel.close()

    def _model_spec(self, spec, signature=SERVING_SIGNATURE):
        spec.name = self.model_name
        spec.signature_name = signature
        if self.version is not None:
            spec.version.CopyFrom(wrappers_pb2.Int64Value(value=int(self.version)))

    def _rpc(self, method, request):
        import grpc

        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise ServingError(f"TF Serving refused the request ({error.code().name}): {error.details()}") from None

    def _predict(self, batch, signature):
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._model_spec(request.model_spec, signature)
        request.inputs[INPUT_NAME].CopyFrom(tf.make_tensor_proto(batch))
        response = self._rpc(self._stub.Predict, request)
        return {key: tf.make_ndarray(tensor) for key, tensor in response.outputs.items()}

    def _signature_map(self):
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._model_spec(request.model_spec)
        response = self._rpc(self._stub.GetModelMetadata, request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        if not response.metadata["signature_def"].Unpack(signature_map):
            raise ServingError("TF Serving's metadata answer holds no SignatureDefMap")
        return signature_map
