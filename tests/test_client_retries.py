"""The gRPC and REST clients ride out a model server that is killed and restarted under load.

A supervisor's restart is played by starting the server again on the same
ports; every request in flight or sent meanwhile must be answered, and
answered right, within its deadline.
"""

import threading
import time

import grpc
import pytest
from serving_servers import KINDS, MODEL, Server, base_with

from vqa_tf.serving import GrpcClient, RestClient, ServingError
from vqa_tf.utils.ports import free_ports

pytestmark = pytest.mark.slow
DEADLINE = 60.0  # seconds each request may take, restart included


def _load(clients, inputs, expected, stop):
    """One thread per client sending `inputs` until `stop` is set; returns (threads, answers, failures)."""
    answers, failures = [], []

    def send(client):
        while not stop.is_set():
            start = time.monotonic()
            try:
                out = client.predict(MODEL, inputs)
                assert list(out["answer"]) == list(expected["answer"])
                answers.append(time.monotonic() - start)
            except (ServingError, AssertionError) as error:
                failures.append(repr(error))

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    return threads, answers, failures


@pytest.mark.parametrize("kind", KINDS)
def test_requests_in_flight_and_sent_during_a_restart_are_answered(kind, smem_export, reference, tmp_path):
    base = base_with(tmp_path, smem_export[1], 1)
    ports = free_ports(2)
    flags = (f"--model_name={MODEL}", f"--model_base_path={base}")
    first = Server(kind, *flags, log_dir=str(tmp_path), ports=ports)
    first.wait_for_version(MODEL, 1)
    inputs, expected = reference
    clients = [GrpcClient(f"127.0.0.1:{ports[0]}", DEADLINE), RestClient(f"127.0.0.1:{ports[1]}", DEADLINE)]
    stop = threading.Event()
    threads, answers, failures = _load(clients * 2, inputs, expected, stop)
    second = None
    try:
        time.sleep(1.0)
        answered_before = len(answers)
        first.process.kill()  # SIGKILL: no goodbye to the clients
        first.process.wait()
        killed = time.monotonic()
        second = Server(kind, *flags, log_dir=str(tmp_path), ports=ports)
        second.wait_for_version(MODEL, 1)
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for client in clients:
            getattr(client, "close", lambda: None)()
        if second is not None:
            second.stop()
    assert failures == []
    assert answered_before > 0
    # Some requests waited out the restart: each took longer than the server was away before it loaded.
    assert max(answers) > 1.0 and len(answers) > answered_before
    assert time.monotonic() - killed < DEADLINE


def test_a_server_that_never_comes_back_fails_the_call_at_its_deadline(tmp_path):
    grpc_port, rest_port = free_ports(2)
    inputs = {"question": ["is there a red square?"], "image": [b""]}
    for client, code in (
        (GrpcClient(f"127.0.0.1:{grpc_port}", timeout=1.5), grpc.StatusCode.DEADLINE_EXCEEDED),
        (RestClient(f"127.0.0.1:{rest_port}", timeout=1.5), grpc.StatusCode.UNAVAILABLE),
    ):
        start = time.monotonic()
        with pytest.raises(ServingError) as error:
            client.predict(MODEL, inputs)
        assert error.value.code == code, error.value
        assert 1.0 < time.monotonic() - start < 4.0
