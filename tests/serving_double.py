"""TEST DOUBLE, not TF Serving: a stand-in model server for the client tests.

It answers TF Serving's REST API (POST /v1/models/<name>[/versions/<v>]:predict in the
row and columnar formats, GET .../metadata) and gRPC PredictionService (Predict,
GetModelMetadata) from SavedModels exported under a base path, on 127.0.0.1 only. It
imitates the request / answer formats and the shape of TF Serving's errors that the
clients rely on; the models' own errors (e.g. the in-graph length check) come from the
SavedModel itself.
"""
import json
import os
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

__all__ = ["DoubleError", "ServingDouble"]

LOOPBACK = "127.0.0.1"
_HTTP_STATUS = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.NOT_FOUND: 404}
_PREDICT_PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?:predict$")
_METADATA_PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?/metadata$")


def _type_string(dtype):
    # TensorFlow's DataTypeString spelling, which TF Serving's messages use.
    return {"float32": "float", "float64": "double"}.get(dtype.name, dtype.name)


class DoubleError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


class ServingDouble:
    """Serves every <base_path>/<name>/<version> SavedModel; start_rest / start_grpc open ports."""

    def __init__(self, base_path):
        self.base_path = base_path
        self._loaded = {}
        self._lock = threading.Lock()
        self._servers = []

    # -- the model side, shared by both protocols ------------------------------------------

    def _version(self, name, version):
        model_dir = os.path.join(self.base_path, name)
        versions = sorted(int(v) for v in os.listdir(model_dir) if v.isdigit()) if os.path.isdir(model_dir) else []
        if version is None and versions:
            return versions[-1]
        if version in versions:
            return version
        wanted = "Latest" if version is None else f"Specific({version})"
        raise DoubleError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {wanted}({name}, ...)")

    def _model(self, name, version):
        version = self._version(name, version)
        with self._lock:
            if (name, version) not in self._loaded:
                path = os.path.join(self.base_path, name, str(version))
                self._loaded[name, version] = tf.saved_model.load(path)
        return version, self._loaded[name, version]

    def signature_map(self, name, version=None):
        version = self._version(name, version)
        saved_model = saved_model_pb2.SavedModel()
        with open(os.path.join(self.base_path, name, str(version), "saved_model.pb"), "rb") as f:
            saved_model.ParseFromString(f.read())
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in saved_model.meta_graphs[0].signature_def.items():
            if not key.startswith("__"):
                signature_map.signature_def[key].CopyFrom(signature)
        return version, signature_map

    def predict(self, name, version, signature_name, inputs):
        """{output: ndarray} for {input: ndarray}; DoubleError the way TF Serving refuses."""
        version, loaded = self._model(name, version)
        signature_name = signature_name or "serving_default"
        if signature_name not in loaded.signatures:
            raise DoubleError(grpc.StatusCode.INVALID_ARGUMENT, f'Serving signature key "{signature_name}" not found.')
        function = loaded.signatures[signature_name]
        expected = function.structured_input_signature[1]
        if set(inputs) != set(expected):
            raise DoubleError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input size does not match signature: {len(inputs)}!={len(expected)} "
                f"len({sorted(inputs)}) != len({sorted(expected)})",
            )
        for index, (key, spec) in enumerate(sorted(expected.items())):
            if inputs[key].dtype != spec.dtype.as_numpy_dtype:
                raise DoubleError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Expects arg[{index}] to be {_type_string(spec.dtype)} but "
                    f"{_type_string(tf.as_dtype(inputs[key].dtype))} is provided",
                )
            if not spec.shape.is_compatible_with(inputs[key].shape):
                raise DoubleError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{key}: shape {list(inputs[key].shape)} is incompatible with the signature's {spec.shape}",
                )
        try:
            outputs = function(**{key: tf.constant(value) for key, value in inputs.items()})
        except tf.errors.OpError as error:
            raise DoubleError(grpc.StatusCode.INVALID_ARGUMENT, error.message) from None
        return version, {key: value.numpy() for key, value in outputs.items()}

    # -- servers -----------------------------------------------------------------------------

    def start_rest(self):
        """Start the REST server on a free loopback port; returns its base URL."""
        server = ThreadingHTTPServer((LOOPBACK, 0), _rest_handler(self))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._servers.append(server.shutdown)
        self._servers.append(server.server_close)
        return f"http://{LOOPBACK}:{server.server_address[1]}"

    def start_grpc(self):
        """Start the gRPC server on a free loopback port; returns host:port."""
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                             options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_PredictionServicer(self), server)
        port = server.add_insecure_port(f"{LOOPBACK}:0")
        server.start()
        self._servers.append(lambda: server.stop(grace=None))
        return f"{LOOPBACK}:{port}"

    def stop(self):
        for stop in self._servers:
            stop()
        self._servers.clear()


