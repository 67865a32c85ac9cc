"""TF Serving config files as the local server reads them, and the batch scheduler on its own."""

import os
import threading
import time
from concurrent import futures

import grpc
import numpy as np
import pytest

from vqa_tf.serving.batching import BatchScheduler
from vqa_tf.serving.errors import ServingError
from vqa_tf.serving.monitoring import BATCHES_RUN, DEFAULT_PATH, read_monitoring_config
from vqa_tf.serving.server_config import (
    BatchingParameters,
    ModelConfig,
    read_batching_parameters,
    read_model_config_file,
)

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "..", "serving", "config")


def test_the_shipped_model_config_serves_smem_latest_two():
    (config,) = read_model_config_file(os.path.join(CONFIG_DIR, "models.config"))
    assert (config.name, config.base_path, config.policy, config.num_versions) == ("smem", "/models/smem", "latest", 2)
    assert config.aspired([3, 1, 7, 5]) == [5, 7]


def test_version_policies_and_labels(tmp_path):
    path = tmp_path / "models.config"
    path.write_text("""
        model_config_list {
          config { name: "a" base_path: "/m/a" model_version_policy { all {} } }
          config { name: "b" base_path: "/m/b" model_version_policy { specific { versions: 2 versions: 4 } }
                   version_labels { key: "stable" value: 2 } }
        }""")
    a, b = read_model_config_file(str(path))
    assert a.aspired([2, 1, 3]) == [1, 2, 3]
    assert b.aspired([1, 2, 3, 4]) == [2, 4] and b.labels == (("stable", 2),)


def test_the_shipped_batching_parameters():
    params = read_batching_parameters(os.path.join(CONFIG_DIR, "batching_parameters.txt"))
    assert params == BatchingParameters(
        max_batch_size=32, batch_timeout_micros=5000, num_batch_threads=1, max_enqueued_batches=64
    )


