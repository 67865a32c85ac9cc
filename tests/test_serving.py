"""Serving over loopback gRPC and REST: the local server, and `tensorflow_model_server` when on PATH."""

import base64
import http.client
import json
import os
import pathlib
import time
from concurrent import futures

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import wrappers_pb2
from image_bytes import zero_png
from serving_servers import KINDS, MODEL, Server, base_with, inputs_of, server_command

from vqa_tf.export import MAX_REQUEST_PIXELS, export
from vqa_tf.serving import ServingError
from vqa_tf.training import make_task

pytestmark = pytest.mark.slow


def _assert_same_answers(out, expected, rows=slice(None)):
    assert list(out["answer"]) == list(expected["answer"][rows])
    np.testing.assert_array_equal(out["top_answers"], expected["top_answers"][rows])
    np.testing.assert_allclose(out["top_scores"], expected["top_scores"][rows], atol=1e-5)
    np.testing.assert_allclose(out["attention"], expected["attention"][rows], atol=1e-5)


def test_grpc_predict_answers_a_batch_as_the_saved_model_does(server, reference):
    inputs, expected = reference
    out = server.grpc.predict(MODEL, inputs)
    _assert_same_answers(out, expected)
    assert out["attention"].shape == (4, 2, 8, 8) and out["top_answers"].shape == (4, 5)  # the default top_k
    response = server.grpc.send(server.grpc.predict_request(MODEL, inputs))
    assert (response.model_spec.name, response.model_spec.version.value) == (MODEL, 1)
    assert response.model_spec.signature_name == "serving_default"


def _post(server, path, body):
    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=60)
    connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def test_rest_predict_answers_a_batch_in_columns_and_in_rows(server, reference):
    inputs, expected = reference
    _assert_same_answers(server.rest.predict(MODEL, inputs), expected)
    rows = [
        {"question": q, "image": {"b64": base64.b64encode(i).decode()}}
        for q, i in zip(inputs["question"], inputs["image"])
    ]
    status, body = _post(server, f"/v1/models/{MODEL}:predict", json.dumps({"instances": rows}))
    assert status == 200, body
    assert [p["answer"] for p in body["predictions"]] == [a.decode() for a in expected["answer"]]
    np.testing.assert_allclose([p["attention"] for p in body["predictions"]], expected["attention"], atol=1e-5)
    status, body = _post(server, f"/v1/models/{MODEL}/versions/1:predict", json.dumps({"instances": rows[:1]}))
    assert status == 200 and body["predictions"][0]["answer"] == expected["answer"][0].decode()


def test_get_model_metadata_lists_the_documented_signatures(server):
    defs = server.grpc.signature_defs(MODEL)
    assert {"serving_default", "serve_features"} <= set(defs)
    serving = defs["serving_default"]
    assert {k: v.dtype for k, v in serving.inputs.items()} == {
        "question": tf.string.as_datatype_enum,
        "image": tf.string.as_datatype_enum,
    }
    assert {k: v.dtype for k, v in serving.outputs.items()} == {
        "answer": tf.string.as_datatype_enum,
        "top_answers": tf.string.as_datatype_enum,
        "top_scores": tf.float32.as_datatype_enum,
        "attention": tf.float32.as_datatype_enum,
    }
    assert [d.size for d in defs["serve_features"].inputs["image_features"].tensor_shape.dim] == [-1, 8, 8, 66]
    rest = server.rest.signature_defs(MODEL)
    assert set(rest["serving_default"]["inputs"]) == {"question", "image"}
    assert set(rest["serving_default"]["outputs"]) == {"answer", "top_answers", "top_scores", "attention"}


def test_get_model_status_reports_the_served_version(server):
    assert server.grpc.status(MODEL) == [(1, "AVAILABLE", "")]
    assert server.rest.status(MODEL) == [(1, "AVAILABLE", "")]
    with pytest.raises(ServingError) as error:
        server.grpc.status("no_such_model")
    assert error.value.code.name == "NOT_FOUND" and "no_such_model" in error.value.message


