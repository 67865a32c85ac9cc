"""The HTTP server that the REST API and the demo page run on: aiohttp on an event loop thread of its own.

Both get the same limits (`HttpLimits`):

* a body needs a `Content-Length` (411 without one, or with a chunked body) of
  at most `max_body_bytes` (413, refused before it is read);
* a connection idle for `timeout_seconds` is closed (keep-alive timeout), as
  is one whose body does not arrive within it (408);
* handlers run on a pool of `num_threads` threads, so no more than that many
  requests do work at once;
* every refusal is a JSON `{"error": "…"}`, those of aiohttp's HTTP parser
  (a malformed request line, header or `Content-Length`: 400) included.
"""

import asyncio
import dataclasses
import json
import os
import threading
from concurrent import futures

from aiohttp import web, web_protocol


@dataclasses.dataclass(frozen=True)
class HttpLimits:
    """What one HTTP request may cost (the model server's `rest_api_*` flags).

    Examples:

        HttpLimits(num_threads=8, timeout_seconds=5.0, max_body_bytes=16 << 20)
    """

    num_threads: int = 4 * (os.cpu_count() or 1)
    timeout_seconds: float = 30.0
    max_body_bytes: int = 64 << 20


class Refused(Exception):
    """A request answered with HTTP `status` and `{"error": message}`."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def json_reply(status, value):
    return web.Response(status=status, text=json.dumps(value), content_type="application/json")


@web.middleware
async def _json_errors(request, handler):
    try:
        return await handler(request)
    except Refused as error:
        reply = json_reply(error.status, {"error": str(error)})
        if error.status in (408, 411, 413):  # the body was not read: the connection cannot carry another request
            reply.force_close()
        return reply
    except web.HTTPException as error:  # aiohttp's own: no route (404), wrong method (405), body too large (413)
        return json_reply(error.status, {"error": error.text or error.reason})


class _JsonErrorHandler(web_protocol.RequestHandler):
    """aiohttp's connection handler, answering what its HTTP parser refuses with a JSON error too."""

    def handle_error(self, request, status=500, exc=None, message=None):
        plain = super().handle_error(request, status, exc, message)
        reply = json_reply(status, {"error": (message or plain.text).strip().splitlines()[0]})
        reply.force_close()
        return reply


class _JsonErrorServer(web.Server):
    """aiohttp's low-level server, making `_JsonErrorHandler`s (tests/test_server_limits.py checks them)."""

    def __call__(self):
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class _Runner(web.AppRunner):
    async def _make_server(self):
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer  # the same object and state; only its handler factory differs
        return server


class HttpServer:
    """Serves aiohttp `routes` on (host, port) from a thread of its own, under `limits`, until `close()`.

    A port that cannot be bound raises OSError.

    Examples:

        async def hello(request):
            return json_reply(200, {"hello": "world"})

        server = HttpServer([web.get("/", hello)], "127.0.0.1", 0, HttpLimits())
        print(server.port)
        server.close()
    """

    def __init__(self, routes, host, port, limits):
        self.limits = limits
        self._closed = threading.Event()
        self._pool = futures.ThreadPoolExecutor(max_workers=limits.num_threads, thread_name_prefix="http")
        app = web.Application(middlewares=[_json_errors], client_max_size=limits.max_body_bytes)
        app.add_routes(routes)
        self._runner = _Runner(app, access_log=None, keepalive_timeout=limits.timeout_seconds)
        # The loop runs on a thread of its own from the start: the caller's thread may be running a loop already.
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="http", daemon=True)
        self._thread.start()
        try:
            self.port = asyncio.run_coroutine_threadsafe(self._listen(host, port), self._loop).result()
        except BaseException:
            self.close()
            raise

    async def _listen(self, host, port):
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port, reuse_address=True).start()
        return self._runner.addresses[0][1]

    async def body(self, request):
        """The request's whole body, read under the limits (a `Refused` 411, 413 or 408 otherwise)."""
        if "Transfer-Encoding" in request.headers:
            raise Refused(411, "chunked bodies are not accepted; send a Content-Length")
        length = request.content_length
        if length is None:
            if request.method == "POST":
                raise Refused(411, "a POST needs a Content-Length")
            return b""
        if length > self.limits.max_body_bytes:
            raise Refused(413, f"the body of {length} bytes is larger than the limit of {self.limits.max_body_bytes}")
        try:
            return await asyncio.wait_for(request.read(), self.limits.timeout_seconds)
        except TimeoutError:
            raise Refused(408, f"the body did not arrive within {self.limits.timeout_seconds} s") from None

    async def run(self, function, *args):
        """`function(*args)` on the server's bounded pool of threads."""
        return await self._loop.run_in_executor(self._pool, function, *args)

    def wait(self):
        """Blocks until the server is closed (from another thread or a signal handler)."""
        self._closed.wait()  # not the thread's join: a join a signal interrupts can leave the thread marked done

    def close(self):
        async def stop():
            await self._runner.cleanup()
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(stop(), self._loop)
        self._thread.join()
        self._loop.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._closed.set()