# -- REST ----------------------------------------------------------------------------------------


def _json_value(array):
    if array.dtype.kind in "SO":
        return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(array).tolist()
    return array.tolist()


def _tensor_from_json(value, key):
    try:
        array = np.asarray(value)
    except ValueError as error:
        raise DoubleError(grpc.StatusCode.INVALID_ARGUMENT, f"{key}: {error}") from None
    if array.dtype.kind not in "fiu":
        raise DoubleError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Failed to process element: 0 key: {key} of 'instances' list. Error: INVALID_ARGUMENT: "
            f"JSON Value: {json.dumps(np.ravel(array)[0].item() if array.size else value)} "
            "Type: String is not of expected type: float",
        )
    return array.astype(np.float32)  # TF Serving converts JSON numbers to the signature's dtype


def _rest_inputs(body):
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise DoubleError(grpc.StatusCode.INVALID_ARGUMENT, "'instances' must be a non-empty list")
        if isinstance(instances[0], dict):
            return {key: _tensor_from_json([row[key] for row in instances], key) for key in instances[0]}, "row"
        return {"waveform": _tensor_from_json(instances, "waveform")}, "row"
    if "inputs" in body:
        inputs = body["inputs"]
        if isinstance(inputs, dict):
            return {key: _tensor_from_json(value, key) for key, value in inputs.items()}, "columnar"
        return {"waveform": _tensor_from_json(inputs, "waveform")}, "columnar"
    raise DoubleError(grpc.StatusCode.INVALID_ARGUMENT, "Missing 'inputs' or 'instances' key")


def _rest_answer(outputs, form):
    if form == "columnar":
        if len(outputs) == 1:
            return {"outputs": _json_value(next(iter(outputs.values())))}
        return {"outputs": {key: _json_value(value) for key, value in outputs.items()}}
    if len(outputs) == 1:
        return {"predictions": _json_value(next(iter(outputs.values())))}
    rows = len(next(iter(outputs.values())))
    return {"predictions": [{key: _json_value(value[i]) for key, value in outputs.items()} for i in range(rows)]}


def _rest_handler(double):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def _send(self, status, body):
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, compute):
            try:
                self._send(200, compute())
            except DoubleError as error:
                self._send(_HTTP_STATUS.get(error.code, 500), {"error": error.message})

        def do_POST(self):
            match = _PREDICT_PATH.match(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not match:
                return self._send(404, {"error": f"Malformed request: POST {self.path}"})

            def predict():
                try:
                    request = json.loads(body)
                except ValueError as error:
                    raise DoubleError(grpc.StatusCode.INVALID_ARGUMENT, f"JSON Parse error: {error}") from None
                inputs, form = _rest_inputs(request)
                version = None if match.group(2) is None else int(match.group(2))
                _, outputs = double.predict(match.group(1), version, request.get("signature_name"), inputs)
                return _rest_answer(outputs, form)

            self._answer(predict)

        def do_GET(self):
            match = _METADATA_PATH.match(self.path)
            if not match:
                return self._send(404, {"error": f"Malformed request: GET {self.path}"})

            def metadata():
                from google.protobuf import json_format

                version = None if match.group(2) is None else int(match.group(2))
                version, signature_map = double.signature_map(match.group(1), version)
                return {
                    "model_spec": {"name": match.group(1), "signature_name": "", "version": str(version)},
                    "metadata": {"signature_def": json_format.MessageToDict(signature_map,
                                                                            preserving_proto_field_name=True)},
                }

            self._answer(metadata)

    return Handler


# -- gRPC ----------------------------------------------------------------------------------------


class _PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, double):
        self._double = double

    @staticmethod
    def _version(model_spec):
        return model_spec.version.value if model_spec.HasField("version") else None

    def Predict(self, request, context):
        inputs = {key: tf.make_ndarray(tensor) for key, tensor in request.inputs.items()}
        try:
            version, outputs = self._double.predict(
                request.model_spec.name, self._version(request.model_spec), request.model_spec.signature_name, inputs
            )
        except DoubleError as error:
            context.abort(error.code, error.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):
        try:
            version, signature_map = self._double.signature_map(request.model_spec.name,
                                                                 self._version(request.model_spec))
        except DoubleError as error:
            context.abort(error.code, error.message)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.metadata["signature_def"].Pack(signature_map)
        return response
