"""Clients of TF Serving (and of the local server): gRPC, REST, and the same calls in-process.

All three take and return {name: numpy array} and raise `ServingError` with
the server's status code and message, so code can switch transports freely.
"""

import http.client
import json
import threading
import time

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from vqa_tf.serving.errors import ServingError, code_for_http_status, status_code
from vqa_tf.serving.rest_codec import from_json, request_json, response_array
from vqa_tf.serving.tensors import fill_proto, from_proto
from vqa_tf.utils.tf_errors import tensorflow_error_message

STATE_NAMES = dict((number, name) for name, number in get_model_status_pb2.ModelVersionStatus.State.items())


def _as_array(value):
    """An input as numpy: text and bytes as an object array of bytes (numpy's fixed-width
    bytes dtype would drop trailing NUL bytes of an image), numbers as they are."""
    if isinstance(value, np.ndarray) and value.dtype.kind not in "SUO":
        return value
    array = np.array(value, dtype=object)
    if array.size == 0 or not all(isinstance(v, (str, bytes)) for v in array.flat):
        return np.asarray(value)
    encoded = np.empty(array.shape, dtype=object)
    encoded.flat[:] = [v.encode("utf-8") if isinstance(v, str) else v for v in array.flat]
    return encoded


class GrpcClient:
    """`PredictionService.Predict` / `GetModelMetadata` and `ModelService.GetModelStatus` over gRPC.

    Examples:

        client = GrpcClient("localhost:8500")
        client.wait_until_available("smem")
        out = client.predict("smem", {"question": ["is there a red square?"], "image": [png_bytes]})
        out["answer"]          # array([b'yes'], dtype=object)
    """

    def __init__(self, address, timeout=60.0):
        self.timeout = timeout
        options = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
        self._channel = grpc.insecure_channel(address, options=options)
        self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    @staticmethod
    def _spec(spec, model, version=None, signature=None):
        spec.name = model
        if version is not None:
            spec.version.value = version
        if signature is not None:
            spec.signature_name = signature

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise ServingError(error.code(), error.details()) from None

    def predict_request(self, model, inputs, signature="serving_default", version=None):
        """The PredictRequest proto for these inputs (reusable, e.g. by a load generator)."""
        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec, model, version, signature)
        for name, value in inputs.items():
            fill_proto(request.inputs[name], _as_array(value))
        return request

    def predict(self, model, inputs, signature="serving_default", version=None):
        response = self._call(self._predictions.Predict, self.predict_request(model, inputs, signature, version))
        return {name: from_proto(proto) for name, proto in response.outputs.items()}

    def send(self, request):
        """Sends a prepared PredictRequest; returns the PredictResponse."""
        return self._call(self._predictions.Predict, request)

    def signature_defs(self, model, version=None):
        """{signature name: SignatureDef} from GetModelMetadata."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._spec(request.model_spec, model, version)
        response = self._call(self._predictions.GetModelMetadata, request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return dict(signature_map.signature_def)

    def status(self, model, version=None):
        """[(version, state name, error message)] from GetModelStatus."""
        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec, model, version)
        response = self._call(self._models.GetModelStatus, request)
        return [(s.version, STATE_NAMES[s.state], s.status.error_message) for s in response.model_version_status]

    def wait_until_available(self, model, version=None, timeout=180.0):
        """Polls GetModelStatus until a version (or the given one) is AVAILABLE; returns the statuses."""
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            try:
                statuses = self.status(model, version)
                if any(state == "AVAILABLE" for _, state, _ in statuses):
                    return statuses
                last = statuses
            except ServingError as error:
                last = error
            time.sleep(0.2)
        raise TimeoutError(f"model {model!r} was not available within {timeout:.0f} s (last answer: {last})")

    def close(self):
        self._channel.close()


class RestClient:
    """TF Serving's REST API: `:predict` (columnar "inputs"), version status and metadata.

    Bytes travel as {"b64": …}, text as JSON strings. One keep-alive connection per thread.

    Examples:

        client = RestClient("localhost:8501")
        out = client.predict("smem", {"question": ["is there a red square?"], "image": [png_bytes]})
    """

    def __init__(self, address, timeout=60.0):
        host, _, port = address.rpartition(":")
        self._host, self._port, self.timeout = host, int(port), timeout
        self._local = threading.local()

    def _request(self, method, path, body=None):
        for attempt in range(2):  # a kept-alive connection the server closed is reopened once
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = self._local.connection = http.client.HTTPConnection(
                    self._host, self._port, timeout=self.timeout
                )
            try:
                connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                connection.close()
                self._local.connection = None
                if attempt:
                    raise
        reply = json.loads(data)
        if response.status != 200:
            raise ServingError(code_for_http_status(response.status), reply.get("error", str(reply)))
        return reply

    @staticmethod
    def _path(model, version):
        return f"/v1/models/{model}" + (f"/versions/{version}" if version is not None else "")

    def predict(self, model, inputs, signature="serving_default", version=None):
        columns = {name: request_json(_as_array(value).tolist()) for name, value in inputs.items()}
        body = json.dumps({"signature_name": signature, "inputs": columns})
        outputs = self._request("POST", self._path(model, version) + ":predict", body)["outputs"]
        if not isinstance(outputs, dict):  # TF Serving leaves a signature's only output unnamed
            (name,) = self.signature_defs(model, version)[signature]["outputs"]
            outputs = {name: outputs}
        return {name: response_array(from_json(value)) for name, value in outputs.items()}

    def status(self, model, version=None):
        """[(version, state name, error message)]."""
        statuses = self._request("GET", self._path(model, version))["model_version_status"]
        return [(int(s["version"]), s["state"], s.get("status", {}).get("error_message", "")) for s in statuses]

    def signature_defs(self, model, version=None):
        """{signature name: JSON SignatureDef} from the metadata endpoint."""
        return self._request("GET", self._path(model, version) + "/metadata")["metadata"]["signature_def"][
            "signature_def"
        ]


class SavedModelClient:
    """The same `predict` calls on a SavedModel loaded in this process (no server).

    Examples:

        client = SavedModelClient("runs/exports/smem/1")
        out = client.predict(None, {"question": ["is there a red square?"], "image": [png_bytes]})
    """

    def __init__(self, export_dir):
        import tensorflow_text  # noqa: F401  (registers the TF Text ops)

        self._signatures = tf.saved_model.load(export_dir).signatures

    def predict(self, model, inputs, signature="serving_default", version=None):
        del model, version  # one SavedModel, one version
        if signature not in self._signatures:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'signature "{signature}" not found; it has {sorted(self._signatures)}',
            )
        try:
            outputs = self._signatures[signature](**{k: tf.constant(_as_array(v)) for k, v in inputs.items()})
        except tf.errors.OpError as error:
            raise ServingError(status_code(error.error_code), tensorflow_error_message(error)) from None
        return {name: value.numpy() for name, value in outputs.items()}
