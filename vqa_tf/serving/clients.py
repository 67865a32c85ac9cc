"""Clients of TF Serving (and of the local server): gRPC, REST, and the same calls in-process.

All three take and return {name: numpy array} and raise `ServingError` with
the server's status code and message, so code can switch transports freely.
The gRPC and REST clients ride out a restarting server within each call's
deadline (`timeout`): every call they make is idempotent (Predict runs the
model on the request and changes nothing on the server), so retrying one is
safe.
"""

import http.client
import json
import random
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
from vqa_tf.serving.monitoring import DEFAULT_PATH as DEFAULT_METRICS_PATH
from vqa_tf.serving.monitoring import parse_prometheus_text
from vqa_tf.serving.rest_codec import from_json, request_json, response_array
from vqa_tf.serving.tensors import fill_proto, from_proto
from vqa_tf.utils.tf_errors import tensorflow_error_message

STATE_NAMES = dict((number, name) for name, number in get_model_status_pb2.ModelVersionStatus.State.items())

# gRPC's own retry policy: a call that ends UNAVAILABLE (the server went away mid-call, a version was being
# unloaded, the batching queue was full) is sent again after an exponential, jittered backoff, up to gRPC's
# cap of 5 attempts; waitForReady makes each attempt wait, within the call's deadline, for a server that is
# restarting instead of failing at once while the channel cannot connect.
RETRY_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [
                    {"service": "tensorflow.serving.PredictionService"},
                    {"service": "tensorflow.serving.ModelService"},
                ],
                "waitForReady": True,
                "retryPolicy": {
                    "maxAttempts": 5,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)
# How soon a channel tries to reconnect to a server that went away (gRPC's default starts at 1 s and grows
# to 2 minutes, longer than a restart takes).
RECONNECT_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]


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

    Each call has a deadline of `timeout` seconds. Within it, gRPC's retry policy
    (`RETRY_SERVICE_CONFIG`) sends a call that ended UNAVAILABLE again with
    exponential backoff, and waits for a server that is restarting; every call
    here is idempotent, so a retry is safe. Other errors raise at once.

    Examples:

        client = GrpcClient("localhost:8500")
        client.wait_until_available("smem")
        out = client.predict("smem", {"question": ["is there a red square?"], "image": [png_bytes]})
        out["answer"]          # array([b'yes'], dtype=object)
    """

    def __init__(self, address, timeout=60.0):
        self.timeout = timeout
        options = [
            ("grpc.max_receive_message_length", -1),
            ("grpc.max_send_message_length", -1),
            ("grpc.enable_retries", 1),
            ("grpc.service_config", RETRY_SERVICE_CONFIG),
            *RECONNECT_OPTIONS,
        ]
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

    def _call(self, method, request, timeout=None):
        try:
            return method(request, timeout=self.timeout if timeout is None else timeout)
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

    def status(self, model, version=None, timeout=None):
        """[(version, state name, error message)] from GetModelStatus (within `timeout`, else the client's)."""
        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec, model, version)
        response = self._call(self._models.GetModelStatus, request, timeout)
        return [(s.version, STATE_NAMES[s.state], s.status.error_message) for s in response.model_version_status]

    def wait_until_available(self, model, version=None, timeout=180.0):
        """Polls GetModelStatus until a version (or the given one) is AVAILABLE; returns the statuses."""
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            try:
                statuses = self.status(model, version, timeout=max(0.01, min(1.0, deadline - time.monotonic())))
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
    """TF Serving's REST API: `:predict` (columnar "inputs"), version status, metadata and the Prometheus metrics.

    Bytes travel as {"b64": …}, text as JSON strings. One keep-alive connection per thread.
    A request that cannot connect, or whose connection breaks before its answer, is sent
    again after an exponential, jittered backoff (from 0.1 s, doubling up to 2 s) until
    `timeout` seconds have passed since the call began; every call here is idempotent,
    so a retry is safe.

    Examples:

        client = RestClient("localhost:8501")
        out = client.predict("smem", {"question": ["is there a red square?"], "image": [png_bytes]})
    """

    def __init__(self, address, timeout=60.0):
        host, _, port = address.rpartition(":")
        self._host, self._port, self.timeout = host, int(port), timeout
        self._local = threading.local()

    def _request(self, method, path, body=None):
        response, data = self._exchange(method, path, body)
        reply = json.loads(data)
        if response.status != 200:
            raise ServingError(code_for_http_status(response.status), reply.get("error", str(reply)))
        return reply

    def _exchange(self, method, path, body):
        """(response, body bytes), retried on connection errors until the deadline."""
        deadline = time.monotonic() + self.timeout
        backoff = 0.0  # a kept-alive connection the server closed is reopened at once; later tries back off
        while True:
            try:
                response, data = self._send(method, path, body, deadline)
                break
            except TimeoutError:
                raise ServingError(
                    grpc.StatusCode.DEADLINE_EXCEEDED, f"{method} {path}: no answer within {self.timeout:g} s"
                ) from None
            except (http.client.HTTPException, ConnectionError) as error:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ServingError(
                        grpc.StatusCode.UNAVAILABLE,
                        f"{method} {path}: {self._host}:{self._port} gave no answer within {self.timeout:g} s "
                        f"(last error: {error!r})",
                    ) from None
                time.sleep(min(random.uniform(0, backoff), remaining))
                backoff = min(max(2 * backoff, 0.1), 2.0)
        return response, data

    def _send(self, method, path, body, deadline):
        """(response, body bytes) over this thread's connection, opened if needed; a failure closes it."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(self._host, self._port)
        connection.timeout = max(0.001, deadline - time.monotonic())
        if connection.sock is not None:
            connection.sock.settimeout(connection.timeout)
        try:
            connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            return response, response.read()
        except BaseException:
            connection.close()
            raise

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

    def metrics(self, path=DEFAULT_METRICS_PATH):
        """{series: value} of the server's Prometheus page (`--monitoring_config_file`); a series is its
        metric name followed by its labels, if any, as the page writes them."""
        response, data = self._exchange("GET", path, None)
        if response.status != 200:
            raise ServingError(
                code_for_http_status(response.status), f"GET {path}: HTTP {response.status}; is monitoring enabled?"
            )
        return parse_prometheus_text(data.decode("utf-8"))


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
