"""Starts TF Serving's gRPC services and REST API over a ServableManager, as `tensorflow_model_server` does."""

import threading
from concurrent import futures
from http.server import ThreadingHTTPServer

import grpc
from absl import logging

from vqa_tf.serving import grpc_service, rest_service

GRPC_OPTIONS = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]


def start_server(manager, bind_address, port, rest_api_port=0, max_threads=64):
    """Serves `manager`'s models over gRPC on `port` (and REST on `rest_api_port` unless 0); returns `stop()`.

    A port that cannot be bound raises ValueError naming it.

    Example:

        manager = ServableManager([ModelConfig("smem", "/models/smem")])
        manager.start(poll_seconds=1)
        stop = start_server(manager, "127.0.0.1", 8500, rest_api_port=8501)
        ...
        stop()
    """
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
