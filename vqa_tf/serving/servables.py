"""Served models: every version under a base path, loaded, warmed up, swapped and unloaded.

Like `tensorflow_model_server`, a model's base path holds integer version
directories; the version policy picks which to serve, new ones are loaded
(and their `assets.extra/tf_serving_warmup_requests` replayed) before old
ones are unloaded, and a version that fails to load is reported in its
status while the others go on serving.
"""

import posixpath
import threading

import grpc
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the TF Text ops the exported graphs use)
from absl import logging
from tensorflow_serving.apis import get_model_status_pb2, prediction_log_pb2

from vqa_tf.serving.batching import BatchScheduler
from vqa_tf.serving.errors import ServingError, status_code, tensorflow_error_message
from vqa_tf.serving.tensors import from_proto
from vqa_tf.utils.saved_models import WARMUP_FILE, read_saved_model, versions

State = get_model_status_pb2.ModelVersionStatus.State
MAX_WARMUP_RECORDS = 1000  # TF Serving's limit
MAX_MESSAGE_CHARS = 4000  # error messages travel in gRPC trailers, which have a size limit


def _short(message):
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[:1000] + " … " + message[-(MAX_MESSAGE_CHARS - 1000):]


class ModelVersion:
    """One loaded SavedModel version: its signatures, run on numpy inputs.

    Example:

        version = ModelVersion("/models/smem/1", 1)
        outputs = version.run("serving_default", {"question": np.array([b"is there a red square?"], object),
                                                  "image": np.array([png_bytes], object)})
    """

    def __init__(self, path, version):
        self.path = path
        self.version = version
        self.module = tf.saved_model.load(path)
        self.signature_defs = read_saved_model(path).meta_graphs[0].signature_def
        self.signatures = dict(self.module.signatures)

    def input_specs(self, signature_name):
        """{input name: tf.TensorSpec} of a signature; INVALID_ARGUMENT if there is no such signature."""
        if signature_name not in self.signatures:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'signature "{signature_name}" not found in version {self.version}; '
                f"it has {sorted(self.signatures)}",
            )
        return self.signatures[signature_name].structured_input_signature[1]

    def check_inputs(self, signature_name, inputs):
        """Converts numpy inputs to the signature's dtypes, naming any missing, unknown or mis-shaped input."""
        specs = self.input_specs(signature_name)
        unknown, missing = sorted(set(inputs) - set(specs)), sorted(set(specs) - set(inputs))
        if unknown or missing:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'signature "{signature_name}" takes inputs {sorted(specs)}; '
                + ", ".join(filter(None, [f"unknown {unknown}" if unknown else "", f"missing {missing}" if missing else ""])),
            )
        converted = {}
        for name, spec in specs.items():
            value = np.asarray(inputs[name])
            if spec.dtype == tf.string:
                if value.dtype != object and value.dtype.kind not in "SU":
                    raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r} must be strings, got {value.dtype}")
            else:
                try:
                    value = value.astype(spec.dtype.as_numpy_dtype, casting="same_kind")
                except TypeError:
                    raise ServingError(
                        grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r} must be {spec.dtype.name}, got {value.dtype}"
                    ) from None
            if not spec.shape.is_compatible_with(value.shape):
                raise ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"input {name!r} has shape {list(value.shape)}; the signature takes {spec.shape.as_list()}",
                )
            converted[name] = value
        return converted

    def run(self, signature_name, inputs):
        """{output name: numpy array} for checked inputs; a graph error becomes a ServingError with its code."""
        function = self.signatures[signature_name]
        try:
            outputs = function(**{name: tf.constant(value) for name, value in inputs.items()})
        except tf.errors.OpError as error:
            raise ServingError(status_code(error.error_code), _short(tensorflow_error_message(error))) from None
        return {name: value.numpy() for name, value in outputs.items()}

    def warm_up(self):
        """Replays `assets.extra/tf_serving_warmup_requests`; returns how many requests ran."""
        path = posixpath.join(self.path, WARMUP_FILE)
        if not tf.io.gfile.exists(path):
            return 0
        count = 0
        for record in tf.data.TFRecordDataset(path).take(MAX_WARMUP_RECORDS):
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            if log.WhichOneof("log_type") != "predict_log":
                raise ValueError(f"{path}: record {count} is a {log.WhichOneof('log_type')}; only predict logs are replayed")
            request = log.predict_log.request
            name = request.model_spec.signature_name or "serving_default"
            inputs = {key: from_proto(proto) for key, proto in request.inputs.items()}
            self.run(name, self.check_inputs(name, inputs))
            count += 1
        return count


