"""Hostile requests against the local server: each measured one gets a refusal, quickly and cheaply.

These run against the local server only: what they check is its own limits
and flags (TF Serving fills out a tensor whose values are missing, has no
REST body cap, and its REST errors differ).
"""

import http.client
import json
import math
import socket
import threading
import time

import numpy as np
import pytest
import tensorflow as tf
from serving_servers import MODEL, Server, base_with
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2

from vqa_tf.serving import ServingError
from vqa_tf.serving.tensors import MAX_ELEMENTS

pytestmark = pytest.mark.slow
TIMEOUT_MS = 2000
MAX_BODY = 1 << 20
MAX_MESSAGE = 4 << 20
MAX_TENSOR_ELEMENTS = MAX_ELEMENTS // 2 + 1  # above the "one value" case below, below the default


@pytest.fixture(scope="module")
def local(smem_export, tmp_path_factory):
    base = base_with(tmp_path_factory.mktemp("served"), smem_export[1], 1)
    running = Server(
        "local",
        f"--model_name={MODEL}",
        f"--model_base_path={base}",
        f"--rest_api_timeout_in_ms={TIMEOUT_MS}",
        f"--rest_api_max_body_bytes={MAX_BODY}",
        f"--grpc_max_message_bytes={MAX_MESSAGE}",
        "--rest_api_num_threads=4",
        f"--max_tensor_elements={MAX_TENSOR_ELEMENTS}",
        log_dir=str(tmp_path_factory.mktemp("logs")),
    )
    running.wait_for_version(MODEL, 1)
    yield running
    running.stop()


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(f"{field}:"))


def assert_answers_like(outputs, expected):
    assert set(outputs) == set(expected)
    for name, value in expected.items():
        if value.dtype == object:
            np.testing.assert_array_equal(np.asarray(outputs[name]), value)
        else:
            np.testing.assert_allclose(np.asarray(outputs[name], dtype=value.dtype), value, rtol=1e-4, atol=1e-5)


def assert_cheap(server, send):
    """`send()` returns within 1 s, and the server's peak resident memory meanwhile stays within
    100 MB of its resident memory before (the peak is reset through /proc/PID/clear_refs)."""
    pid = server.process.pid
    before = status_kib(pid, "VmRSS")
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS
    start = time.monotonic()
    try:
        return send()
    finally:
        elapsed = time.monotonic() - start
        grown = status_kib(pid, "VmHWM") - before
        assert elapsed < 1.0, f"took {elapsed:.2f} s"
        assert grown < 100 << 10, f"resident memory rose by {grown >> 10} MB"


def tensor(dtype, shape, **values):
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in shape]
    return tensor_pb2.TensorProto(dtype=dtype, tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dims), **values)


