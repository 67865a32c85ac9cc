"""The demo page's HTTP server: static assets, example images, and a pass-through to the model server's REST API.

    GET  /                      the page (static/index.html), /static/<file> its script and style
    GET  /config.json           the served models' names and the example images' names
    GET  /examples/<name>       an example image's bytes
    POST /v1/models/NAME…       passed to the REST API serving NAME unchanged, its answer returned unchanged
    POST /search                {"embedding": [D floats], "k": n} → the gallery index's n best images
    GET  /gallery/<i>           the gallery index's i-th image

No model code runs here: answers, scores, attention maps, sentence embeddings
and error messages are the model servers' own; `/search` only looks an
embedding the m-DAN's `embed_text` returned up in the FAISS index.
"""

import http.client
import http.server
import json
import mimetypes
import os
import posixpath
import re
import threading
import urllib.parse

import tensorflow as tf

from vqa_tf.search import GalleryError
from vqa_tf.search.gallery_embedding import IMAGE_SUFFIXES

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
MAX_BODY_BYTES = 64 << 20  # the local model server's default REST body limit
MAX_RESULTS = 100
_MODEL_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)")


class DemoServer(http.server.ThreadingHTTPServer):
    """Serves the demo page on (host, port) next to a model server's REST API at `rest_address`.

    `search`: optional (m-DAN model name, the REST address serving it, a GalleryIndex of the gallery
    that m-DAN embedded), for the page's search tab.

    Examples:

        server = DemoServer("127.0.0.1", 0, "127.0.0.1:8501", "smem", examples_dir="/photos",
                            search=("mdan", "127.0.0.1:8501", GalleryIndex.load("/gallery/index")))
        server.start()
        print(server.url)   # http://127.0.0.1:<port>/
    """

    daemon_threads = True

    def __init__(self, host, port, rest_address, model_name, examples_dir=None, search=None):
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
        super().__init__((host, port), _Handler)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self):
        """Serves on a background thread; returns it."""
        thread = threading.Thread(target=self.serve_forever, name="demo", daemon=True)
        thread.start()
        return thread


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "vqa-demo"

    def log_message(self, format, *args):
        pass

    def _send(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status, value):
        self._send(status, json.dumps(value).encode("utf-8"), "application/json")

    def do_GET(self):
        path = urllib.parse.unquote(self.path.split("?", 1)[0])
        if path in ("/", "/index.html"):
            return self._file(os.path.join(STATIC_DIR, "index.html"))
        if path.startswith("/static/") and "/" not in path[len("/static/") :]:
            return self._file(os.path.join(STATIC_DIR, path[len("/static/") :]))
        if path == "/config.json":
            return self._json(
                200,
                {
                    "model_name": self.server.model_name,
                    "search_model": self.server.search_model,
                    "examples": list(self.server.examples),
                },
            )
        if path.startswith("/examples/") and path[len("/examples/") :] in self.server.examples:
            return self._image(self.server.examples[path[len("/examples/") :]])
        if path.startswith("/gallery/") and self.server.index is not None:
            number = path[len("/gallery/") :]
            if number.isdigit() and int(number) < len(self.server.index.paths):
                return self._image(self.server.index.paths[int(number)])
        self._json(404, {"error": f"no such page: {path[:200]}"})

    def _image(self, path):
        """An image file the user named (local or a URL), through tf.io.gfile."""
        with tf.io.gfile.GFile(path, "rb") as f:
            self._send(200, f.read(), mimetypes.guess_type(path)[0] or "application/octet-stream")

    def _file(self, path):
        if not os.path.isfile(path):
            return self._json(404, {"error": f"no such file: {os.path.basename(path)}"})
        with open(path, "rb") as f:
            self._send(200, f.read(), mimetypes.guess_type(path)[0] or "application/octet-stream")

    def _body(self):
        """The request's body, or None once a JSON error has been sent."""
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self._json(
                413 if length.isdigit() else 411,
                {"error": f"the request needs a Content-Length of at most {MAX_BODY_BYTES} bytes"},
            )
            return None
        return self.rfile.read(int(length))

    def do_POST(self):
        if self.path == "/search" and self.server.index is not None:
            body = self._body()
            return None if body is None else self._search(body)
        match = _MODEL_PATH.match(self.path)
        if match is None:
            return self._json(404, {"error": f"no such endpoint: {self.path[:200]}"})
        body = self._body()
        if body is None:
            return None
        addresses = self.server.rest_addresses  # another name goes to the VQA model's server, which says it has none
        address = addresses.get(match["name"], addresses[self.server.model_name])
        connection = http.client.HTTPConnection(address, timeout=120)
        try:
            connection.request("POST", self.path, body, {"Content-Type": "application/json"})
            answer = connection.getresponse()
            self._send(answer.status, answer.read(), answer.getheader("Content-Type", "application/json"))
        except OSError as error:
            self._json(502, {"error": f"the model server at {address} did not answer: {error}"})
        finally:
            connection.close()

    def _search(self, body):
        try:
            request = json.loads(body)
            embedding, k = request["embedding"], int(request.get("k", 8))
            if not 1 <= k <= MAX_RESULTS:
                raise ValueError(f"k must lie in [1, {MAX_RESULTS}], got {k}")
            scores, numbers = self.server.index.nearest([embedding], k)
        except (ValueError, KeyError, TypeError, GalleryError) as error:
            return self._json(400, {"error": f"cannot search: {error}"})
        paths = self.server.index.paths
        self._json(
            200,
            {
                "results": [
                    {"image": f"/gallery/{i}", "name": posixpath.basename(paths[i]), "score": float(score)}
                    for i, score in zip(numbers[0], scores[0])
                ]
            },
        )
