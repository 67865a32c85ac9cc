"""The batch scheduler under failure: batch threads outlive any error, and requests keep their deadlines,
whether they wait on a thread (`submit`) or on an asyncio loop (`submit_async`, as the gRPC server does)."""

import asyncio
import threading
import time
from concurrent import futures

import grpc
import numpy as np
import pytest

from vqa_tf.serving.batching import BatchScheduler
from vqa_tf.serving.errors import ServingError
from vqa_tf.serving.server_config import BatchingParameters

ONE_THREAD = dict(max_batch_size=8, batch_timeout_micros=150_000, num_batch_threads=1)
SOON = 10.0  # seconds: a request that takes longer has lost its batch thread


class Unprintable(Exception):
    def __str__(self):
        raise ValueError("this error cannot be printed")


class Fatal(BaseException):
    """Not an Exception: what a signature calling sys.exit() would raise."""


def _garbage(x):
    return {7: None, 8: {"y": np.float32(3)}, 9: {"y": np.ones([20])}, 10: {"y": [1, 2]}, 11: "outputs"}[x]


def _run(inputs):
    """Doubles `x`; a row 13 raises a RuntimeError, 14 an exception that cannot be printed, 15 a BaseException,
    7 to 11 return garbage."""
    x = inputs["x"]
    if (x == 13).any():
        raise RuntimeError("row 13 broke the model")
    if (x == 14).any():
        raise Unprintable()
    if (x == 15).any():
        raise Fatal()
    bad = [v for v in x.tolist() if 7 <= v <= 11]
    return _garbage(bad[0]) if bad else {"y": x * 2}


@pytest.fixture(params=["thread", "asyncio"])
def submit(request):
    """How a request waits for its batch: `submit` on its thread, or `submit_async` on an event loop."""
    return request.param


def _ask(scheduler, x, timeout=SOON, submit="thread"):
    inputs, deadline = {"x": np.array([x])}, time.monotonic() + timeout
    try:
        if submit == "thread":
            return scheduler.submit(inputs, deadline)["y"]
        return asyncio.run(scheduler.submit_async(inputs, deadline))["y"]
    except ServingError as error:
        return error


def _ask_together(scheduler, xs, submit):
    barrier = threading.Barrier(len(xs))

    def one(x):
        barrier.wait()
        return _ask(scheduler, x, submit=submit)

    with futures.ThreadPoolExecutor(len(xs)) as pool:
        return list(pool.map(one, xs))


@pytest.mark.parametrize(
    "bad, message",
    [
        (13, "RuntimeError: row 13 broke the model"),
        (14, "Unprintable"),  # an error that fails the error handling's own formatting
        (7, "AttributeError"),  # outputs that are no dict
        (8, "not batched"),  # a scalar output
        (9, "not batched"),  # an output of other rows
        (10, "AttributeError"),  # an output that is no array
        (11, "AttributeError"),
    ],
)
def test_an_unexpected_error_fails_only_its_request_and_the_batch_thread_goes_on(bad, message, submit):
    scheduler = BatchScheduler(_run, BatchingParameters(**ONE_THREAD))
    try:
        alone = _ask(scheduler, bad, submit=submit)
        assert isinstance(alone, ServingError) and alone.code == grpc.StatusCode.INTERNAL, alone
        assert message in alone.message
        first, failed, last = _ask_together(
            scheduler, [1, bad, 3], submit
        )  # most likely one batch: the good ones are served
        np.testing.assert_array_equal(first, [2])
        np.testing.assert_array_equal(last, [6])
        assert isinstance(failed, ServingError) and failed.code == grpc.StatusCode.INTERNAL, failed
        np.testing.assert_array_equal(_ask(scheduler, 4, submit=submit), [8])  # the one batch thread is still there
    finally:
        scheduler.close()


def test_a_base_exception_fails_its_batch_and_the_batch_thread_goes_on(submit):
    scheduler = BatchScheduler(_run, BatchingParameters(**ONE_THREAD))
    try:
        failed = _ask(scheduler, 15, submit=submit)
        assert isinstance(failed, ServingError) and failed.code == grpc.StatusCode.INTERNAL, failed
        assert "batch thread failed" in failed.message
        np.testing.assert_array_equal(_ask(scheduler, 4, submit=submit), [8])
    finally:
        scheduler.close()


