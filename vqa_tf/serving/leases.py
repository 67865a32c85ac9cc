"""Request leases on the loaded versions of one model.

A request leases the version it runs on and holds it until it is answered:
a version retired meanwhile (unloaded or replaced) finishes the requests that
hold it (UNLOADING), then stops its batch threads and is dropped (END). Which
versions to load and retire is the reconciler's business (`ServedModel`).
"""

import asyncio
import functools
import threading
import time

import grpc
from absl import logging
from tensorflow_serving.apis import get_model_status_pb2

from vqa_tf.serving.batching import BatchScheduler
from vqa_tf.serving.errors import ServingError
from vqa_tf.serving.model_version import short_message

State = get_model_status_pb2.ModelVersionStatus.State


class LoadedVersion:
    """A `ModelVersion` as requests use it: leased, retired, then closed (batch threads stopped)."""

    def __init__(self, model, fingerprint):
        self.model = model
        self.fingerprint = fingerprint
        self.holds = 0
        self.retired = False
        self.closed = False
        self._schedulers = {}  # signature name -> BatchScheduler

    def scheduler(self, signature_name, batching):
        """The batch scheduler of a signature, made on first use by a request that holds this version."""
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


class Lease:
    """One request's hold on a loaded version: a context manager that releases it on exit.

    `timeout` (seconds, the request's gRPC deadline): DEADLINE_EXCEEDED once
    they pass, and the request is not run if they pass before it runs.

    Examples:

        with served_model.lease(version=None, label="stable") as lease:
            names = lease.input_names("serving_default")
            outputs = lease.predict(inputs, "serving_default", timeout=5.0)
    """

    def __init__(self, leases, entry):
        self._leases = leases
        self._entry = entry
        self.model = entry.model
        self.version = entry.model.version

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._leases.release(self._entry)

    def input_names(self, signature_name):
        """The sorted input names of a signature of the leased version; INVALID_ARGUMENT if it has none such."""
        return sorted(self.model.input_specs(signature_name))

    def predict(self, inputs, signature_name, timeout=None):
        """The outputs of `inputs`, through the batch scheduler when batching is on."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._leases.batching is None:
            return _run_now(self.model, signature_name, inputs, deadline)
        scheduler, checked = self._scheduler(signature_name, inputs)
        return scheduler.submit(checked, deadline)

    async def predict_async(self, inputs, signature_name, timeout=None, executor=None):
        """`predict` for a coroutine: with batching on the request waits on the loop and a batch thread runs
        it; without, it runs on `executor` (the loop's default if None), the wait counting against `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._leases.batching is None:
            run = functools.partial(_run_now, self.model, signature_name, inputs, deadline)
            return await asyncio.get_running_loop().run_in_executor(executor, run)
        scheduler, checked = self._scheduler(signature_name, inputs)
        return await scheduler.submit_async(checked, deadline)

    def _scheduler(self, signature_name, inputs):
        checked = self.model.check_inputs(signature_name, inputs)
        return self._leases.scheduler(self._entry, signature_name), checked


class VersionLeases:
    """The loaded versions of one model (those new requests lease, those retiring under held leases) and the
    state of every version seen. Thread-safe.

    Examples:

        leases = VersionLeases(config, batching=None)
        leases.publish(ModelVersion(path, 3), fingerprint(path))
        with leases.lease(None, None) as lease:
            outputs = lease.predict(inputs, "serving_default")
    """

    def __init__(self, config, batching):
        self.config = config
        self.batching = batching
        self._live = {}  # version -> the LoadedVersion new requests get
        self._retiring = set()  # retired LoadedVersions that requests still hold
        self._states = {}  # version -> (State, error message)
        self._unloaded = False  # a SavedModel was dropped since `take_unloaded` last asked
        self._lock = threading.Lock()

    def live_fingerprint(self, version):
        """The fingerprint of the SavedModel serving as `version`, or None."""
        with self._lock:
            live = self._live.get(version)
            return None if live is None else live.fingerprint

    def publish(self, model, fingerprint):
        """Makes `model` the version new requests of its number get; retires the one it replaces."""
        with self._lock:
            replaced = self._live.get(model.version)
            self._live[model.version] = LoadedVersion(model, fingerprint)
            self._states[model.version] = (State.AVAILABLE, "")
            if replaced is not None:
                self._retire(replaced)

    def retire_all_but(self, aspired):
        """Retires the versions not in `aspired`, keeping the newest of them while no aspired one serves."""
        with self._lock:
            stale = sorted(v for v in self._live if v not in aspired)
            if aspired and not any(v in self._live for v in aspired):
                stale = stale[:-1]
            for version in stale:
                entry = self._live.pop(version)
                self._retire(entry)
                self._states[version] = (State.UNLOADING if entry.holds else State.END, "")
                done = f"unloading after {entry.holds} requests in progress" if entry.holds else "unloaded"
                logging.info("model %s version %d %s", self.config.name, version, done)

    def set_state(self, version, state, error=""):
        with self._lock:
            self._states[version] = (state, short_message(error))

    def take_unloaded(self):
        """Whether a SavedModel was dropped since the last call (its memory is then worth collecting)."""
        with self._lock:
            unloaded, self._unloaded = self._unloaded, False
            return unloaded

    def lease(self, version, label):
        """A `Lease` on the version a request names: a version, a label, or (neither) the latest available."""
        with self._lock:
            entry = self._find(version, label)
            entry.holds += 1
            return Lease(self, entry)

    def scheduler(self, entry, signature_name):
        with self._lock:
            return entry.scheduler(signature_name, self.batching)

    def release(self, entry):
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

    def status(self, version=None):
        """[(version, State, error message)] of every version seen, or of one."""
        with self._lock:
            states = dict(self._states)
        name = self.config.name
        if version is not None:
            if version not in states:
                raise ServingError(grpc.StatusCode.NOT_FOUND, f"model {name!r} has no version {version}")
            states = {version: states[version]}
        if not states:
            raise ServingError(
                grpc.StatusCode.NOT_FOUND, f"model {name!r} has no versions under {self.config.base_path} yet"
            )
        return [(v, state, error) for v, (state, error) in sorted(states.items())]

    def close(self):
        with self._lock:
            for entry in [*self._live.values(), *self._retiring]:
                entry.retired = True
                entry.close()

    def _retire(self, entry):
        """No new request gets `entry`; it closes once the requests holding it are answered. Under the lock."""
        entry.retired = True
        if entry.holds:
            self._retiring.add(entry)
        else:
            self._close(entry)

    def _close(self, entry):
        entry.close()
        self._unloaded = True

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
