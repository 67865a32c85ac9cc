"""Starts TF Serving's gRPC services and REST API over a ServableManager, as `tensorflow_model_server` does.

gRPC runs on a `grpc.aio` server with its own event loop thread: a batched Predict
waits on that loop, so the only thread hand-off on its way is to the batch thread
and back; the model runs on a thread pool of `grpc_max_threads` when batching is off.
"""

import asyncio
import dataclasses
import threading
from concurrent import futures

import grpc
import tensorflow as tf
from absl import logging

from vqa_tf.serving import grpc_service
from vqa_tf.serving.http_server import HttpLimits
from vqa_tf.serving.rest_service import RestServer
from vqa_tf.serving.tensors import MAX_ELEMENTS


def set_tensorflow_threads(intra_op, inter_op):
    """TF Serving's `--tensorflow_intra_op_parallelism` and `--tensorflow_inter_op_parallelism` (0: TensorFlow's
    choice), applied before TensorFlow starts its runtime; logs the values TensorFlow took."""
    tf.config.threading.set_intra_op_parallelism_threads(intra_op)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    logging.info(
        "TensorFlow threads: intra-op %d, inter-op %d (0: TensorFlow's choice)",
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )


@dataclasses.dataclass(frozen=True)
class RequestLimits:
    """What requests may cost the server: each field is the model server flag of the same name.

    `grpc_max_threads`, `rest_api_num_threads` and `rest_api_timeout_in_ms` are
    TF Serving's flags (its defaults: 4 × CPUs, 4 × CPUs, 30 s; here
    `grpc_max_threads` sizes the pool that runs unbatched Predicts and the
    metadata and status calls, and the REST timeout bounds the wait for a whole
    request); the rest are this server's (TF Serving's gRPC message limit is
    INT_MAX, and its REST body has no cap).

    Examples:

        RequestLimits(grpc_max_message_bytes=4 << 20, rest_api_timeout_in_ms=5000)
    """

    max_tensor_elements: int = MAX_ELEMENTS
    grpc_max_threads: int = 64
    grpc_max_concurrent_rpcs: int = 256
    grpc_max_message_bytes: int = 64 << 20
    rest_api_num_threads: int = HttpLimits.num_threads
    rest_api_timeout_in_ms: int = int(HttpLimits.timeout_seconds * 1000)
    rest_api_max_body_bytes: int = HttpLimits.max_body_bytes

    def __post_init__(self):
        if min(dataclasses.astuple(self)) < 1:
            raise ValueError(f"request limits must be positive: {self}")

    def http_limits(self):
        """The REST limits as the HTTP server takes them."""
        return HttpLimits(self.rest_api_num_threads, self.rest_api_timeout_in_ms / 1000, self.rest_api_max_body_bytes)


def start_server(manager, bind_address, port, rest_api_port=0, limits=RequestLimits(), metrics_path=None):
    """Serves `manager`'s models over gRPC on `port` (and REST on `rest_api_port` unless 0); returns `stop()`.

    `limits` bounds what one request may cost. `metrics_path`, if given, serves
    the Prometheus metrics on the REST port. A port that cannot be bound
    raises ValueError naming it.

    Examples:

        manager = ServableManager([ModelConfig("smem", "/models/smem")])
        manager.start(poll_seconds=1)
        stop = start_server(manager, "127.0.0.1", 8500, rest_api_port=8501)
        ...
        stop()
    """
    if metrics_path and not rest_api_port:
        raise ValueError("the Prometheus metrics are served on the REST port: give a rest_api_port")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="grpc", daemon=True)
    thread.start()
    executor = futures.ThreadPoolExecutor(max_workers=limits.grpc_max_threads, thread_name_prefix="grpc")
    address = f"{bind_address}:{port}"
    try:
        server = asyncio.run_coroutine_threadsafe(_start_grpc(manager, address, executor, limits), loop).result()
    except ValueError:
        _stop_loop(loop, thread, executor)
        raise
    logging.info("Running gRPC ModelServer at %s", address)
    rest = None
    if rest_api_port:
        try:
            rest = RestServer(manager, bind_address, rest_api_port, limits.http_limits(), metrics_path)
        except OSError as error:
            asyncio.run_coroutine_threadsafe(server.stop(None), loop).result()
            _stop_loop(loop, thread, executor)
            raise ValueError(f"cannot listen for REST on {bind_address}:{rest_api_port}: {error}") from None
        logging.info("Exporting HTTP/REST API at %s:%d", bind_address, rest_api_port)

    def stop():
        if rest is not None:
            rest.close()
        asyncio.run_coroutine_threadsafe(server.stop(grace=2), loop).result()
        _stop_loop(loop, thread, executor)

    return stop


async def _start_grpc(manager, address, executor, limits):
    """A started grpc.aio server of TF Serving's services on `address`; ValueError if it cannot bind."""
    server = grpc.aio.server(
        migration_thread_pool=executor,
        options=[
            ("grpc.max_receive_message_length", limits.grpc_max_message_bytes),
            ("grpc.max_send_message_length", limits.grpc_max_message_bytes),
        ],
        maximum_concurrent_rpcs=limits.grpc_max_concurrent_rpcs,
    )
    grpc_service.add_services(server, manager, executor, limits.max_tensor_elements)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise ValueError(f"cannot listen for gRPC on {address} (is the port in use?)")
    await server.start()
    return server


def _stop_loop(loop, thread, executor):
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()
    executor.shutdown(wait=False, cancel_futures=True)
