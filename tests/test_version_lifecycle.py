"""Versions coming and going under a served base path: nothing a client sends fails, and the status says what serves.

Tests that hold for `tensorflow_model_server` run against it too when it is
on PATH; each local-only test says why in its docstring.
"""

import os
import shutil
import threading
import time
from concurrent import futures

import grpc
import numpy as np
import pytest
from serving_servers import KINDS, MODEL, Server, base_with

from vqa_tf.export import export
from vqa_tf.serving import GrpcClient, ServingError
from vqa_tf.serving.batching import THREAD_NAME
from vqa_tf.serving.servables import ServedModel, State
from vqa_tf.serving.server_config import BatchingParameters, ModelConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def top3_export(smem_export, tmp_path_factory):
    """The fixture's model exported again with 3 top answers: another SavedModel, told apart by its outputs."""
    return export(smem_export[0], str(tmp_path_factory.mktemp("top3")), top_k=3)


def _assert_answers(out, expected, rows=slice(None)):
    """`out` is the reference model's answer to `rows`, with as many top answers as `out` has."""
    k = out["top_answers"].shape[1]
    assert list(out["answer"]) == list(expected["answer"][rows])
    np.testing.assert_array_equal(out["top_answers"], expected["top_answers"][rows, :k])
    np.testing.assert_allclose(out["top_scores"], expected["top_scores"][rows, :k], atol=1e-5)
    np.testing.assert_allclose(out["attention"], expected["attention"][rows], atol=1e-5)


def _states(server, *versions):
    """The state names of `versions`, None for a version the server has not seen."""
    states = {version: state for version, state, _ in server.grpc.status(MODEL)}
    return tuple(states.get(version) for version in versions)


