"""TF Serving's REST API over a ServableManager.

    POST /v1/models/NAME[/versions/N | /labels/L]:predict   {"signature_name": …, "instances": […]} or {"inputs": {…}}
    GET  /v1/models/NAME[/versions/N]                       version status
    GET  /v1/models/NAME[/versions/N | /labels/L]/metadata  signature defs
    GET  the metrics path of --monitoring_config_file         Prometheus text (`vqa_tf.serving.monitoring`)

Tensors travel as `rest_codec` encodes them. Errors are {"error": "…"} with
TF Serving's HTTP status for the gRPC code. `RestServer` runs on
`vqa_tf.serving.http_server` (aiohttp), under its limits: a capped body with a
`Content-Length`, read and idle timeouts, a bounded pool of handler threads,
and a JSON reply to every malformed request.
"""

import re

import grpc
from absl import logging
from aiohttp import web
from google.protobuf import json_format

from vqa_tf.serving.errors import ServingError
from vqa_tf.serving.grpc_service import DEFAULT_SIGNATURE, status_response
from vqa_tf.serving.http_server import HttpServer, json_reply
from vqa_tf.serving.monitoring import prometheus_text
from vqa_tf.serving.rest_codec import decode_request, encode_response

_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<verb>:predict|:classify|:regress|/metadata)?$"
)


def answer(manager, method, path, body):
    """(HTTP status, JSON body) of one request: never raises."""
    try:
        return 200, route(manager, method, path, body)
    except ServingError as error:
        return error.http_status, {"error": error.message}
    except Exception as error:  # a bug must still get an answer, and leave the server serving
        logging.exception("REST %s %s failed", method, path[:200])
        return 500, {"error": f"internal error: {type(error).__name__}: {error}"}


class RestServer:
    """Serves `manager`'s models over REST on (host, port) until `close()`, and the Prometheus metrics at
    `metrics_path` unless it is None.

    Examples:

        rest = RestServer(manager, "127.0.0.1", 8501, HttpLimits(num_threads=8, timeout_seconds=30))
        ...
        rest.close()
    """

    def __init__(self, manager, host, port, limits, metrics_path=None):
        self._manager = manager
        routes = [web.get(metrics_path, _metrics)] if metrics_path else []
        self._http = HttpServer(routes + [web.route("*", "/{path:.*}", self._handle)], host, port, limits)

    async def _handle(self, request):
        body = await self._http.body(request)
        status, reply = await self._http.run(answer, self._manager, request.method, request.raw_path, body)
        return json_reply(status, reply)

    def close(self):
        self._http.close()


async def _metrics(request):
    del request
    return web.Response(text=prometheus_text(), content_type="text/plain", charset="utf-8")


def route(manager, method, path, body):
    """The JSON reply to one request; a ServingError for a failed one."""
    match = _PATH.match(path)
    if match is None:
        raise ServingError(
            grpc.StatusCode.NOT_FOUND, f"no such resource {path!r}; see /v1/models/NAME[:predict|/metadata]"
        )
    name, label, verb = match["name"], match["label"], match["verb"]
    version = int(match["version"]) if match["version"] else None
    model = manager.model(name)
    if method == "GET" and verb is None and label is None:
        return json_format.MessageToDict(
            status_response(model.status(version)), always_print_fields_with_no_presence=True
        )
    if method == "GET" and verb == "/metadata":
        with model.lease(version, label) as lease:
            signature_defs = {k: json_format.MessageToDict(v) for k, v in lease.model.signature_defs.items()}
        return {
            "model_spec": {"name": name, "version": str(lease.version)},
            "metadata": {"signature_def": {"signature_def": signature_defs}},
        }
    if method == "POST" and verb == ":predict":
        with model.lease(version, label) as lease:  # the request's input names come from the version it runs on
            signature, inputs, rows = decode_request(body, lease.input_names, DEFAULT_SIGNATURE)
            return encode_response(lease.predict(inputs, signature), rows)
    if verb in (":classify", ":regress"):
        raise ServingError(
            grpc.StatusCode.UNIMPLEMENTED, f"{verb[1:]} is not served: Keras exports hold predict signatures only"
        )
    raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"{method} {path} is not a supported request")
