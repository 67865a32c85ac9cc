"""Served models: every version under a base path, loaded, warmed up, swapped and unloaded.

Like `tensorflow_model_server`, a model's base path holds integer version
directories; the version policy picks which to serve, new ones are loaded
(and their `assets.extra/tf_serving_warmup_requests` replayed) before old
ones are unloaded, and a version that fails to load is reported in its
status while the others go on serving. Requests lease the version they run
on (`vqa_tf.serving.leases`), so unloading it never fails them.
"""

import gc
import posixpath
import threading

import grpc
import tensorflow as tf
from absl import logging

from vqa_tf.serving.errors import ServingError
from vqa_tf.serving.leases import State, VersionLeases
from vqa_tf.serving.model_version import ModelVersion
from vqa_tf.utils.saved_models import file_listing, fingerprint, versions


class ServedModel:
    """The versions of one model, kept in step with its base path by `poll()`; requests `lease` them.

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

    Examples:

        model = ServedModel(ModelConfig("smem", "/models/smem"))
        model.poll()
        version, outputs = model.predict(inputs, "serving_default", timeout=5.0)
    """

    def __init__(self, config, batching=None):
        self.config = config
        self._leases = VersionLeases(config, batching)
        self._failed = {}  # version -> file_listing() of its directory when it failed to load
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
            self._leases.retire_all_but(aspired)
            if self._leases.take_unloaded():  # a SavedModel is full of reference cycles: free its memory now
                gc.collect()

    def _refresh(self, version):
        path = posixpath.join(self.config.base_path, str(version))
        live = self._leases.live_fingerprint(version)
        if live is not None and fingerprint(path) == live:
            if self._failed.pop(version, None) is not None:  # a failed replacement was taken back
                self._leases.set_state(version, State.AVAILABLE)
            return
        if version in self._failed and file_listing(path) == self._failed[version]:
            return  # it would fail as it did: try again once its files change
        self._load(version, path, replacing=live is not None)

    def _load(self, version, path, replacing):
        """Loads `path` as `version`; the SavedModel it is `replacing` (if any) serves until it is ready."""
        loaded_fingerprint, listing = fingerprint(path), file_listing(path)  # a change while loading shows next poll
        if not replacing:
            self._leases.set_state(version, State.LOADING)
        try:
            model = ModelVersion(path, version)
            warmed = model.warm_up()
        except Exception as error:  # a broken version must not stop the server: report it, serve the rest
            message = error.message if isinstance(error, ServingError) else f"{type(error).__name__}: {error}"
            logging.error("model %s version %d failed to load: %s", self.config.name, version, message)
            self._failed[version] = listing
            if replacing:
                message = f"serving the SavedModel loaded before: loading the one now at {path} failed: {message}"
                self._leases.set_state(version, State.AVAILABLE, message)
            else:
                self._leases.set_state(version, State.END, f"loading {path} failed: {message}")
            return
        self._failed.pop(version, None)
        self._leases.publish(model, loaded_fingerprint)
        done = "reloaded: its SavedModel was replaced" if replacing else "available"
        logging.info("model %s version %d %s (%d warm-up requests)", self.config.name, version, done, warmed)

    def lease(self, version=None, label=None):
        """A `Lease` (a context manager) on the version a request names: a version, a label, or (neither) the
        latest available. The version serves the lease's requests until it is released, even if unloaded."""
        return self._leases.lease(version, label)

    def predict(self, inputs, signature_name, version=None, label=None, timeout=None):
        """(version number, outputs) of one request, on a lease of the version it names (see `Lease.predict`)."""
        with self.lease(version, label) as lease:
            return lease.version, lease.predict(inputs, signature_name, timeout)

    async def predict_async(self, inputs, signature_name, version=None, label=None, timeout=None, executor=None):
        """`predict` for a coroutine on an asyncio loop (see `Lease.predict_async`)."""
        with self.lease(version, label) as lease:
            return lease.version, await lease.predict_async(inputs, signature_name, timeout, executor)

    def status(self, version=None):
        """[(version, State, error message)] of every version seen, or of one."""
        return self._leases.status(version)

    def close(self):
        self._leases.close()


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
