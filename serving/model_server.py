r"""The local stand-in for `tensorflow_model_server`: same flags, same gRPC services, same REST API.

    vqa-model-server --port=8500 --rest_api_port=8501 --model_name=smem --model_base_path=/models/smem
    vqa-model-server --model_config_file=serving/config/models.config \
        --enable_batching --batching_parameters_file=serving/config/batching_parameters.txt

It serves the SavedModel versions under each base path (new versions are
picked up every `--file_system_poll_wait_seconds`, old ones unloaded by the
version policy) for development and tests where the real server, which is
not on PyPI, is not installed. It binds to 127.0.0.1 unless told otherwise
(`--bind_address`; the real server listens on every interface).
"""

import dataclasses
import signal
import threading

from absl import flags, logging

from vqa_tf import cli
from vqa_tf.serving.monitoring import read_monitoring_config
from vqa_tf.serving.servables import ServableManager
from vqa_tf.serving.server import RequestLimits, set_tensorflow_threads, start_server
from vqa_tf.serving.server_config import (
    BatchingParameters,
    ModelConfig,
    read_batching_parameters,
    read_model_config_file,
)
from vqa_tf.utils.files import absolute

flags.DEFINE_integer("port", 8500, "gRPC port.")
flags.DEFINE_integer("rest_api_port", 0, "REST port (0: no REST API, as in tensorflow_model_server).")
flags.DEFINE_string("bind_address", "127.0.0.1", "Interface to listen on (0.0.0.0 for every interface).")
flags.DEFINE_string("model_name", "default", "Name of the model served from --model_base_path.")
flags.DEFINE_string("model_base_path", None, "Directory of integer version subdirectories (a local path or a URL).")
flags.DEFINE_string(
    "model_config_file", None, "Text-format ModelServerConfig (instead of --model_name/--model_base_path)."
)
flags.DEFINE_bool("enable_batching", False, "Batch concurrent requests to the same signature.")
flags.DEFINE_string("batching_parameters_file", None, "Text-format BatchingParameters (with --enable_batching).")
flags.DEFINE_string(
    "monitoring_config_file",
    None,
    "Text-format MonitoringConfig; `prometheus_config { enable: true }` serves the metrics on the REST port.",
)
flags.DEFINE_integer("file_system_poll_wait_seconds", 1, "Seconds between polls for new versions (0: load once).")
flags.DEFINE_integer(
    "tensorflow_intra_op_parallelism",
    0,
    "Threads one TensorFlow op may split its work over (0: TensorFlow's choice, one per core).",
    lower_bound=0,
)
flags.DEFINE_integer(
    "tensorflow_inter_op_parallelism",
    0,
    "TensorFlow ops run at once (0: TensorFlow's choice).",
    lower_bound=0,
)
_LIMITS = RequestLimits()
flags.DEFINE_integer(
    "grpc_max_threads",
    _LIMITS.grpc_max_threads,
    "Threads running unbatched gRPC Predicts and the metadata and status calls "
    "(batched Predicts wait on the gRPC event loop and hold no thread).",
)
flags.DEFINE_integer(
    "grpc_max_concurrent_rpcs",
    _LIMITS.grpc_max_concurrent_rpcs,
    "gRPC requests in progress at once; more are answered RESOURCE_EXHAUSTED.",
)
flags.DEFINE_integer(
    "grpc_max_message_bytes",
    _LIMITS.grpc_max_message_bytes,
    "Largest gRPC message received or sent (RESOURCE_EXHAUSTED above it).",
)
flags.DEFINE_integer(
    "max_tensor_elements",
    _LIMITS.max_tensor_elements,
    "Most elements one received gRPC tensor may hold (INVALID_ARGUMENT above it).",
)
flags.DEFINE_integer("rest_api_num_threads", _LIMITS.rest_api_num_threads, "Threads answering REST requests.")
flags.DEFINE_integer(
    "rest_api_timeout_in_ms",
    _LIMITS.rest_api_timeout_in_ms,
    "A REST connection that sends no complete request for this long is closed.",
)
flags.DEFINE_integer(
    "rest_api_max_body_bytes", _LIMITS.rest_api_max_body_bytes, "Largest REST request body (413 above it)."
)
FLAGS = flags.FLAGS


def model_configs():
    if bool(FLAGS.model_base_path) == bool(FLAGS.model_config_file):
        raise ValueError("give exactly one of --model_base_path (with --model_name) and --model_config_file")
    if FLAGS.model_config_file:
        return read_model_config_file(FLAGS.model_config_file)
    return [ModelConfig(FLAGS.model_name, absolute(FLAGS.model_base_path))]


def batching_parameters():
    if not FLAGS.enable_batching:
        if FLAGS.batching_parameters_file:
            raise ValueError("--batching_parameters_file needs --enable_batching")
        return None
    if FLAGS.batching_parameters_file:
        return read_batching_parameters(FLAGS.batching_parameters_file)
    return BatchingParameters()


def main(argv):
    del argv
    set_tensorflow_threads(FLAGS.tensorflow_intra_op_parallelism, FLAGS.tensorflow_inter_op_parallelism)
    manager = ServableManager(model_configs(), batching_parameters())
    manager.start(FLAGS.file_system_poll_wait_seconds)
    limits = RequestLimits(**{field.name: FLAGS[field.name].value for field in dataclasses.fields(RequestLimits)})
    metrics_path = read_monitoring_config(FLAGS.monitoring_config_file) if FLAGS.monitoring_config_file else None
    stop = start_server(manager, FLAGS.bind_address, FLAGS.port, FLAGS.rest_api_port, limits, metrics_path)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    while not stopping.wait(1):
        pass
    stop()
    manager.close()
    logging.info("stopped")


def run():
    # A server's log should say what it loads and serves, as tensorflow_model_server's does.
    cli.run(main, default_verbosity=logging.INFO)


if __name__ == "__main__":
    run()
