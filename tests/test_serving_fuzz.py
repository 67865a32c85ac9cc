"""Random hostile requests against one local server: each is answered OK or refused as the
client's fault within a time bound, and the server then still answers a good request correctly.

Local server only: the refusals checked are its own (TF Serving fills out short tensors).
"""

import http.client
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_servers import MODEL, Server, base_with
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2
from test_server_limits import assert_answers_like

from vqa_tf.serving import ServingError

pytestmark = pytest.mark.slow
CLIENT_ERRORS = {
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "FAILED_PRECONDITION",
    "RESOURCE_EXHAUSTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
}
BOUND_SECONDS = 10.0  # generous: a fuzzed request may legitimately run the model on a loaded box
FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def local(smem_export, tmp_path_factory):
    base = base_with(tmp_path_factory.mktemp("served"), smem_export[1], 1)
    running = Server(
        "local",
        f"--model_name={MODEL}",
        f"--model_base_path={base}",
        "--rest_api_timeout_in_ms=2000",
        "--rest_api_max_body_bytes=65536",
        log_dir=str(tmp_path_factory.mktemp("logs")),
    )
    running.wait_for_version(MODEL, 1)
    yield running
    running.stop()


def still_serving(local, reference):
    inputs, expected = reference
    assert local.process.poll() is None, local.log()
    assert_answers_like(local.grpc.predict(MODEL, inputs), expected)


DTYPES = [
    types_pb2.DT_FLOAT,
    types_pb2.DT_DOUBLE,
    types_pb2.DT_INT32,
    types_pb2.DT_INT64,
    types_pb2.DT_STRING,
    types_pb2.DT_BOOL,
    types_pb2.DT_HALF,
    types_pb2.DT_UINT8,
    types_pb2.DT_COMPLEX64,
    types_pb2.DT_RESOURCE,
    999,
]
DIMS = st.one_of(st.integers(-3, 4), st.sampled_from([-1, 2**31, 2**62, 20000]))


@st.composite
def tensors(draw):
    dtype = draw(st.sampled_from(DTYPES))
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in draw(st.lists(DIMS, max_size=4))]
    proto = tensor_pb2.TensorProto(dtype=dtype, tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dims))
    proto.tensor_shape.unknown_rank = draw(st.booleans()) and draw(st.booleans())
    count = draw(st.integers(0, 6))
    if draw(st.booleans()):
        proto.tensor_content = draw(st.binary(max_size=64))
    elif dtype == types_pb2.DT_STRING:
        proto.string_val.extend(draw(st.lists(st.binary(max_size=40), min_size=count, max_size=count)))
    else:
        proto.float_val.extend([0.5] * count)
        proto.int_val.extend([1] * draw(st.integers(0, 6)))
    return proto


@given(
    signature=st.sampled_from(["serving_default", "serve_features", "nope", ""]),
    inputs=st.dictionaries(st.sampled_from(["question", "image", "image_features", "other"]), tensors(), max_size=3),
)
@FUZZ
def test_random_tensor_protos(local, reference, signature, inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = MODEL, signature
    for name, proto in inputs.items():
        request.inputs[name].CopyFrom(proto)
    start = time.monotonic()
    try:
        local.grpc.send(request)
    except ServingError as error:
        assert error.code.name in CLIENT_ERRORS, error
    assert time.monotonic() - start < BOUND_SECONDS
    still_serving(local, reference)


TEXT = st.one_of(st.text(max_size=60), st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {},
        optional={
            "signature_name": JSON | st.sampled_from(["serving_default", "serve_features"]),
            "instances": JSON
            | st.lists(
                st.fixed_dictionaries({"question": TEXT, "image": st.fixed_dictionaries({"b64": TEXT})}), max_size=3
            ),
            "inputs": JSON,
        },
    ).map(lambda v: json.dumps(v).encode()),
)
HEADER_VALUES = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)


@given(
    body=BODIES,
    path=st.sampled_from([f"/v1/models/{MODEL}:predict", f"/v1/models/{MODEL}", "/v1/x", "/%ff"]),
    method=st.sampled_from(["POST", "GET", "PUT"]),
    length=st.one_of(st.none(), HEADER_VALUES),
    extra=st.dictionaries(
        st.sampled_from(["Connection", "Transfer-Encoding", "Expect", "X-Y"]), HEADER_VALUES, max_size=2
    ),
)
@FUZZ
def test_random_rest_requests(local, reference, body, path, method, length, extra):
    headers = dict(extra, **({"Content-Length": length} if length is not None else {}))
    connection = http.client.HTTPConnection("127.0.0.1", local.rest_port, timeout=BOUND_SECONDS)
    start = time.monotonic()
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        status, reply = response.status, response.read()
    except (ConnectionError, http.client.RemoteDisconnected):
        status, reply = None, b""  # the server may close once it has answered a request it could not read whole
    finally:
        connection.close()
    assert time.monotonic() - start < BOUND_SECONDS
    if status is not None:
        assert status == 200 or 400 <= status < 500 or status == 501, (status, reply)
        assert "error" in json.loads(reply) or status == 200
    still_serving(local, reference)


@given(question=TEXT | st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace")), raw=st.binary(max_size=200))
@FUZZ
def test_random_questions_and_bytes(local, reference, question, raw):
    for inputs in ({"question": [question], "image": [raw]}, {"question": [raw], "image": [raw]}):
        start = time.monotonic()
        try:
            local.grpc.predict(MODEL, inputs)
        except ServingError as error:
            assert error.code.name in CLIENT_ERRORS, error
        assert time.monotonic() - start < BOUND_SECONDS
    still_serving(local, reference)