def predict_request(signature, **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = MODEL, signature
    for name, proto in inputs.items():
        request.inputs[name].CopyFrom(proto)
    return request


def declared_not_sent(grid):
    """{case: (request, the inputs it may be refused for)}: tensors that declare more values than they hold."""
    png = tf.io.encode_png(tf.zeros([4, 4, 3], tf.uint8)).numpy()
    rows = MAX_ELEMENTS // 2 // math.prod(grid)  # within the element limit: only the value count refuses it
    question = tensor(types_pb2.DT_STRING, [1], string_val=[b"is there a red square?"])
    return {
        # measured: 125 bytes declaring 327 MB of float features; TensorFlow's make_ndarray took 13 s and 2.5 GB
        "features": (
            predict_request(
                "serve_features", question=question, image_features=tensor(types_pb2.DT_FLOAT, [20000, 8, 8, 64])
            ),
            ["image_features"],
        ),
        # measured: 422 bytes declaring 20000 questions and images, one value each; padded out, 26 s and 9 GB
        "strings": (
            predict_request(
                "serving_default",
                question=tensor(types_pb2.DT_STRING, [20000], string_val=question.string_val),
                image=tensor(types_pb2.DT_STRING, [20000], string_val=[png]),
            ),
            ["question", "image"],
        ),
        # one value for this model's grid: TensorFlow repeats it into 128 MB of float32
        "one value": (
            predict_request(
                "serve_features",
                question=question,
                image_features=tensor(types_pb2.DT_FLOAT, [rows, *grid], float_val=[0.5]),
            ),
            ["image_features"],
        ),
    }


@pytest.fixture(scope="module")
def grid(local):
    """(H, W, C) of the served model's feature grids."""
    spec = local.grpc.signature_defs(MODEL)["serve_features"].inputs["image_features"]
    return [d.size for d in spec.tensor_shape.dim[1:]]


@pytest.mark.parametrize("case", ["features", "strings", "one value"])
def test_a_tensor_its_values_do_not_fill_is_refused_cheaply(local, reference, grid, case):
    request, refused = declared_not_sent(grid)[case]
    assert request.ByteSize() <= 4096
    with pytest.raises(ServingError) as error:
        assert_cheap(local, lambda: local.grpc.send(request))
    assert error.value.code.name == "INVALID_ARGUMENT", error.value
    assert any(f"input {name!r}" in error.value.message for name in refused), error.value
    inputs, expected = reference
    assert_answers_like(local.grpc.predict(MODEL, inputs), expected)


def test_a_tensor_over_the_element_limit_flag_is_refused(local, grid):
    rows = MAX_ELEMENTS // math.prod(grid)
    request = predict_request(
        "serve_features",
        question=tensor(types_pb2.DT_STRING, [1], string_val=[b"a question"]),
        image_features=tensor(types_pb2.DT_FLOAT, [rows, *grid], float_val=[0.5]),
    )
    with pytest.raises(ServingError) as error:
        assert_cheap(local, lambda: local.grpc.send(request))
    assert error.value.code.name == "INVALID_ARGUMENT"
    assert f"more than the limit of {MAX_TENSOR_ELEMENTS}" in error.value.message, error.value


def test_a_grpc_message_above_the_limit_is_refused(local):
    request = predict_request(
        "serving_default", question=tensor(types_pb2.DT_STRING, [1], string_val=[b"x" * MAX_MESSAGE])
    )
    with pytest.raises(ServingError) as error:
        local.grpc.send(request)
    assert error.value.code.name == "RESOURCE_EXHAUSTED"


def raw_request(server, head, body=b""):
    """(status, JSON reply) of raw bytes sent to the REST port; fails if the connection drops unanswered."""
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=TIMEOUT_MS / 1000 + 5) as sock:
        sock.sendall(head + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


PREDICT = f"POST /v1/models/{MODEL}:predict HTTP/1.1\r\nHost: x\r\n".encode()
BAD_REST = {
    "negative length": (PREDICT + b"Content-Length: -1\r\n\r\n", b"{}", 400),
    "non-numeric length": (PREDICT + b"Content-Length: ten\r\n\r\n", b"{}", 400),
    "no length": (PREDICT + b"\r\n", b"", 411),
    "chunked": (PREDICT + b"Transfer-Encoding: chunked\r\n\r\n", b"2\r\n{}\r\n0\r\n\r\n", 411),
    "too long": (PREDICT + f"Content-Length: {MAX_BODY + 1}\r\n\r\n".encode(), b"", 413),
}
BAD_JSON = {
    "deep nesting": b"[" * 100000,
    "signature list": json.dumps({"signature_name": ["serving_default"], "instances": [{"question": "a"}]}).encode(),
    "not an object": b"[1, 2]",
    "instances not a list": json.dumps({"instances": {"question": "a"}}).encode(),
    "instances of numbers": json.dumps({"instances": [1, 2]}).encode(),
    "not JSON": b"{'instances': ",
    "not UTF-8": b'{"instances": ["\xff"]}',
}


@pytest.mark.parametrize("name", BAD_REST)
def test_a_malformed_rest_request_is_answered(local, name):
    head, body, status = BAD_REST[name]
    got, reply = assert_cheap(local, lambda: raw_request(local, head, body))
    assert got == status and reply["error"]


@pytest.mark.parametrize("name", BAD_JSON)
def test_a_malformed_rest_body_is_answered_400(local, reference, name):
    body = BAD_JSON[name]
    head = PREDICT + f"Content-Length: {len(body)}\r\n\r\n".encode()
    got, reply = assert_cheap(local, lambda: raw_request(local, head, body))
    assert got == 400 and reply["error"], reply
    inputs, expected = reference
    assert_answers_like(local.rest.predict(MODEL, inputs), expected)


def test_idle_connections_neither_block_requests_nor_stay_open(local, reference):
    inputs, expected = reference
    idle = []
    try:
        for i in range(300):
            sock = socket.create_connection(("127.0.0.1", local.rest_port), timeout=30)
            if i % 2:
                sock.sendall(PREDICT + b"Content-Length: 100\r\n\r\n{")  # half a request
            idle.append(sock)
        start = time.monotonic()
        outputs = local.rest.predict(MODEL, inputs)
        assert time.monotonic() - start < 1.0
        assert_answers_like(outputs, expected)
        time.sleep(TIMEOUT_MS / 1000 + 2)
        assert idle[0].recv(1) == b""  # closed by the server
        answer = idle[1].recv(4096)  # the half-sent request is answered 408, then closed
        assert answer.startswith(b"HTTP/1.1 408") and b'"error"' in answer
        while answer:
            answer = idle[1].recv(4096)
    finally:
        for sock in idle:
            sock.close()


def test_a_body_sent_after_100_continue_is_answered(local):
    body = json.dumps({"instances": [1]}).encode()
    with socket.create_connection(("127.0.0.1", local.rest_port), timeout=5) as sock:
        sock.sendall(PREDICT + f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode())
        assert sock.recv(25).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 400 and json.loads(response.read())["error"]


def test_concurrent_rpcs_above_the_limit_are_refused(smem_export, tmp_path, reference):
    """Local flag: with --grpc_max_concurrent_rpcs=1 some of 16 simultaneous requests are refused."""
    base = base_with(tmp_path, smem_export[1], 1)
    server = Server(
        "local",
        f"--model_name={MODEL}",
        f"--model_base_path={base}",
        "--grpc_max_concurrent_rpcs=1",
        log_dir=str(tmp_path),
    )
    try:
        server.wait_for_version(MODEL, 1)
        inputs = {name: values * 8 for name, values in reference[0].items()}
        barrier, codes = threading.Barrier(16), []

        def call():
            barrier.wait()
            try:
                server.grpc.predict(MODEL, inputs)
                codes.append("OK")
            except ServingError as error:
                codes.append(error.code.name)

        threads = [threading.Thread(target=call) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert set(codes) == {"OK", "RESOURCE_EXHAUSTED"}, codes
    finally:
        server.stop()
