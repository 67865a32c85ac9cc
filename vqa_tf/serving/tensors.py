"""TensorProto ⇄ numpy for the request path: raw bytes for numbers, `string_val` for strings.

`tf.make_tensor_proto` / `tf.make_ndarray` handle every case but cost tens of
microseconds each; a served request converts two inputs and four outputs on
each side, so the common dtypes take this direct path and the rest fall back.
"""

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

_NUMERIC = {
    np.dtype(np.float32): types_pb2.DT_FLOAT,
    np.dtype(np.float64): types_pb2.DT_DOUBLE,
    np.dtype(np.int32): types_pb2.DT_INT32,
    np.dtype(np.int64): types_pb2.DT_INT64,
}
_NUMPY = {enum: dtype for dtype, enum in _NUMERIC.items()}


def _shape(shape):
    return tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in shape])


def to_proto(array):
    """A TensorProto of a numpy array (bytes / str arrays become DT_STRING).

    Example:

        to_proto(np.array([b"yes", b"no"], dtype=object)).string_val   # [b'yes', b'no']
    """
    array = np.asarray(array)
    if array.dtype in _NUMERIC:
        return tensor_pb2.TensorProto(dtype=_NUMERIC[array.dtype], tensor_shape=_shape(array.shape),
                                      tensor_content=np.ascontiguousarray(array).tobytes())
    if array.dtype == object and all(isinstance(v, bytes) for v in array.flat):
        return tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=_shape(array.shape),
                                      string_val=list(array.flat))
    return tf.make_tensor_proto(array)


def from_proto(proto):
    """The numpy array of a TensorProto (strings as an object array of bytes)."""
    shape = [d.size for d in proto.tensor_shape.dim]
    if proto.dtype in _NUMPY and proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype=_NUMPY[proto.dtype]).reshape(shape)
    if proto.dtype == types_pb2.DT_STRING and len(proto.string_val) == int(np.prod(shape)):
        array = np.empty(len(proto.string_val), dtype=object)
        array[:] = list(proto.string_val)
        return array.reshape(shape)
    return tf.make_ndarray(proto)