@pytest.mark.parametrize(
    "reader, text, message",
    [
        (read_model_config_file, "model_config_list { config { name: 'a' } }", "needs a name and a base_path"),
        (read_model_config_file, "model_config_list { config { nme: 'a' } }", "cannot read the model config file"),
        (
            read_model_config_file,
            "model_config_list { config { name: 'a' base_path: '/a' model_platform: 'onnx' } }",
            "only tensorflow",
        ),
        (
            read_model_config_file,
            "model_config_list { config { name: 'a' base_path: '/a' } config { name: 'a' base_path: '/b' } }",
            "unique",
        ),
        (
            read_batching_parameters,
            "max_batch_size { value: 8 }\nallowed_batch_sizes: 4\nallowed_batch_sizes: 8\n"
            "pad_variable_length_inputs: true",
            "'pad_variable_length_inputs' is not supported",
        ),
        (
            read_batching_parameters,
            "max_batch_size { value: 8 }\nallowed_batch_sizes: 4",
            "must increase and end with max_batch_size 8",
        ),
        (read_batching_parameters, "max_batch_size { value: 0 }", "must be positive"),
        (read_batching_parameters, "max_batch_size = 8", "cannot parse"),
        (read_monitoring_config, "prometheus_config { enable: true, port: 9 }", "cannot parse 'port: 9"),
        (read_monitoring_config, "prometheus_config { enable: yes }", "enable must be true or false"),
        (read_monitoring_config, "prometheus_config { enable: true path: metrics }", "path must be a quoted"),
        (read_monitoring_config, 'prometheus_config { enable: true path: "/v1/x" }', "must start with /"),
        (read_monitoring_config, "enable: true", "expected one `prometheus_config"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_bad_config_files_are_refused_by_name(tmp_path, reader, text, message):
    path = tmp_path / "config.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        reader(str(path))


def test_the_shipped_monitoring_config_and_its_defaults(tmp_path):
    assert read_monitoring_config(os.path.join(CONFIG_DIR, "monitoring_config.txt")) == DEFAULT_PATH
    path = tmp_path / "monitoring.txt"
    for text, expected in [
        ("prometheus_config { enable: true }", DEFAULT_PATH),
        ('prometheus_config {\n  enable: true\n  path: "/metrics"  # scraped here\n}', "/metrics"),
        ('prometheus_config { path: "/metrics" }', None),
        ("", None),
    ]:
        path.write_text(text)
        assert read_monitoring_config(str(path)) == expected, text
    with pytest.raises(ValueError, match="cannot read the monitoring config file"):
        read_monitoring_config(str(tmp_path / "missing.txt"))


class Recorder:
    """A signature stand-in: doubles `x`, records batch sizes, fails on any negative row."""

    def __init__(self):
        self.sizes = []

    def __call__(self, inputs):
        self.sizes.append(len(inputs["x"]))
        if (inputs["x"] < 0).any():
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "x must not be negative")
        return {"y": inputs["x"] * 2}


def _submit_together(scheduler, requests):
    barrier = threading.Barrier(len(requests))

    def one(x):
        barrier.wait()
        try:
            return scheduler.submit({"x": x})["y"]
        except ServingError as error:
            return error

    with futures.ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


def test_concurrent_requests_run_as_one_padded_batch_and_get_their_own_rows():
    run = Recorder()
    scheduler = BatchScheduler(
        run,
        BatchingParameters(
            max_batch_size=8, batch_timeout_micros=500_000, num_batch_threads=2, allowed_batch_sizes=(4, 8)
        ),
    )
    requests = [np.full([1, 3], float(i)) for i in range(5)] + [np.full([2, 3], 10.0)]
    results = _submit_together(scheduler, requests)
    for x, y in zip(requests, results):
        np.testing.assert_array_equal(y, x * 2)
    assert max(run.sizes) > 1, run.sizes  # requests shared a batch
    assert set(run.sizes) <= {4, 8}, run.sizes  # padded to an allowed size
    scheduler.close()


def test_the_batch_timeout_runs_from_the_oldest_requests_arrival():
    """A request that queued while the previous batch ran for longer than batch_timeout_micros runs as soon as
    the batch thread is free, as in TF Serving, instead of waiting the timeout again."""
    answered = {}

    def slow_first(inputs):
        if inputs["x"][0, 0] == 0:
            time.sleep(0.6)
        return {"y": inputs["x"]}

    scheduler = BatchScheduler(
        slow_first, BatchingParameters(max_batch_size=8, batch_timeout_micros=300_000, num_batch_threads=1)
    )

    def ask(value):
        scheduler.submit({"x": np.full([1, 1], value)})
        answered[value] = time.monotonic()

    first = threading.Thread(target=ask, args=(0.0,))
    first.start()
    time.sleep(0.4)  # the first request's batch is running (timeout 0.3 s, then 0.6 s of work)
    ask(1.0)  # arrived 0.5 s before the batch thread is free: its timeout has passed by then
    first.join()
    scheduler.close()
    assert answered[1.0] - answered[0.0] < 0.2, answered[1.0] - answered[0.0]


def test_the_batch_counter_counts_each_run_of_the_signature():
    run = Recorder()
    scheduler = BatchScheduler(run, BatchingParameters(max_batch_size=4, batch_timeout_micros=500_000))
    before = BATCHES_RUN.value
    _submit_together(scheduler, [np.full([1, 3], 1.0)] * 8 + [np.full([1, 3], -1.0)])
    scheduler.close()
    assert BATCHES_RUN.value - before == len(run.sizes)  # the failed batch and its rows run one by one count too


def test_a_bad_request_fails_alone_in_its_batch():
    run = Recorder()
    scheduler = BatchScheduler(
        run, BatchingParameters(max_batch_size=8, batch_timeout_micros=500_000, num_batch_threads=1)
    )
    requests = [np.ones([1, 2]), -np.ones([1, 2]), np.full([1, 2], 3.0)]
    good, bad, other = _submit_together(scheduler, requests)
    np.testing.assert_array_equal(good, [[2, 2]])
    np.testing.assert_array_equal(other, [[6, 6]])
    assert isinstance(bad, ServingError) and bad.message == "x must not be negative"
    scheduler.close()


def test_oversized_and_unbatchable_requests_are_refused():
    scheduler = BatchScheduler(Recorder(), BatchingParameters(max_batch_size=4))
    with pytest.raises(ServingError, match="a request of 5 rows is larger than max_batch_size 4"):
        scheduler.submit({"x": np.ones([5, 1])})
    with pytest.raises(ServingError, match="same batch size.*a has 2, b has 3"):
        scheduler.submit({"a": np.ones([2]), "b": np.ones([3])})
    scheduler.close()


def test_a_full_queue_answers_unavailable():
    release = threading.Event()

    def slow(inputs):
        release.wait()
        return {"y": inputs["x"]}

    scheduler = BatchScheduler(slow, BatchingParameters(max_batch_size=1, max_enqueued_batches=1, num_batch_threads=1))
    with futures.ThreadPoolExecutor(2) as pool:
        running = pool.submit(scheduler.submit, {"x": np.ones([1])})  # taken by the batch thread
        time.sleep(0.2)
        queued = pool.submit(scheduler.submit, {"x": np.ones([1])})  # fills the queue
        time.sleep(0.2)
        with pytest.raises(ServingError, match="queue is full") as error:
            scheduler.submit({"x": np.ones([1])})
        assert error.value.code == grpc.StatusCode.UNAVAILABLE
        release.set()
        assert running.result()["y"].shape == (1,) and queued.result()["y"].shape == (1,)
    scheduler.close()


def test_model_config_aspired_latest_one_by_default():
    assert ModelConfig("m", "/m").aspired([4, 9, 2]) == [9]