def test_a_deadline_shorter_than_the_batch_timeout_is_answered_in_time_and_its_request_is_not_run(submit):
    seen = []

    def run(inputs):
        seen.extend(inputs["x"].tolist())
        return {"y": inputs["x"] * 2}

    scheduler = BatchScheduler(
        run, BatchingParameters(max_batch_size=8, batch_timeout_micros=1_000_000, num_batch_threads=1)
    )
    try:
        start = time.monotonic()
        late = _ask(scheduler, 5, timeout=0.2, submit=submit)  # the batch thread holds it while it waits 1 s
        waited = time.monotonic() - start
        assert isinstance(late, ServingError) and late.code == grpc.StatusCode.DEADLINE_EXCEEDED, late
        assert waited < 1.0, waited
        np.testing.assert_array_equal(_ask(scheduler, 1, submit=submit), [2])  # joins the same batch, which then runs
        assert seen == [1]
    finally:
        scheduler.close()


def test_a_request_whose_deadline_passes_in_the_queue_leaves_it_unrun(submit):
    release, seen = threading.Event(), []

    def blocked(inputs):
        release.wait()
        seen.extend(inputs["x"].tolist())
        return {"y": inputs["x"]}

    # one row fits the queue: a request that timed out must leave room for the next
    scheduler = BatchScheduler(
        blocked, BatchingParameters(max_batch_size=1, max_enqueued_batches=1, num_batch_threads=1)
    )
    try:
        with futures.ThreadPoolExecutor(2) as pool:
            running = pool.submit(_ask, scheduler, 1, SOON, submit)
            time.sleep(0.2)  # the batch thread is running it
            late = _ask(scheduler, 2, timeout=0.3, submit=submit)
            assert isinstance(late, ServingError) and late.code == grpc.StatusCode.DEADLINE_EXCEEDED, late
            queued = pool.submit(_ask, scheduler, 3, SOON, submit)
            time.sleep(0.2)
            release.set()
            np.testing.assert_array_equal(running.result(), [1])
            np.testing.assert_array_equal(queued.result(), [3])
        assert seen == [1, 3]
    finally:
        scheduler.close()


def test_closing_answers_the_queued_requests(submit):
    release = threading.Event()

    def blocked(inputs):
        release.wait()
        return {"y": inputs["x"]}

    scheduler = BatchScheduler(blocked, BatchingParameters(max_batch_size=1, num_batch_threads=1))
    with futures.ThreadPoolExecutor(2) as pool:
        running = pool.submit(_ask, scheduler, 1, SOON, submit)
        time.sleep(0.2)
        queued = pool.submit(_ask, scheduler, 2, SOON, submit)
        time.sleep(0.2)
        scheduler.close()
        error = queued.result(timeout=SOON)
        assert isinstance(error, ServingError) and error.code == grpc.StatusCode.UNAVAILABLE, error
        release.set()
        np.testing.assert_array_equal(running.result(timeout=SOON), [1])


def test_requests_awaited_on_one_loop_run_as_one_batch_and_a_cancelled_one_is_not_run():
    release, calls = threading.Event(), []

    def run(inputs):
        release.wait()
        calls.append(inputs["x"].tolist())
        return {"y": inputs["x"] * 2}

    scheduler = BatchScheduler(
        run, BatchingParameters(max_batch_size=8, batch_timeout_micros=200_000, num_batch_threads=1)
    )

    async def main():
        first = asyncio.ensure_future(scheduler.submit_async({"x": np.array([0])}))
        await asyncio.sleep(0.3)  # its batch (of one: no company came) is running, blocked
        together = [asyncio.ensure_future(scheduler.submit_async({"x": np.array([x])})) for x in range(1, 9)]
        await asyncio.sleep(0.05)
        together[-1].cancel()  # its client went away while it was queued
        await asyncio.sleep(0.05)  # cancel() only schedules the CancelledError: let the request withdraw itself
        release.set()
        return (
            await first,
            await asyncio.gather(*together[:-1]),
            await asyncio.gather(together[-1], return_exceptions=True),
        )

    try:
        first, answers, cancelled = asyncio.run(main())
        assert first["y"].tolist() == [0]
        assert [a["y"].tolist() for a in answers] == [[2 * x] for x in range(1, 8)]
        assert isinstance(cancelled[0], asyncio.CancelledError)
        assert calls == [[0], list(range(1, 8))]  # one batch of the seven, without the cancelled request
    finally:
        scheduler.close()
