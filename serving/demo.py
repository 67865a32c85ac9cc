r"""Serves the demo page: ask a served VQA model about an image and see where each hop looks.

    vqa-demo --rest_server=localhost:8501 --model_name=smem --examples_dir=/photos      # next to a model server
    vqa-demo --model_base_path=runs/smem/exports --model_name=smem --examples_dir=/photos  # starts one itself
    vqa-demo ... --search_model_name=mdan --search_model_base_path=runs/mdan/exports --gallery_index=/gallery/index

Open the printed address. The page (plain HTML, CSS and JavaScript shipped in
the package; nothing is fetched from the internet) sends each question and
image to the model server's REST API through this server, on the page's own
origin, and shows the answer, the top answers' scores and one attention
overlay per hop, or the model server's error message. With --gallery_index
(written by `vqa-index`) and a served m-DAN, a search tab finds the gallery's
best images for a sentence: the m-DAN's `embed_text` on the model server
embeds it, and this server looks the embedding up in the index. No model code
runs here.
"""

import os
import signal
import sys
import tempfile

from absl import flags

from vqa_tf import cli
from vqa_tf.demo import DemoServer
from vqa_tf.search import GalleryIndex
from vqa_tf.serving import LocalServerProcess
from vqa_tf.serving.http_server import HttpLimits

flags.DEFINE_string("bind_address", "127.0.0.1", "Address the page listens on (0.0.0.0 exposes it to the network).")
flags.DEFINE_integer("port", 8080, "Port of the page (0: any free port).")
flags.DEFINE_string("rest_server", None, "REST address of a running model server, e.g. localhost:8501.")
flags.DEFINE_string("model_base_path", None, "Start vqa-model-server on this export base path instead.")
flags.DEFINE_string("model_name", "default", "The served model's name.")
flags.DEFINE_string("examples_dir", None, "Directory of example JPEG/PNG images the page offers.")
flags.DEFINE_string("search_model_name", None, "A served m-DAN for the search tab (with --gallery_index).")
flags.DEFINE_string(
    "search_model_base_path",
    None,
    "Start a model server for the m-DAN on this export base path (else --rest_server serves it).",
)
flags.DEFINE_string("gallery_index", None, "The index vqa-index built with that m-DAN (<output_dir>/index).")
# The page's own limits: the model server's REST flags, with its defaults.
flags.DEFINE_integer("rest_api_num_threads", HttpLimits.num_threads, "Threads answering the page's requests.")
flags.DEFINE_integer(
    "rest_api_timeout_in_ms",
    int(HttpLimits.timeout_seconds * 1000),
    "A connection that sends no complete request for this long is closed.",
)
flags.DEFINE_integer("rest_api_max_body_bytes", HttpLimits.max_body_bytes, "Largest request body (413 above it).")
flags.register_multi_flags_validator(
    ["search_model_name", "gallery_index"],
    lambda values: bool(values["search_model_name"]) == bool(values["gallery_index"]),
    "the search tab needs both --search_model_name and --gallery_index",
)
flags.register_multi_flags_validator(
    ["rest_server", "model_base_path"],
    lambda values: bool(values["rest_server"]) != bool(values["model_base_path"]),
    "give either --rest_server (a running model server) or --model_base_path (start one)",
)
FLAGS = flags.FLAGS


def _start_model_server(name, base_path, servers):
    log = os.path.join(tempfile.mkdtemp(prefix="vqa-demo-"), "model_server.log")
    server = LocalServerProcess(name, base_path, log)
    servers.append(server)
    server.wait_until_serving()
    print(f"started vqa-model-server for {name!r} on {base_path} (REST {server.rest_address}, log {log})")
    return server.rest_address


def main(argv):
    del argv
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the model servers it started, as on Ctrl-C
    model_servers = []
    try:
        rest_address = FLAGS.rest_server or _start_model_server(FLAGS.model_name, FLAGS.model_base_path, model_servers)
        search = None
        if FLAGS.gallery_index:
            search_address = (
                _start_model_server(FLAGS.search_model_name, FLAGS.search_model_base_path, model_servers)
                if FLAGS.search_model_base_path
                else rest_address
            )
            search = (FLAGS.search_model_name, search_address, GalleryIndex.load(FLAGS.gallery_index))
        limits = HttpLimits(
            FLAGS.rest_api_num_threads, FLAGS.rest_api_timeout_in_ms / 1000, FLAGS.rest_api_max_body_bytes
        )
        server = DemoServer(
            FLAGS.bind_address, FLAGS.port, rest_address, FLAGS.model_name, FLAGS.examples_dir, search, limits
        )
        print(f"demo page at {server.url} (model {FLAGS.model_name!r} at REST {rest_address})", flush=True)
        try:
            server.wait()
        finally:
            server.close()
    finally:
        for model_server in model_servers:
            model_server.stop()


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