GOOD_QUESTION = "is there a red square?"
BAD_REQUESTS = {
    "corrupt image": (dict(image=[b"\x89PNG not really an image"]), ("INVALID_ARGUMENT",), "neither JPEG nor PNG"),
    "mismatched batch": (dict(question=[GOOD_QUESTION] * 3), ("INVALID_ARGUMENT",), "same batch size"),
    "empty question": (dict(question=[""]), ("INVALID_ARGUMENT",), "a question has no words"),
    "10,000 characters": (dict(question=["x" * 10_000]), ("INVALID_ARGUMENT",), "longer than 1000 characters"),
    "non-UTF-8": (dict(question=[b"is there a red \xff\xfe square?"]), ("INVALID_ARGUMENT",), "not valid UTF-8"),
    "over the decode budget": (
        dict(question=[GOOD_QUESTION] * 2, image=[zero_png(4096, 4096)] * 2),
        ("INVALID_ARGUMENT",),
        f"declare {2 * 4096 * 4096} pixels in all (height × width summed over its rows), more than "
        f"max_request_pixels={MAX_REQUEST_PIXELS}",
    ),
    "unknown model": (dict(model="no_such_model"), ("NOT_FOUND",), "no_such_model"),
    # TF Serving itself answers an unknown signature with FAILED_PRECONDITION (400 over REST).
    "unknown signature": (
        dict(signature="no_such_signature"),
        ("INVALID_ARGUMENT", "FAILED_PRECONDITION"),
        "no_such_signature",
    ),
}


@pytest.mark.parametrize("transport", ["grpc", "rest"])
@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_a_bad_request_gets_its_error_and_the_next_good_one_works(server, reference, task, transport, case):
    change, codes, message = BAD_REQUESTS[case]
    client = getattr(server, transport)
    inputs, expected = reference
    one = {"question": inputs["question"][:1], "image": inputs["image"][:1]}
    bad = {**one, **{k: v for k, v in change.items() if k in one}}
    with pytest.raises(ServingError) as error:
        client.predict(change.get("model", MODEL), bad, signature=change.get("signature", "serving_default"))
    if transport == "rest" and "FAILED_PRECONDITION" in codes:
        codes = ("INVALID_ARGUMENT",)  # both come back as HTTP 400
    assert error.value.code.name in codes, error.value
    assert message in error.value.message
    _assert_same_answers(client.predict(MODEL, one), expected, slice(0, 1))


def test_malformed_rest_bodies_get_400_and_the_server_goes_on(server, reference):
    for body in ["{not json", json.dumps({"instances": [], "inputs": {}}), json.dumps([1, 2])]:
        status, reply = _post(server, f"/v1/models/{MODEL}:predict", body)
        assert status == 400 and reply["error"], (body, reply)
    inputs, expected = reference
    _assert_same_answers(server.rest.predict(MODEL, inputs), expected)


@pytest.mark.parametrize("kind", KINDS)
def test_a_new_version_is_served_without_a_restart_and_a_broken_one_is_reported(kind, smem_export, reference, tmp_path):
    base = base_with(tmp_path, smem_export[1], 1)
    server = Server(kind, f"--model_name={MODEL}", f"--model_base_path={base}", log_dir=str(tmp_path))
    try:
        server.wait_for_version(MODEL, 1)
        inputs, expected = reference
        assert export(smem_export[0], base) == os.path.join(base, "2")  # written beside, renamed in
        server.wait_for_version(MODEL, 2, timeout=60)
        response = server.grpc.send(server.grpc.predict_request(MODEL, inputs))
        assert response.model_spec.version.value == 2
        _assert_same_answers(server.grpc.predict(MODEL, inputs), expected)
        _wait_for(lambda: dict((v, s) for v, s, _ in server.grpc.status(MODEL)).get(1) == "END")  # latest-1 policy

        broken = os.path.join(base, ".tmp-3")
        os.makedirs(broken)
        with open(os.path.join(broken, "saved_model.pb"), "wb") as f:
            f.write(b"half of a saved model")
        os.rename(broken, os.path.join(base, "3"))
        _wait_for(lambda: any(v == 3 and s == "END" and e for v, s, e in server.grpc.status(MODEL)))
        assert server.grpc.send(server.grpc.predict_request(MODEL, inputs)).model_spec.version.value == 2
    finally:
        server.stop()


