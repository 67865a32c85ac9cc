"""TF Serving's REST API over a ServableManager.

    POST /v1/models/NAME[/versions/N | /labels/L]:predict   {"signature_name": …, "instances": […]} or {"inputs": {…}}
    GET  /v1/models/NAME[/versions/N]                       version status
    GET  /v1/models/NAME[/versions/N | /labels/L]/metadata  signature defs

Binary values travel as {"b64": "…"}; string outputs come back as text, or as
{"b64": …} when their name ends in `_bytes` or they are not valid UTF-8.
Errors are {"error": "…"} with TF Serving's HTTP status for the gRPC code.
"""

import base64
import http.server
import json
import re

import grpc
import numpy as np
from google.protobuf import json_format

from serving.errors import ServingError
from serving.grpc_service import DEFAULT_SIGNATURE, status_response

_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<verb>:predict|:classify|:regress|/metadata)?$"
)


def _invalid(message):
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def from_json(value):
    """JSON values with {"b64": …} objects replaced by bytes and text by UTF-8 bytes."""
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise _invalid(f"an object in a tensor value must be {{\"b64\": …}}, got keys {sorted(value)}")
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (ValueError, TypeError) as error:
            raise _invalid(f"a b64 value is not valid base64: {error}") from None
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def _array(value, name):
    value = from_json(value)
    try:
        array = np.array(value, dtype=object) if holds_bytes(value) else np.array(value)
    except ValueError as error:
        raise _invalid(f"input {name!r} is not a rectangular array: {error}") from None
    if array.dtype == object and any(not isinstance(v, bytes) for v in array.flat):
        raise _invalid(f"input {name!r} mixes strings with other values, or is ragged")
    return array


def holds_bytes(value):
    """Whether a (nested) JSON list holds bytes, judged by its first element."""
    while isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, bytes)


def _to_json(value, name):
    if isinstance(value, bytes):
        if not name.endswith("_bytes"):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list):
        return [_to_json(v, name) for v in value]
    return value


def decode_request(body, input_names):
    """(signature name, {input: array}, row format?) of a :predict body."""
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise _invalid(f"the request body is not valid JSON: {error}") from None
    if not isinstance(request, dict):
        raise _invalid("the request body must be a JSON object")
    signature = request.get("signature_name", DEFAULT_SIGNATURE)
    if ("instances" in request) == ("inputs" in request):
        raise _invalid('the request must hold exactly one of "instances" (rows) and "inputs" (columns)')
    if "inputs" in request:
        columns = request["inputs"]
        if not isinstance(columns, dict):
            if len(input_names(signature)) != 1:
                raise _invalid(f'"inputs" must name each of {input_names(signature)}')
            columns = {input_names(signature)[0]: columns}
        return signature, {name: _array(value, name) for name, value in columns.items()}, False
    rows = request["instances"]
    if not isinstance(rows, list) or not rows:
        raise _invalid('"instances" must be a non-empty list')
    if not all(isinstance(row, dict) and not set(row) <= {"b64"} for row in rows):
        if len(input_names(signature)) != 1:
            raise _invalid(f'each instance must be an object naming each of {input_names(signature)}')
        return signature, {input_names(signature)[0]: _array(rows, "instances")}, True
    names = set(rows[0])
    if any(set(row) != names for row in rows):
        raise _invalid("every instance must name the same inputs")
    return signature, {name: _array([row[name] for row in rows], name) for name in names}, True


def encode_response(outputs, rows):
    """The JSON body for outputs: {"predictions": rows} or {"outputs": columns}; one output is not named."""
    columns = {name: _to_json(value.tolist(), name) for name, value in outputs.items()}
    if not rows:
        return {"outputs": next(iter(columns.values())) if len(columns) == 1 else columns}
    if len(columns) == 1:
        return {"predictions": next(iter(columns.values()))}
    count = len(next(iter(columns.values())))
    return {"predictions": [{name: column[i] for name, column in columns.items()} for i in range(count)]}


def make_handler(manager):
    """A BaseHTTPRequestHandler class that serves `manager`'s models."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as clients of TF Serving expect
        disable_nagle_algorithm = True  # headers and body go out as two writes; don't hold the second for an ACK

        def log_message(self, format, *args):  # noqa: A002  (the base class's signature)
            pass

        def _reply(self, status, body):
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                self._reply(200, self._route(method, body))
            except ServingError as error:
                self._reply(error.http_status, {"error": error.message})

        def do_GET(self):  # noqa: N802  (http.server's naming)
            self._handle("GET")

        def do_POST(self):  # noqa: N802
            self._handle("POST")

        def _route(self, method, body):
            match = _PATH.match(self.path)
            if match is None:
                raise ServingError(grpc.StatusCode.NOT_FOUND, f"no such resource {self.path!r}; see /v1/models/NAME[:predict|/metadata]")
            name, label, verb = match["name"], match["label"], match["verb"]
            version = int(match["version"]) if match["version"] else None
            model = manager.model(name)
            if method == "GET" and verb is None and label is None:
                return json_format.MessageToDict(status_response(model.status(version)),
                                                 always_print_fields_with_no_presence=True)
            if method == "GET" and verb == "/metadata":
                served = model.resolve(version, label)
                signature_defs = {k: json_format.MessageToDict(v) for k, v in served.signature_defs.items()}
                return {"model_spec": {"name": name, "version": str(served.version)},
                        "metadata": {"signature_def": {"signature_def": signature_defs}}}
            if method == "POST" and verb == ":predict":
                served = model.resolve(version, label)
                signature, inputs, rows = decode_request(body, lambda s: sorted(served.input_specs(s)))
                _, outputs = model.predict(inputs, signature, served.version)
                return encode_response(outputs, rows)
            if verb in (":classify", ":regress"):
                raise ServingError(grpc.StatusCode.UNIMPLEMENTED, f"{verb[1:]} is not served: Keras exports hold predict signatures only")
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"{method} {self.path} is not a supported request")

    return Handler