def _until(condition, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("the server did not reach the expected state in time")


def _top_k(answer):
    return answer["top_answers"].shape[1] if isinstance(answer, dict) else None


def _served_version(server, inputs):
    return server.grpc.send(server.grpc.predict_request(MODEL, inputs)).model_spec.version.value


@pytest.mark.parametrize("kind", KINDS)
def test_deleting_the_newest_version_serves_the_previous_one_and_a_new_export_may_reuse_its_number(
    kind, smem_export, reference, tmp_path
):
    """Under `latest {num_versions: 1}`, deleting version 2 loads version 1 again; an export into the freed
    number (3 top answers instead of 5) is then served as version 2."""
    base = base_with(tmp_path, smem_export[1], 1, 2)
    server = Server(kind, f"--model_name={MODEL}", f"--model_base_path={base}", log_dir=str(tmp_path))
    try:
        server.wait_for_version(MODEL, 2)
        inputs, expected = reference
        shutil.rmtree(os.path.join(base, "2"))
        _until(lambda: _states(server, 1, 2) == ("AVAILABLE", "END"))
        assert _served_version(server, inputs) == 1
        _assert_answers(server.rest.predict(MODEL, inputs), expected)

        export(smem_export[0], base, version=2, top_k=3)
        _until(lambda: _states(server, 1, 2) == ("END", "AVAILABLE"))
        assert _served_version(server, inputs) == 2
        for client in (server.grpc, server.rest):
            out = client.predict(MODEL, inputs)
            assert out["top_answers"].shape == (4, 3)
            _assert_answers(out, expected)
    finally:
        server.stop()


def test_a_savedmodel_replaced_under_its_number_is_reloaded_while_requests_go_on(
    smem_export, top3_export, reference, tmp_path
):
    """Local server only: `tensorflow_model_server` knows a version by its number alone and never reloads a
    number it serves. Version 1 is a symbolic link, re-pointed in one step (os.replace) at a SavedModel with
    3 top answers; the server loads the new one before it retires the old, so requests sent all along are
    each answered by one or the other."""
    base = tmp_path / "base"
    base.mkdir()
    os.symlink(shutil.copytree(smem_export[1], tmp_path / "old"), base / "1")
    server = Server("local", f"--model_name={MODEL}", f"--model_base_path={base}", log_dir=str(tmp_path))
    inputs, expected = reference
    answers, stop = [], threading.Event()

    def ask():
        while not stop.is_set():
            try:
                answers.append(server.grpc.predict(MODEL, inputs))
            except ServingError as error:
                answers.append(error)

    try:
        server.wait_for_version(MODEL, 1)
        asking = threading.Thread(target=ask)
        asking.start()
        try:
            _until(lambda: len(answers) > 0)
            os.symlink(top3_export, base / ".tmp-link")
            os.replace(base / ".tmp-link", base / "1")
            _until(lambda: _top_k(answers[-1]) != 5)
            count = len(answers)
            _until(lambda: len(answers) > count + 5)  # and it goes on
        finally:
            stop.set()
            asking.join()
        assert not [a for a in answers if isinstance(a, ServingError)]
        for out in answers:
            _assert_answers(out, expected)
        top_ks = [_top_k(a) for a in answers]
        assert top_ks == sorted(top_ks, reverse=True) and top_ks[-1] == 3, top_ks  # 5 until the swap, 3 after it
        assert server.grpc.status(MODEL) == [(1, "AVAILABLE", "")]
    finally:
        server.stop()


def _failures(server, version):
    with open(server.log_path, encoding="utf-8", errors="replace") as f:
        return f.read().count(f"version {version} failed to load")


def test_a_version_that_failed_to_load_is_tried_again_once_its_files_change(smem_export, reference, tmp_path):
    """Local server only: `tensorflow_model_server` tries a version that failed to load again only after it
    has left the base path. The local server tries again when the directory's files change, and not on
    every poll before that."""
    base = base_with(tmp_path, smem_export[1], 1)
    server = Server("local", f"--model_name={MODEL}", f"--model_base_path={base}", log_dir=str(tmp_path))
    try:
        server.wait_for_version(MODEL, 1)
        inputs, expected = reference
        broken = os.path.join(base, ".tmp-2")
        os.makedirs(broken)
        with open(os.path.join(broken, "saved_model.pb"), "wb") as f:
            f.write(b"half of a saved model")
        os.rename(broken, os.path.join(base, "2"))
        _until(lambda: any(v == 2 and s == "END" and e for v, s, e in server.grpc.status(MODEL)))
        time.sleep(3.5)  # three more polls
        assert _failures(server, 2) == 1
        assert _served_version(server, inputs) == 1

        shutil.copytree(smem_export[1], os.path.join(base, "2"), dirs_exist_ok=True)  # repaired in place
        server.wait_for_version(MODEL, 2, timeout=90)
        assert _served_version(server, inputs) == 2
        _assert_answers(server.grpc.predict(MODEL, inputs), expected)
        _until(lambda: _states(server, 1, 2) == ("END", "AVAILABLE"))
    finally:
        server.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_a_deadline_ends_the_wait_for_a_batch_and_requests_in_flight_finish_on_an_unloaded_version(
    kind, smem_export, reference, tmp_path
):
    """Batches wait 5 s for company. A gRPC deadline of 0.5 s is answered DEADLINE_EXCEEDED in time; requests
    waiting for their batch when their only version is deleted (which unloads it) are answered by it, and
    later requests find no version."""
    params = tmp_path / "batching.txt"
    params.write_text(
        "max_batch_size { value: 16 }\nbatch_timeout_micros { value: 5000000 }\nnum_batch_threads { value: 1 }\n"
    )
    base = base_with(tmp_path, smem_export[1], 1)
    server = Server(
        kind,
        f"--model_name={MODEL}",
        f"--model_base_path={base}",
        "--enable_batching",
        f"--batching_parameters_file={params}",
        log_dir=str(tmp_path),
    )
    try:
        server.wait_for_version(MODEL, 1)
        inputs, expected = reference
        hurried = GrpcClient(f"127.0.0.1:{server.grpc_port}", timeout=0.5)
        start = time.monotonic()
        with pytest.raises(ServingError) as error:
            hurried.predict(MODEL, inputs)
        assert error.value.code == grpc.StatusCode.DEADLINE_EXCEEDED and time.monotonic() - start < 5, error.value
        hurried.close()

        row = [{name: values[i : i + 1] for name, values in inputs.items()} for i in range(4)]
        with futures.ThreadPoolExecutor(4) as pool:
            waiting = [pool.submit((server.grpc if i % 2 else server.rest).predict, MODEL, row[i]) for i in range(4)]
            time.sleep(0.3)
            shutil.rmtree(os.path.join(base, "1"))
            _until(lambda: _states(server, 1) != ("AVAILABLE",))
            assert not any(answer.done() for answer in waiting)  # unloading began while they waited
            for i, answer in enumerate(waiting):
                _assert_answers(answer.result(), expected, slice(i, i + 1))
        _until(lambda: _states(server, 1) == ("END",))
        with pytest.raises(ServingError) as error:
            server.grpc.predict(MODEL, inputs)
        assert error.value.code == grpc.StatusCode.NOT_FOUND
    finally:
        server.stop()


def _batch_threads():
    return sum(thread.name == THREAD_NAME for thread in threading.enumerate())


def test_a_version_unloaded_under_its_requests_answers_them_then_stops_its_batch_threads(
    smem_export, reference, tmp_path
):
    """In-process, to see the threads and the leases REST takes: it leases a version to read its input names,
    then predicts on it. Local server only by nature."""
    base = base_with(tmp_path, smem_export[1], 1)
    model = ServedModel(
        ModelConfig(MODEL, base),
        BatchingParameters(max_batch_size=8, batch_timeout_micros=1_000_000, num_batch_threads=2),
    )
    before = _batch_threads()
    model.poll()
    questions, expected = reference
    inputs = {name: np.array(values, dtype=object) for name, values in questions.items()}
    with model.lease() as lease:  # taken before the unload
        with futures.ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(model.predict, inputs, "serving_default")
            _until(lambda: _batch_threads() == before + 2)
            shutil.rmtree(os.path.join(base, "1"))
            model.poll()
            assert model.status() == [(1, State.UNLOADING, "")]
            version, outputs = waiting.result()
        assert version == 1
        _assert_answers(outputs, expected)
        assert model.status() == [(1, State.UNLOADING, "")]  # the lease still holds it
        _assert_answers(lease.predict(inputs, "serving_default"), expected)
    assert model.status() == [(1, State.END, "")]
    _until(lambda: _batch_threads() == before)
    with pytest.raises(ServingError, match="no available version") as error:
        model.predict(inputs, "serving_default")
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    model.close()
