"""Server-side batching: concurrent requests to one signature run as one batch (`--enable_batching`).

Requests queue per (version, signature). One batch thread at a time takes the
oldest request, then adds queued requests with the same trailing shapes until the
batch holds `max_batch_size` rows or `batch_timeout_micros` have passed since
that oldest request arrived (as in TF Serving: requests that queued while the
previous batch ran do not wait again);
pads to the next of `allowed_batch_sizes`; runs the signature once; and
hands each request its rows. If a batch fails, its requests are run one by
one, so a bad request fails alone instead of failing its neighbours; an
unexpected error (a bug, or outputs that cannot be split) fails its request
with INTERNAL, and the batch thread goes on. A request with a deadline waits
no longer than its deadline (DEADLINE_EXCEEDED), and is not run once it has
passed.

`submit` waits on a thread; `submit_async` awaits on an asyncio loop, so a
gRPC server on one event loop hands each request to the batch thread and
back with no thread of its own.
"""

import asyncio
import collections
import functools
import threading
import time
import weakref

import grpc
import numpy as np
from absl import logging

from vqa_tf.serving.errors import ServingError
from vqa_tf.serving.monitoring import BATCHES_RUN

THREAD_NAME = "batching"  # the name of every batch thread


class _Task:
    def __init__(self, inputs, size, deadline, on_done):
        self.inputs = inputs
        self.size = size
        self.deadline = deadline  # time.monotonic() by which it must be answered, or None
        self.arrived = time.monotonic()
        self.key = tuple((name, value.dtype.str, value.shape[1:]) for name, value in sorted(inputs.items()))
        self.outputs = None
        self.error = None
        self.finished = False
        self._on_done = on_done  # called once, from the thread that answers the request

    def expired(self):
        return self.deadline is not None and time.monotonic() >= self.deadline

    def finish(self):
        if self.outputs is None and self.error is None:
            self.error = ServingError(grpc.StatusCode.INTERNAL, "the batch thread failed before answering this request")
        self.finished = True
        self._on_done()

    def result(self):
        if self.error is not None:
            raise self.error
        return self.outputs


class _LoopWaker:
    """Settles futures of one asyncio loop from other threads, waking the loop once for all the futures
    settled before it runs (a batch answers its requests with one wake-up, not one each)."""

    def __init__(self, loop):
        self._loop = loop
        self._pending = []
        self._lock = threading.Lock()

    def settle(self, future):
        with self._lock:
            self._pending.append(future)
            if len(self._pending) > 1:  # a wake-up is already on its way
                return
        try:
            self._loop.call_soon_threadsafe(self._flush)
        except RuntimeError:  # the loop has closed: nobody waits for these answers any more
            pass

    def _flush(self):
        with self._lock:
            pending, self._pending = self._pending, []
        for future in pending:
            if not future.done():
                future.set_result(None)


def _as_serving_error(error):
    """`error` as a ServingError: an unexpected exception becomes INTERNAL, named (and logged)."""
    if isinstance(error, ServingError):
        return error
    try:
        described = f"{type(error).__name__}: {error}"
    except Exception:  # an exception whose message cannot be made is still named
        described = type(error).__name__
    logging.error("a request failed unexpectedly: %s", described)
    return ServingError(grpc.StatusCode.INTERNAL, f"running the batch failed: {described}")


def batch_size(inputs):
    """The shared first dimension of a request's inputs; INVALID_ARGUMENT naming them if they differ."""
    sizes = {name: (value.shape[0] if value.ndim else None) for name, value in inputs.items()}
    if None in sizes.values() or len(set(sizes.values())) != 1:
        listed = ", ".join(f"{name} has {size}" for name, size in sorted(sizes.items()))
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"batched inputs must have the same batch size (first dimension): {listed}",
        )
    return next(iter(sizes.values()))


def serve_batch(run, batch, allowed_batch_sizes):
    """Runs `batch` (a list of tasks) as one call of `run`; if that fails, runs its tasks one by one, so that
    only the failing ones fail (each gets its error)."""
    if not batch:
        return
    try:
        _run_together(run, batch, allowed_batch_sizes)
    except Exception as error:
        if len(batch) == 1:
            batch[0].error = _as_serving_error(error)
        else:
            for task in batch:
                serve_batch(run, [task], allowed_batch_sizes)


def _run_together(run, batch, allowed_batch_sizes):
    """Concatenates the tasks' rows (padded to the next allowed size), runs them, and splits the outputs."""
    rows = sum(task.size for task in batch)
    padded = next((size for size in allowed_batch_sizes if size >= rows), rows)
    inputs = {}
    for name in batch[0].inputs:
        parts = [task.inputs[name] for task in batch]
        if padded > rows:  # pad with copies of the first row; the extra rows' outputs are dropped
            parts.append(np.repeat(parts[0][:1], padded - rows, axis=0))
        inputs[name] = np.concatenate(parts)
    BATCHES_RUN.increment()
    outputs = run(inputs)
    for name, value in outputs.items():
        if np.ndim(value) == 0 or value.shape[0] != padded:
            raise ServingError(
                grpc.StatusCode.INTERNAL,
                f"output {name!r} is not batched along its first dimension; cannot split it",
            )
    start = 0
    for task in batch:
        task.outputs = {name: value[start : start + task.size] for name, value in outputs.items()}
        start += task.size


