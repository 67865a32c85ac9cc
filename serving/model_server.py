"""The local stand-in for `tensorflow_model_server`: same flags, same gRPC services, same REST API.

    vqa-model-server --port=8500 --rest_api_port=8501 --model_name=smem --model_base_path=/models/smem
    vqa-model-server --model_config_file=serving/config/models.config \
        --enable_batching --batching_parameters_file=serving/config/batching_parameters.txt

It serves the SavedModel versions under each base path (new versions are
picked up every `--file_system_poll_wait_seconds`, old ones unloaded by the
version policy) for development and tests where the real server, which is
not on PyPI, is not installed. It binds to 127.0.0.1 unless told otherwise
(`--bind_address`; the real server listens on every interface).
"""

import os
import signal
import threading
from concurrent import futures
from http.server import ThreadingHTTPServer

import grpc
from absl import flags, logging

from serving import grpc_service, rest_service
from serving.server_config import BatchingParameters, ModelConfig, read_batching_parameters, read_model_config_file
from serving.servables import ServableManager
from trainers import cli

flags.DEFINE_integer("port", 8500, "gRPC port.")
flags.DEFINE_integer("rest_api_port", 0, "REST port (0: no REST API, as in tensorflow_model_server).")
flags.DEFINE_string("bind_address", "127.0.0.1", "Interface to listen on (0.0.0.0 for every interface).")
flags.DEFINE_string("model_name", "default", "Name of the model served from --model_base_path.")
flags.DEFINE_string("model_base_path", None, "Directory of integer version subdirectories.")
flags.DEFINE_string("model_config_file", None, "Text-format ModelServerConfig (instead of --model_name/--model_base_path).")
flags.DEFINE_bool("enable_batching", False, "Batch concurrent requests to the same signature.")
flags.DEFINE_string("batching_parameters_file", None, "Text-format BatchingParameters (with --enable_batching).")
flags.DEFINE_integer("file_system_poll_wait_seconds", 1, "Seconds between polls for new versions (0: load once).")
flags.DEFINE_integer("grpc_max_threads", 64, "Threads answering gRPC requests (and the most concurrent ones).")
FLAGS = flags.FLAGS

GRPC_OPTIONS = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]


def model_configs():
    if bool(FLAGS.model_base_path) == bool(FLAGS.model_config_file):
        raise ValueError("give exactly one of --model_base_path (with --model_name) and --model_config_file")
    if FLAGS.model_config_file:
        return read_model_config_file(FLAGS.model_config_file)
    return [ModelConfig(FLAGS.model_name, os.path.abspath(FLAGS.model_base_path))]


def batching_parameters():
    if not FLAGS.enable_batching:
        if FLAGS.batching_parameters_file:
            raise ValueError("--batching_parameters_file needs --enable_batching")
        return None
    if FLAGS.batching_parameters_file:
        return read_batching_parameters(FLAGS.batching_parameters_file)
    return BatchingParameters()


def serve(manager, bind_address, port, rest_api_port, max_threads):
    """Starts the gRPC (and REST) servers; returns a function that stops them."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_threads), options=GRPC_OPTIONS)
    grpc_service.add_services(server, manager)
    address = f"{bind_address}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise ValueError(f"cannot listen for gRPC on {address} (is the port in use?)")
    server.start()
    logging.info("Running gRPC ModelServer at %s", address)
    rest = None
    if rest_api_port:
        try:
            rest = ThreadingHTTPServer((bind_address, rest_api_port), rest_service.make_handler(manager))
        except OSError as error:
            server.stop(None)
            raise ValueError(f"cannot listen for REST on {bind_address}:{rest_api_port}: {error}") from None
        rest.daemon_threads = True
        threading.Thread(target=rest.serve_forever, daemon=True).start()
        logging.info("Exporting HTTP/REST API at %s:%d", bind_address, rest_api_port)

    def stop():
        if rest is not None:
            rest.shutdown()
        server.stop(grace=2).wait()

    return stop


def main(argv):
    del argv
    logging.set_verbosity(logging.INFO)
    manager = ServableManager(model_configs(), batching_parameters())
    manager.start(FLAGS.file_system_poll_wait_seconds)
    stop = serve(manager, FLAGS.bind_address, FLAGS.port, FLAGS.rest_api_port, FLAGS.grpc_max_threads)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    while not stopping.wait(1):
        pass
    stop()
    manager.close()


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