def _wait_for(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError("the server did not reach the expected state in time")


@pytest.mark.parametrize("kind", KINDS)
def test_batching_server_answers_concurrent_requests_each_with_its_own_rows(kind, smem_export, task, tmp_path):
    params = tmp_path / "batching.txt"
    params.write_text(
        "max_batch_size { value: 8 }\nbatch_timeout_micros { value: 20000 }\n"
        "num_batch_threads { value: 2 }\nallowed_batch_sizes: 4\nallowed_batch_sizes: 8\n"
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
        inputs = inputs_of(task, count=12)
        serve = tf.saved_model.load(smem_export[1]).signatures["serving_default"]
        expected = {
            k: v.numpy()
            for k, v in serve(question=tf.constant(inputs["question"]), image=tf.constant(inputs["image"])).items()
        }
        questions = list(inputs["question"])
        questions[5] = ""  # a bad request among good ones fails alone

        def ask(i):
            try:
                return server.grpc.predict(MODEL, {"question": [questions[i]], "image": [inputs["image"][i]]})
            except ServingError as error:
                return error

        with futures.ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(ask, range(12)))
        for i, out in enumerate(answers):
            if i == 5:
                assert isinstance(out, ServingError) and "a question has no words" in out.message
            else:
                _assert_same_answers(out, expected, slice(i, i + 1))
        with pytest.raises(ServingError, match="larger than") as error:
            server.grpc.predict(MODEL, {"question": questions[:9], "image": inputs["image"][:9]})
        assert error.value.code.name == "INVALID_ARGUMENT"
        _assert_no_rows_is_refused(server)
    finally:
        server.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_the_metrics_page_counts_the_batches_run(kind, smem_export, task, tmp_path):
    """16 concurrent one-row requests to a server batching up to 8 rows run as at least 2 and fewer than 16
    batches, on the page `--monitoring_config_file` turns on; a server without it has no such page."""
    params, monitoring = tmp_path / "batching.txt", tmp_path / "monitoring.txt"
    params.write_text("max_batch_size { value: 8 }\nbatch_timeout_micros { value: 50000 }\n")
    monitoring.write_text('prometheus_config { enable: true, path: "/metrics" }')
    base = base_with(tmp_path, smem_export[1], 1)
    flags = [f"--model_name={MODEL}", f"--model_base_path={base}", "--enable_batching"]
    server = Server(
        kind,
        *flags,
        f"--batching_parameters_file={params}",
        f"--monitoring_config_file={monitoring}",
        log_dir=str(tmp_path),
    )
    try:
        server.wait_for_version(MODEL, 1)
        inputs = inputs_of(task, count=16)
        counter = ":tensorflow:serving:batching_session:wrapped_run_count"
        before = server.rest.metrics("/metrics").get(counter, 0.0)
        with futures.ThreadPoolExecutor(16) as pool:
            list(
                pool.map(lambda i: server.grpc.predict(MODEL, {k: v[i : i + 1] for k, v in inputs.items()}), range(16))
            )
        batches = server.rest.metrics("/metrics")[counter] - before
        assert 2 <= batches < 16, batches
    finally:
        server.stop()
    plain = Server(kind, *flags, log_dir=str(tmp_path))
    try:
        plain.wait_for_version(MODEL, 1)
        with pytest.raises(ServingError, match="is monitoring enabled") as error:
            plain.rest.metrics()
        assert error.value.code.name == "NOT_FOUND"
    finally:
        plain.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_the_tensorflow_thread_flags_are_taken(kind, smem_export, reference, tmp_path):
    """A server given one intra-op and one inter-op thread answers as the SavedModel does (the local server
    logs the counts TensorFlow took); a negative count is refused at start, naming the flag."""
    inputs, expected = reference
    base = base_with(tmp_path, smem_export[1], 1)
    flags = [f"--model_name={MODEL}", f"--model_base_path={base}"]
    server = Server(
        kind,
        *flags,
        "--tensorflow_intra_op_parallelism=1",
        "--tensorflow_inter_op_parallelism=1",
        log_dir=str(tmp_path),
    )
    try:
        server.wait_for_version(MODEL, 1)
        _assert_same_answers(server.grpc.predict(MODEL, inputs), expected)
        if kind == "local":
            assert "TensorFlow threads: intra-op 1, inter-op 1" in server.log()
    finally:
        server.stop()
    if kind == "local":
        refused = Server(kind, *flags, "--tensorflow_intra_op_parallelism=-1", log_dir=str(tmp_path))
        assert refused.process.wait(timeout=120) != 0
        assert "tensorflow_intra_op_parallelism" in refused.log()


def _assert_no_rows_is_refused(server):
    """A request of no rows gets INVALID_ARGUMENT over both transports (in the graph's words, "the request has
    no rows", from the local server; TF Serving's own batching and JSON parser may refuse it first, in theirs)."""
    for client in (server.grpc, server.rest):
        with pytest.raises(ServingError) as error:
            client.predict(MODEL, {"question": np.array([], object), "image": np.array([], object)})
        assert error.value.code.name == "INVALID_ARGUMENT", error.value
        if server.kind == "local":
            assert error.value.message == "the request has no rows"


def test_a_request_of_no_rows_is_refused_by_name(server):
    _assert_no_rows_is_refused(server)


@pytest.mark.parametrize("kind", KINDS)
def test_a_model_config_file_serves_its_policy_and_labels(kind, smem_export, reference, tmp_path):
    base = base_with(tmp_path, smem_export[1], 1, 2)
    config = tmp_path / "models.config"
    config.write_text(
        f'model_config_list {{ config {{ name: "{MODEL}" base_path: "{base}" model_platform: "tensorflow" '
        'model_version_policy { latest { num_versions: 2 } } version_labels { key: "stable" value: 1 } } }'
    )
    server = Server(kind, f"--model_config_file={config}", log_dir=str(tmp_path))
    try:
        server.wait_for_version(MODEL, 2)
        _wait_for(lambda: server.grpc.status(MODEL) == [(1, "AVAILABLE", ""), (2, "AVAILABLE", "")])
        inputs, expected = reference

        def served_version(**spec):
            request = server.grpc.predict_request(MODEL, inputs)
            for key, value in spec.items():
                setattr(request.model_spec, key, value) if key != "version" else request.model_spec.version.CopyFrom(
                    value
                )
            return server.grpc.send(request).model_spec.version.value

        assert served_version() == 2
        assert served_version(version=wrappers_pb2.Int64Value(value=1)) == 1
        assert served_version(version_label="stable") == 1
        status, body = _post(
            server,
            f"/v1/models/{MODEL}/labels/stable:predict",
            json.dumps(
                {
                    "inputs": {
                        "question": inputs["question"],
                        "image": [{"b64": base64.b64encode(i).decode()} for i in inputs["image"]],
                    }
                }
            ),
        )
        assert status == 200 and body["outputs"]["answer"] == [a.decode() for a in expected["answer"]]
    finally:
        server.stop()


def _listening_addresses(port):
    """Local addresses of the TCP sockets listening on `port` (from /proc/net/tcp)."""
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:
                    addresses.append(address)
    return addresses


def test_the_local_server_listens_on_loopback_only(server):
    if server.kind != "local":
        pytest.skip(reason="tensorflow_model_server listens on every interface by design")
    for port in (server.grpc_port, server.rest_port):
        # 127.0.0.1 in /proc's hex, as IPv4 or as an IPv4-mapped IPv6 address (::ffff:127.0.0.1)
        addresses = _listening_addresses(port)
        assert addresses and set(addresses) <= {"0100007F", "0000000000000000FFFF00000100007F"}, (port, addresses)


@pytest.mark.parametrize("kind", KINDS)
def test_an_mdan_export_serves_its_embeddings_and_pair_scores(kind, mdan_export, tmp_path):
    server_command(kind)  # skips when this kind of server is not installed
    model_dir, path, config = mdan_export
    base = base_with(tmp_path / "served", path, 1)
    task = make_task(config, model_dir)
    examples = task.eval_examples[:3]
    images = [pathlib.Path(e.image_path).read_bytes() for e in examples]
    captions = [e.captions[0] for e in examples]
    signatures = tf.saved_model.load(path).signatures
    expected_v = signatures["embed_image"](image=tf.constant(images))["embedding"].numpy()
    expected_u = signatures["embed_text"](caption=tf.constant(captions))["embedding"].numpy()
    server = Server(kind, "--model_name=mdan", f"--model_base_path={base}", log_dir=str(tmp_path))
    try:
        server.wait_for_version("mdan", 1)
        for client in (server.grpc, server.rest):
            z_v = client.predict("mdan", {"image": images}, signature="embed_image")["embedding"]
            z_u = client.predict("mdan", {"caption": captions}, signature="embed_text")["embedding"]
            score = client.predict("mdan", {"image": images, "caption": captions})["score"]
            np.testing.assert_allclose(z_v, expected_v, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(z_u, expected_u, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(score, np.sum(z_v * z_u, axis=1), rtol=1e-5, atol=1e-5)
    finally:
        server.stop()
