"""TF Serving's REST API over a ServableManager.

    POST /v1/models/NAME[/versions/N | /labels/L]:predict   {"signature_name": …, "instances": […]} or {"inputs": {…}}
    GET  /v1/models/NAME[/versions/N]                       version status
    GET  /v1/models/NAME[/versions/N | /labels/L]/metadata  signature defs

Tensors travel as `rest_codec` encodes them. Errors are {"error": "…"} with
TF Serving's HTTP status for the gRPC code.
"""

import http.server
import json
import re

import grpc
from google.protobuf import json_format

from vqa_tf.serving.errors import ServingError
from vqa_tf.serving.grpc_service import DEFAULT_SIGNATURE, status_response
from vqa_tf.serving.rest_codec import decode_request, encode_response

_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<verb>:predict|:classify|:regress|/metadata)?$"
)


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
                signature, inputs, rows = decode_request(
                    body, lambda s: sorted(served.input_specs(s)), DEFAULT_SIGNATURE
                )
                _, outputs = model.predict(inputs, signature, served.version)
                return encode_response(outputs, rows)
            if verb in (":classify", ":regress"):
                raise ServingError(grpc.StatusCode.UNIMPLEMENTED, f"{verb[1:]} is not served: Keras exports hold predict signatures only")
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"{method} {self.path} is not a supported request")

    return Handler
