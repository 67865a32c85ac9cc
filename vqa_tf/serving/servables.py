"""Served models: every version under a base path, loaded, warmed up, swapped and unloaded.

Like `tensorflow_model_server`, a model's base path holds integer version
directories; the version policy picks which to serve, new ones are loaded
(and their `assets.extra/tf_serving_warmup_requests` replayed) before old
ones are unloaded, and a version that fails to load is reported in its
status while the others go on serving. Requests hold the version they run
on, so unloading it never fails them.
"""

import asyncio
import functools
import gc
import posixpath
import threading
import time

import grpc
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the TF Text ops the exported graphs use)
from absl import logging
from tensorflow_serving.apis import get_model_status_pb2, prediction_log_pb2

from vqa_tf.serving.batching import BatchScheduler
from vqa_tf.serving.errors import ServingError, status_code
from vqa_tf.serving.tensors import from_proto
from vqa_tf.utils.saved_models import WARMUP_FILE, file_listing, fingerprint, read_saved_model, versions
from vqa_tf.utils.tf_errors import tensorflow_error_message

State = get_model_status_pb2.ModelVersionStatus.State
MAX_WARMUP_RECORDS = 1000  # TF Serving's limit
MAX_MESSAGE_CHARS = 4000  # error messages travel in gRPC trailers, which have a size limit


def _short(message):
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[:1000] + " … " + message[-(MAX_MESSAGE_CHARS - 1000) :]