class ServedModel:
    """The versions of one model, kept in step with its base path by `poll()`."""

    def __init__(self, config, batching=None):
        self.config = config
        self._batching = batching
        self._loaded = {}  # version -> ModelVersion
        self._schedulers = {}  # (version, signature) -> BatchScheduler
        self._states = {}  # version -> (State, error message)
        self._lock = threading.Lock()

    def poll(self):
        """Loads aspired versions that are new, then unloads versions no longer aspired.

        Availability first: old versions are unloaded only once an aspired one is
        available, so a new version that fails to load leaves the old one serving.
        """
        aspired = self.config.aspired(versions(self.config.base_path))
        for version in aspired:
            if version not in self._states:
                self._load(version)
        with self._lock:
            stale = [v for v in self._loaded if v not in aspired] if set(aspired) & set(self._loaded) else []
        for version in stale:
            self._unload(version)

    def _load(self, version):
        path = posixpath.join(self.config.base_path, str(version))
        self._states[version] = (State.LOADING, "")
        try:
            loaded = ModelVersion(path, version)
            warmed = loaded.warm_up()
        except Exception as error:  # a broken version must not stop the server: report it, serve the rest
            message = error.message if isinstance(error, ServingError) else f"{type(error).__name__}: {error}"
            logging.error("model %s version %d failed to load: %s", self.config.name, version, message)
            self._states[version] = (State.END, _short(f"loading {path} failed: {message}"))
            return
        with self._lock:
            self._loaded[version] = loaded
            self._states[version] = (State.AVAILABLE, "")
        logging.info("model %s version %d available (%d warm-up requests)", self.config.name, version, warmed)

    def _unload(self, version):
        with self._lock:
            self._states[version] = (State.UNLOADING, "")
            del self._loaded[version]
            for key in [k for k in self._schedulers if k[0] == version]:
                self._schedulers.pop(key).close()
            self._states[version] = (State.END, "")
        logging.info("model %s version %d unloaded", self.config.name, version)

    def resolve(self, version=None, label=None):
        """The ModelVersion a request names: a version, a label, or (neither) the latest available."""
        name = self.config.name
        with self._lock:
            if label:
                labels = dict(self.config.labels)
                if label not in labels:
                    raise ServingError(grpc.StatusCode.NOT_FOUND, f"model {name!r} has no version label {label!r}")
                version = labels[label]
            if version is None:
                if not self._loaded:
                    raise ServingError(grpc.StatusCode.NOT_FOUND, f"model {name!r} has no available version yet")
                return self._loaded[max(self._loaded)]
            if version not in self._loaded:
                raise ServingError(
                    grpc.StatusCode.NOT_FOUND,
                    f"model {name!r} version {version} is not available (available: {sorted(self._loaded)})",
                )
            return self._loaded[version]

    def predict(self, inputs, signature_name, version=None, label=None):
        """(version number, outputs) of one request, through the batch scheduler when batching is on."""
        served = self.resolve(version, label)
        checked = served.check_inputs(signature_name, inputs)
        if self._batching is None:
            return served.version, served.run(signature_name, checked)
        key = (served.version, signature_name)
        with self._lock:
            if key not in self._schedulers:
                self._schedulers[key] = BatchScheduler(
                    lambda batch, s=served: s.run(signature_name, batch), self._batching
                )
            scheduler = self._schedulers[key]
        return served.version, scheduler.submit(checked)

    def status(self, version=None):
        """[(version, State, error message)] of every version seen, or of one."""
        states = dict(self._states)
        if version is not None:
            if version not in states:
                raise ServingError(grpc.StatusCode.NOT_FOUND, f"model {self.config.name!r} has no version {version}")
            states = {version: states[version]}
        if not states:
            raise ServingError(
                grpc.StatusCode.NOT_FOUND,
                f"model {self.config.name!r} has no versions under {self.config.base_path} yet",
            )
        return [(v, state, error) for v, (state, error) in sorted(states.items())]

    def close(self):
        with self._lock:
            for scheduler in self._schedulers.values():
                scheduler.close()
            self._schedulers.clear()


class ServableManager:
    """All served models, polled for new versions every `poll_seconds` on a background thread.

    Example:

        manager = ServableManager([ModelConfig("smem", "/models/smem")])
        manager.start(poll_seconds=1)
        version, outputs = manager.model("smem").predict(inputs, "serving_default")
    """

    def __init__(self, configs, batching=None):
        self._models = {config.name: ServedModel(config, batching) for config in configs}
        self._stop = threading.Event()
        self._thread = None

    def model(self, name):
        if name not in self._models:
            raise ServingError(
                grpc.StatusCode.NOT_FOUND, f"model {name!r} is not served (served models: {sorted(self._models)})"
            )
        return self._models[name]

    def poll(self):
        for model in self._models.values():
            model.poll()

    def start(self, poll_seconds):
        """Loads what is there now, then keeps polling in the background (0: never poll again)."""
        self.poll()
        if poll_seconds > 0:
            self._thread = threading.Thread(target=self._poll_loop, args=(poll_seconds,), daemon=True)
            self._thread.start()

    def _poll_loop(self, seconds):
        while not self._stop.wait(seconds):
            try:
                self.poll()
            except Exception:  # keep serving what is loaded; the next poll tries again
                logging.exception("polling the model base paths failed")

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for model in self._models.values():
            model.close()
