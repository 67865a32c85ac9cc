"""The request path's TensorProto conversion agrees with TensorFlow's own, both ways."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2

from vqa_tf.serving.tensors import fill_proto, from_proto

ARRAYS = [
    np.random.default_rng(0).random((3, 2, 8, 8)).astype(np.float32),
    np.arange(6, dtype=np.int64).reshape(2, 3),
    np.arange(4, dtype=np.int32),
    np.linspace(0, 1, 5),
    np.array([b"yes", b"", b"\xff\xfe not UTF-8"], dtype=object),
    np.array([[b"yes", b"no"], [b"no", b"yes"]], dtype=object),
    np.array([True, False]),  # falls back to tf.make_tensor_proto
    np.zeros((0, 4), np.float32),
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{list(a.shape)}")
def test_round_trips_match_tensorflow(array):
    proto = fill_proto(tensor_pb2.TensorProto(), array)
    for decoded in (from_proto(proto), tf.make_ndarray(proto), from_proto(tf.make_tensor_proto(array))):
        assert decoded.shape == array.shape
        np.testing.assert_array_equal(decoded, array)
    assert tf.make_ndarray(proto).dtype == (array.dtype if array.dtype != object else object)
    assert proto.dtype == tf.make_tensor_proto(array).dtype


def test_client_inputs_keep_every_byte_and_encode_text():
    from vqa_tf.serving.clients import _as_array

    ends_in_nul = b"\x89PNG\r\n\x1a\n\x00\x00"
    array = _as_array([ends_in_nul, "is there a red square?"])
    assert array.dtype == object and list(array) == [ends_in_nul, b"is there a red square?"]
    assert _as_array([["a", "b"], ["c", "d"]]).shape == (2, 2)
    np.testing.assert_array_equal(_as_array([[0.5, 1.0]]), np.array([[0.5, 1.0]]))


def _proto(dtype, shape, **values):
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2

    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in shape]
    return tensor_pb2.TensorProto(dtype=dtype, tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dims), **values)


@pytest.mark.parametrize(
    "proto, message",
    [
        (_proto(1, [20000, 8, 8, 64]), "more than the limit"),  # 125 bytes that TensorFlow fills out to 5 GB
        (_proto(7, [20000], string_val=[b"a"]), "holds 20000 elements but 1 values"),  # TF pads with the last value
        (_proto(1, [2, 2], float_val=[1.0] * 5), "4 elements but 5 values"),
        (_proto(1, [3], tensor_content=b"\0" * 8), "needs 12 bytes"),
        (_proto(1, [-1, 4]), "negative"),
        (_proto(3, [2**40, 2**40], int_val=[1]), "more than the limit"),
        (_proto(7, [1], tensor_content=b"abcd"), "string_val"),
        (_proto(20, [1]), "cannot be sent"),  # DT_RESOURCE
        (_proto(8, [1], scomplex_val=[1.0]), "0.5 values"),
    ],
)
def test_refuses_a_tensor_its_values_do_not_fill(proto, message):
    with pytest.raises(ValueError, match=message):
        from_proto(proto)
