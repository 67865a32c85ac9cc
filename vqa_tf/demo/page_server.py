"""The demo page's HTTP server: static assets, example images, and a pass-through to the model server's REST API.

    GET  /                      the page (static/index.html), /static/<file> its script and style
    GET  /config.json           the served models' names and the example images' names
    GET  /examples/<name>       an example image's bytes
    POST /v1/models/NAME…       passed to the REST API serving NAME unchanged, its answer returned unchanged
    POST /search                {"embedding": [D floats], "k": n} → the gallery index's n best images
    GET  /gallery/<i>           the gallery index's i-th image

No model code runs here: answers, scores, attention maps, sentence embeddings
and error messages are the model servers' own; `/search` only looks an
embedding the m-DAN's `embed_text` returned up in the FAISS index. The
server is the REST API's (`vqa_tf.serving.http_server`), under the same limits.
"""

import http.client
import json
import mimetypes
import os
import posixpath
import re

import tensorflow as tf
from aiohttp import web

from vqa_tf.search import GalleryError
from vqa_tf.search.gallery_embedding import IMAGE_SUFFIXES
from vqa_tf.serving.http_server import HttpLimits, HttpServer, Refused, json_reply

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
MAX_RESULTS = 100
_MODEL_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)")


class DemoServer:
    """Serves the demo page on (host, port) next to a model server's REST API at `rest_address`, until `close()`.

    `search`: optional (m-DAN model name, the REST address serving it, a GalleryIndex of the gallery
    that m-DAN embedded), for the page's search tab. `limits`: the REST API's limits by default.

    Examples:

        server = DemoServer("127.0.0.1", 0, "127.0.0.1:8501", "smem", examples_dir="/photos",
                            search=("mdan", "127.0.0.1:8501", GalleryIndex.load("/gallery/index")))
        print(server.url)   # http://127.0.0.1:<port>/
        server.close()
    """

    def __init__(self, host, port, rest_address, model_name, examples_dir=None, search=None, limits=HttpLimits()):
        self.model_name = model_name
        self.rest_addresses = {model_name: rest_address}
        self.search_model, self.index = None, None
        if search is not None:
            self.search_model, search_address, self.index = search
            self.rest_addresses[self.search_model] = search_address
        self.examples = {}
        if examples_dir:
            for name in sorted(tf.io.gfile.listdir(examples_dir)):
                if name.lower().endswith(IMAGE_SUFFIXES):
                    self.examples[name] = posixpath.join(examples_dir, name)
        routes = [
            web.get("/", self._page),
            web.get("/index.html", self._page),
            web.get("/static/{name}", self._static),
            web.get("/config.json", self._config),
            web.get("/examples/{name}", self._example),
            web.get("/gallery/{number}", self._gallery),
            web.post("/search", self._search),
            web.post("/v1/models/{path:.*}", self._pass_through),
        ]
        self._http = HttpServer(routes, host, port, limits)
        self.host = host

    @property
    def port(self):
        return self._http.port

    @property
    def url(self):
        return f"http://{self.host}:{self.port}/"

    def wait(self):
        """Blocks until the server is closed."""
        self._http.wait()

    def close(self):
        self._http.close()

    async def _page(self, request):
        return await self._file(os.path.join(STATIC_DIR, "index.html"))

    async def _static(self, request):
        return await self._file(os.path.join(STATIC_DIR, request.match_info["name"]))

    async def _config(self, request):
        config = {"model_name": self.model_name, "search_model": self.search_model, "examples": list(self.examples)}
        return json_reply(200, config)

    async def _example(self, request):
        name = request.match_info["name"]
        if name not in self.examples:
            raise Refused(404, f"no such example: {name[:200]}")
        return await self._file(self.examples[name])

    async def _gallery(self, request):
        number = request.match_info["number"]
        if self.index is None or not number.isdigit() or int(number) >= len(self.index.paths):
            raise Refused(404, f"no such gallery image: {number[:200]}")
        return await self._file(self.index.paths[int(number)])

    async def _file(self, path):
        """A file of the page or an image the user named (local or a URL, through tf.io.gfile)."""
        data = await self._http.run(_read, path)  # file I/O (a URL too) off the event loop
        if data is None:
            raise Refused(404, f"no such file: {os.path.basename(path)}")
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return web.Response(body=data, content_type=content_type, headers={"Cache-Control": "no-store"})

    async def _pass_through(self, request):
        body = await self._http.body(request)
        name = _MODEL_PATH.match(request.path)["name"]
        # another name goes to the VQA model's server, which says it has none
        address = self.rest_addresses.get(name, self.rest_addresses[self.model_name])
        status, reply, content_type = await self._http.run(_post, address, request.raw_path, body)
        return web.Response(status=status, body=reply, headers={"Content-Type": content_type})

    async def _search(self, request):
        if self.index is None:
            raise Refused(404, "this page has no search tab (no gallery index)")
        body = await self._http.body(request)
        try:
            query = json.loads(body)
            embedding, k = query["embedding"], int(query.get("k", 8))
            if not 1 <= k <= MAX_RESULTS:
                raise ValueError(f"k must lie in [1, {MAX_RESULTS}], got {k}")
            scores, numbers = await self._http.run(self.index.nearest, [embedding], k)
        except (ValueError, KeyError, TypeError, GalleryError) as error:
            raise Refused(400, f"cannot search: {error}") from None
        paths = self.index.paths
        results = [
            {"image": f"/gallery/{i}", "name": posixpath.basename(paths[i]), "score": float(score)}
            for i, score in zip(numbers[0], scores[0])
        ]
        return json_reply(200, {"results": results})


def _read(path):
    """The bytes of the file at `path`, or None if there is none."""
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


def _post(address, path, body):
    """(status, body, Content-Type) of the model server's answer to a POST; 502 if it does not answer."""
    connection = http.client.HTTPConnection(address, timeout=120)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        return answer.status, answer.read(), answer.getheader("Content-Type", "application/json")
    except OSError as error:
        message = json.dumps({"error": f"the model server at {address} did not answer: {error}"})
        return 502, message.encode(), "application/json"
    finally:
        connection.close()