class BatchScheduler:
    """Runs `run(inputs) -> outputs` (dicts of arrays, rows first) on batches of queued requests.

    Examples:

        scheduler = BatchScheduler(lambda batch: {"twice": batch["x"] * 2}, BatchingParameters(max_batch_size=8))
        scheduler.submit({"x": np.ones([3, 4])})["twice"].shape   # (3, 4), run in one batch with its neighbours
    """

    def __init__(self, run, params):
        self._run = run
        self._params = params
        self._queue = collections.deque()
        self._queued_rows = 0
        self._condition = threading.Condition()
        self._closed = False
        self._gathering = False  # one thread at a time fills the open batch
        self._wakers = weakref.WeakKeyDictionary()  # asyncio loop -> its _LoopWaker
        self._threads = [
            threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True) for _ in range(params.num_batch_threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, inputs, deadline=None):
        """The outputs of `inputs`' rows; DEADLINE_EXCEEDED once `deadline` (a `time.monotonic()` time) passes.

        A request whose deadline passes while it is queued leaves the queue unrun;
        one whose batch is already running is answered DEADLINE_EXCEEDED at once.
        """
        done = threading.Event()
        task = self._enqueue(inputs, deadline, done.set)
        if not done.wait(None if deadline is None else max(0.0, deadline - time.monotonic())):
            self._withdraw(task)
        return task.result()

    async def submit_async(self, inputs, deadline=None):
        """`submit` for a coroutine on a running asyncio loop: the batch thread wakes the loop once answered.

        Examples:

            outputs = await scheduler.submit_async({"x": np.ones([3, 4])}, deadline=time.monotonic() + 5)
        """
        loop = asyncio.get_running_loop()
        with self._condition:
            waker = self._wakers.get(loop) or self._wakers.setdefault(loop, _LoopWaker(loop))
        future = loop.create_future()
        task = self._enqueue(inputs, deadline, functools.partial(waker.settle, future))
        try:
            await asyncio.wait_for(future, None if deadline is None else max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            self._withdraw(task)
        except asyncio.CancelledError:  # the client went away: a queued request is not run
            self._withdraw(task)
            raise
        return task.result()

    def _enqueue(self, inputs, deadline, on_done):
        size = batch_size(inputs)
        limit = self._params.max_batch_size
        if size > limit:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT, f"a request of {size} rows is larger than max_batch_size {limit}"
            )
        task = _Task(inputs, size, deadline, on_done)
        with self._condition:
            if self._closed:
                raise ServingError(grpc.StatusCode.UNAVAILABLE, "this model version is being unloaded; retry")
            if self._queued_rows + size > self._params.max_enqueued_batches * limit:
                raise ServingError(grpc.StatusCode.UNAVAILABLE, "the batching queue is full; retry later")
            self._queue.append(task)
            self._queued_rows += size
            self._condition.notify_all()
        return task

    def _withdraw(self, task):
        """Takes a request whose deadline passed out of the queue; DEADLINE_EXCEEDED unless it was answered."""
        with self._condition:
            if task in self._queue:
                self._queue.remove(task)
                self._queued_rows -= task.size
            if not task.finished:
                task.error = ServingError(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    "the deadline passed while the request waited in the batching queue",
                )

    def _take_batch(self):
        """Blocks for the next batch of tasks (None once closed)."""
        limit = self._params.max_batch_size
        with self._condition:
            while (not self._queue or self._gathering) and not self._closed:
                self._condition.wait()
            if self._closed:
                return None
            self._gathering = True
            first = self._queue.popleft()
            batch, rows = [first], first.size
            try:
                timeout = first.arrived + self._params.batch_timeout_micros / 1e6
                while rows < limit:
                    for task in list(self._queue):
                        if task.key == first.key and rows + task.size <= limit:
                            self._queue.remove(task)
                            batch.append(task)
                            rows += task.size
                    remaining = timeout - time.monotonic()
                    if rows >= limit or remaining <= 0 or self._closed:
                        break
                    self._condition.wait(remaining)
            finally:
                self._queued_rows -= rows
                self._gathering = False
                self._condition.notify_all()
            return batch

    def _loop(self):
        while (batch := self._take_batch()) is not None:
            try:
                for task in batch:
                    if task.expired():
                        task.error = ServingError(
                            grpc.StatusCode.DEADLINE_EXCEEDED,
                            "the deadline passed before the request ran; it was not run",
                        )
                serve_batch(self._run, [task for task in batch if task.error is None], self._params.allowed_batch_sizes)
            except BaseException:  # even a SystemExit raised by a signature: this thread goes on serving
                logging.exception("a batch failed unexpectedly; its requests are answered INTERNAL")
            finally:  # every request of the batch is answered, whatever went wrong
                for task in batch:
                    task.finish()

    def close(self):
        with self._condition:
            self._closed = True
            for task in self._queue:
                task.error = ServingError(grpc.StatusCode.UNAVAILABLE, "this model version was unloaded; retry")
                task.finish()
            self._queue.clear()
            self._condition.notify_all()