class ModelVersion:
    """One loaded SavedModel version: its signatures, run on numpy inputs.

    Examples:

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
                f'signature "{signature_name}" not found in version {self.version}; it has {sorted(self.signatures)}',
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
                + ", ".join(
                    filter(None, [f"unknown {unknown}" if unknown else "", f"missing {missing}" if missing else ""])
                ),
            )
        converted = {}
        for name, spec in specs.items():
            value = np.asarray(inputs[name])
            if spec.dtype == tf.string:
                if value.dtype != object and value.dtype.kind not in "SU":
                    raise ServingError(
                        grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r} must be strings, got {value.dtype}"
                    )
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
                raise ValueError(
                    f"{path}: record {count} is a {log.WhichOneof('log_type')}; only predict logs are replayed"
                )
            request = log.predict_log.request
            name = request.model_spec.signature_name or "serving_default"
            inputs = {key: from_proto(proto) for key, proto in request.inputs.items()}
            self.run(name, self.check_inputs(name, inputs))
            count += 1
        return count


class _Servable:
    """A loaded SavedModel as requests use it: held by the requests running on it, retired by the poller,
    closed (its batch threads stopped) once it is retired and no request holds it."""

    def __init__(self, model, fingerprint):
        self.model = model
        self.fingerprint = fingerprint
        self.holds = 0
        self.retired = False
        self.closed = False
        self._schedulers = {}  # signature name -> BatchScheduler

    def scheduler(self, signature_name, batching):
        """The batch scheduler of a signature, made on first use by a request that holds this servable."""
        if self.closed:
            raise ServingError(grpc.StatusCode.UNAVAILABLE, f"version {self.model.version} was unloaded; retry")
        if signature_name not in self._schedulers:
            run = functools.partial(self.model.run, signature_name)
            self._schedulers[signature_name] = BatchScheduler(run, batching)
        return self._schedulers[signature_name]

    def close(self):
        self.closed = True
        for scheduler in self._schedulers.values():
            scheduler.close()
        self._schedulers.clear()


def _run_now(model, signature_name, inputs, deadline):
    checked = model.check_inputs(signature_name, inputs)
    if deadline is not None and time.monotonic() >= deadline:
        raise ServingError(
            grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed before the request ran; it was not run"
        )
    return model.run(signature_name, checked)


class ServedModel:
    """The versions of one model, kept in step with its base path by `poll()`.

    Each poll reconciles what is served with what is on disk, as TF Serving's
    file-system source and availability-preserving policy do: versions the
    policy aspires to are loaded (the newest first) before versions it no
    longer aspires to are unloaded; while no aspired version is available the
    newest of the others goes on serving, so deleting the newest version
    serves the previous one again once it is loaded. A base path with no
    versions unloads them all; a base path that is missing (or unreachable)
    changes nothing. Beyond TF Serving: a version whose SavedModel is replaced
    under the same number (its `fingerprint()` changes) is reloaded, the new
    one loaded before the old one is retired; and a version that failed to
    load is tried again once its files change (TF Serving tries again only
    after the version has left the base path).

    A request holds the version it runs on until it is answered: a version
    retired meanwhile finishes its requests (UNLOADING), then stops its batch
    threads and is dropped (END).

    Examples:

        model = ServedModel(ModelConfig("smem", "/models/smem"))
        model.poll()
        version, outputs = model.predict(inputs, "serving_default", timeout=5.0)
    """

    def __init__(self, config, batching=None):
        self.config = config
        self._batching = batching
        self._live = {}  # version -> the _Servable new requests get
        self._retiring = set()  # retired _Servables that requests still hold
        self._failed = {}  # version -> file_listing() of its directory when it failed to load
        self._states = {}  # version -> (State, error message)
        self._unloaded = False  # a SavedModel was dropped since the last poll: collect its garbage
        self._lock = threading.Lock()
        self._polling = threading.Lock()

    def poll(self):
        """Loads the aspired versions that are new, replaced or repaired on disk, then unloads the others."""
        base = self.config.base_path
        with self._polling:
            if not tf.io.gfile.isdir(base):
                logging.log_every_n_seconds(
                    logging.WARNING,
                    "model %s: base path %s not found; serving what is loaded",
                    60,
                    self.config.name,
                    base,
                )
                return
            aspired = self.config.aspired(versions(base))
            self._failed = {v: listing for v, listing in self._failed.items() if v in aspired}
            for version in sorted(aspired, reverse=True):
                try:
                    self._refresh(version)
                except Exception:  # e.g. a directory deleted while it was read: the next poll sees it anew
                    logging.exception("model %s: checking version %d failed", self.config.name, version)
            self._unload_unaspired(aspired)
            with self._lock:
                unloaded, self._unloaded = self._unloaded, False
            if unloaded:  # a loaded SavedModel is full of reference cycles: free its memory now, not some day
                gc.collect()

    def _refresh(self, version):
        path = posixpath.join(self.config.base_path, str(version))
        live = self._live.get(version)
        if live is not None and fingerprint(path) == live.fingerprint:
            if self._failed.pop(version, None) is not None:  # a failed replacement was taken back
                self._set_state(version, State.AVAILABLE)
            return
        if version in self._failed and file_listing(path) == self._failed[version]:
            return  # it would fail as it did: try again once its files change
        self._load(version, path, live)

    def _load(self, version, path, live):
        """Loads `path` as `version`; `live`, the SavedModel it replaces (or None), serves until it is ready."""
        loaded_fingerprint, listing = fingerprint(path), file_listing(path)  # a change while loading shows next poll
        if live is None:
            self._set_state(version, State.LOADING)
        try:
            model = ModelVersion(path, version)
            warmed = model.warm_up()
        except Exception as error:  # a broken version must not stop the server: report it, serve the rest
            message = error.message if isinstance(error, ServingError) else f"{type(error).__name__}: {error}"
            logging.error("model %s version %d failed to load: %s", self.config.name, version, message)
            self._failed[version] = listing
            if live is None:
                self._set_state(version, State.END, f"loading {path} failed: {message}")
            else:
                self._set_state(
                    version,
                    State.AVAILABLE,
                    f"serving the SavedModel loaded before: loading the one now at {path} failed: {message}",
                )
            return
        self._failed.pop(version, None)
        with self._lock:
            self._live[version] = _Servable(model, loaded_fingerprint)
            self._states[version] = (State.AVAILABLE, "")
            if live is not None:
                self._retire(live)
        logging.info(
            "model %s version %d %s (%d warm-up requests)",
            self.config.name,
            version,
            "reloaded: its SavedModel was replaced" if live else "available",
            warmed,
        )

    def _unload_unaspired(self, aspired):
        with self._lock:
            stale = sorted(v for v in self._live if v not in aspired)
            if aspired and not any(v in self._live for v in aspired):
                stale = stale[:-1]  # no aspired version serves yet: the newest of the others goes on serving
            for version in stale:
                entry = self._live.pop(version)
                self._retire(entry)
                self._states[version] = (State.UNLOADING if entry.holds else State.END, "")
                logging.info(
                    "model %s version %d %s",
                    self.config.name,
                    version,
                    f"unloading after {entry.holds} requests in progress" if entry.holds else "unloaded",
                )

    def _retire(self, entry):
        """No new request gets `entry`; it closes once the requests holding it are answered. Under the lock."""
        entry.retired = True
        if entry.holds:
            self._retiring.add(entry)
        else:
            self._close(entry)

    def _close(self, entry):
        """Stops `entry`'s batch threads; the next poll frees its memory. Under the lock."""
        entry.close()
        self._unloaded = True

    def _hold(self, version, label, served):
        """The _Servable a request runs on, held until `_release`; None if `served` has been closed since."""
        with self._lock:
            if served is None:
                entry = self._find(version, label)
            else:
                entry = next(
                    (
                        e
                        for e in [self._live.get(served.version), *self._retiring]
                        if e is not None and e.model is served
                    ),
                    None,
                )
                if entry is None:
                    return None
            entry.holds += 1
            return entry

    def _release(self, entry):
        with self._lock:
            entry.holds -= 1
            if not entry.retired or entry.holds:
                return
            self._retiring.discard(entry)
            self._close(entry)
            version = entry.model.version
            if self._states[version][0] == State.UNLOADING and all(e.model.version != version for e in self._retiring):
                self._states[version] = (State.END, "")
                logging.info("model %s version %d unloaded", self.config.name, version)

    def _set_state(self, version, state, error=""):
        with self._lock:
            self._states[version] = (state, _short(error))

    def _find(self, version, label):
        name = self.config.name
        if label:
            labels = dict(self.config.labels)
            if label not in labels:
                raise ServingError(grpc.StatusCode.NOT_FOUND, f"model {name!r} has no version label {label!r}")
            version = labels[label]
        if version is None:
            if not self._live:
                raise ServingError(grpc.StatusCode.NOT_FOUND, f"model {name!r} has no available version yet")
            return self._live[max(self._live)]
        if version not in self._live:
            raise ServingError(
                grpc.StatusCode.NOT_FOUND,
                f"model {name!r} version {version} is not available (available: {sorted(self._live)})",
            )
        return self._live[version]

    def resolve(self, version=None, label=None):
        """The ModelVersion a request names: a version, a label, or (neither) the latest available."""
        with self._lock:
            return self._find(version, label).model

    def predict(self, inputs, signature_name, version=None, label=None, timeout=None, served=None):
        """(version number, outputs) of one request, through the batch scheduler when batching is on.

        `timeout`: the seconds left to the request (its gRPC deadline): DEADLINE_EXCEEDED once they
        pass, and the request is not run if they pass before it runs. `served`: a ModelVersion the
        caller resolved already (REST reads its input names first), which the request runs on even
        if it has been unloaded since.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        entry = self._hold(version, label, served)
        if entry is None:  # `served` was unloaded since it was resolved; its batch threads are gone
            return served.version, _run_now(served, signature_name, inputs, deadline)
        try:
            if self._batching is None:
                return entry.model.version, _run_now(entry.model, signature_name, inputs, deadline)
            scheduler, checked = self._scheduler(entry, signature_name, inputs)
            return entry.model.version, scheduler.submit(checked, deadline)
        finally:
            self._release(entry)

    async def predict_async(self, inputs, signature_name, version=None, label=None, timeout=None, executor=None):
        """`predict` for a coroutine on an asyncio loop. With batching on, the request waits on the loop
        and the batch thread runs it; without, `predict` runs on `executor` (the loop's default if None)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._batching is None:  # the time spent waiting for a thread counts against the deadline

            def call():
                return self.predict(
                    inputs, signature_name, version, label, None if deadline is None else deadline - time.monotonic()
                )

            return await asyncio.get_running_loop().run_in_executor(executor, call)
        entry = self._hold(version, label, None)
        try:
            scheduler, checked = self._scheduler(entry, signature_name, inputs)
            return entry.model.version, await scheduler.submit_async(checked, deadline)
        finally:
            self._release(entry)

    def _scheduler(self, entry, signature_name, inputs):
        """(the batch scheduler of `entry`'s signature, `inputs` as its checks convert them)."""
        checked = entry.model.check_inputs(signature_name, inputs)
        with self._lock:
            return entry.scheduler(signature_name, self._batching), checked

    def status(self, version=None):
        """[(version, State, error message)] of every version seen, or of one."""
        with self._lock:
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
            for entry in [*self._live.values(), *self._retiring]:
                entry.retired = True
                entry.close()


class ServableManager:
    """All served models, polled for new versions every `poll_seconds` on a background thread.

    Examples:

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
