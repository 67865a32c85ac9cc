"""TF Serving's REST API over a ServableManager.

    POST /v1/models/NAME[/versions/N | /labels/L]:predict   {"signature_name": …, "instances": […]} or {"inputs": {…}}
    GET  /v1/models/NAME[/versions/N]                       version status
    GET  /v1/models/NAME[/versions/N | /labels/L]/metadata  signature defs

Tensors travel as `rest_codec` encodes them. Errors are {"error": "…"} with
TF Serving's HTTP status for the gRPC code.

`RestServer` reads each request whole on one asyncio loop (so idle or slow
connections hold no thread, and each is closed after `timeout_seconds`
without a complete request) and answers it on a bounded pool of threads.
A body needs a valid `Content-Length` (else 411 or 400) of at most
`max_body_bytes` (else 413); every failure gets a JSON reply.
"""

import asyncio
import json
import re
import threading
from concurrent import futures
from http import HTTPStatus

import grpc
from absl import logging
from google.protobuf import json_format

from vqa_tf.serving.errors import ServingError
from vqa_tf.serving.grpc_service import DEFAULT_SIGNATURE, status_response
from vqa_tf.serving.rest_codec import decode_request, encode_response

_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<verb>:predict|:classify|:regress|/metadata)?$"
)
MAX_HEADER_BYTES = 65536


class _BadRequest(Exception):
    """A request that cannot be read: answered with `status` and the connection closed."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _response(status, body, keep_alive):
    data = json.dumps(body).encode("utf-8")
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode("latin-1") + data


def _parse_head(head):
    """(method, path, {lower-case header: value}, keep-alive?) of a request's head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(400, f"malformed request line {lines[0][:100]!r}")
    headers = {}
    for line in lines[1:]:
        if line:
            name, colon, value = line.partition(":")
            if not colon:
                raise _BadRequest(400, f"malformed header line {line[:100]!r}")
            headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if parts[2] == "HTTP/1.1" else connection == "keep-alive"
    return parts[0], parts[1], headers, keep_alive


def _body_length(method, headers, max_body_bytes):
    if "transfer-encoding" in headers:
        raise _BadRequest(411, "chunked bodies are not accepted; send a Content-Length")
    value = headers.get("content-length")
    if value is None:
        if method == "POST":
            raise _BadRequest(411, "a POST needs a Content-Length")
        return 0
    if not value.isdigit():
        raise _BadRequest(400, f"Content-Length {value[:40]!r} is not a non-negative integer")
    if int(value) > max_body_bytes:
        raise _BadRequest(
            413, f"the body of {value} bytes is larger than the limit of {max_body_bytes} (--rest_api_max_body_bytes)"
        )
    return int(value)


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
    """Serves `manager`'s models over REST on (host, port) until `close()`.

    Examples:

        rest = RestServer(manager, "127.0.0.1", 8501, num_threads=8, timeout_seconds=30,
                          max_body_bytes=64 << 20)
        ...
        rest.close()
    """

    def __init__(self, manager, host, port, num_threads, timeout_seconds, max_body_bytes):
        self._manager, self._timeout, self._max_body = manager, timeout_seconds, max_body_bytes
        self._pool = futures.ThreadPoolExecutor(max_workers=num_threads, thread_name_prefix="rest")
        self._writers = set()
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, host, port, limit=MAX_HEADER_BYTES, reuse_address=True)
        )
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    async def _read_request(self, reader, writer):
        """(method, path, body, keep-alive?), or None when the client closed or went quiet."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._timeout)
        except asyncio.LimitOverrunError:
            raise _BadRequest(431, f"the request head is larger than {MAX_HEADER_BYTES} bytes") from None
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return None
        method, path, headers, keep_alive = _parse_head(head[:-4])
        length = _body_length(method, headers, self._max_body)
        if length and headers.get("expect", "").lower() == "100-continue":  # curl waits 1 s for this
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            body = await asyncio.wait_for(reader.readexactly(length), self._timeout) if length else b""
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return None
        return method, path, body, keep_alive

    async def _connection(self, reader, writer):
        self._writers.add(writer)
        try:
            while True:
                try:
                    request = await self._read_request(reader, writer)
                except _BadRequest as error:
                    writer.write(_response(error.status, {"error": str(error)}, keep_alive=False))
                    await writer.drain()
                    break
                if request is None:
                    break
                method, path, body, keep_alive = request
                status, reply = await self._loop.run_in_executor(self._pool, answer, self._manager, method, path, body)
                writer.write(_response(status, reply, keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def close(self):
        def stop():
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join()
        self._pool.shutdown(wait=False, cancel_futures=True)


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
        served = model.resolve(version, label)
        signature_defs = {k: json_format.MessageToDict(v) for k, v in served.signature_defs.items()}
        return {
            "model_spec": {"name": name, "version": str(served.version)},
            "metadata": {"signature_def": {"signature_def": signature_defs}},
        }
    if method == "POST" and verb == ":predict":
        served = model.resolve(version, label)
        signature, inputs, rows = decode_request(body, lambda s: sorted(served.input_specs(s)), DEFAULT_SIGNATURE)
        _, outputs = model.predict(inputs, signature, served=served)
        return encode_response(outputs, rows)
    if verb in (":classify", ":regress"):
        raise ServingError(
            grpc.StatusCode.UNIMPLEMENTED, f"{verb[1:]} is not served: Keras exports hold predict signatures only"
        )
    raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"{method} {path} is not a supported request")
