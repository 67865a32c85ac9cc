"""TensorProto ⇄ numpy for the request path: raw bytes for numbers, `string_val` for strings.

`tf.make_tensor_proto` / `tf.make_ndarray` handle every case but cost tens of
microseconds each; a served request converts two inputs and four outputs on
each side, so the common dtypes take this direct path and the rest fall back.
A received tensor is checked first (`check_proto`): its shape must be valid and
within `MAX_ELEMENTS`, and its values must fill it exactly.
"""

import math

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_shape_pb2, types_pb2

# The most elements one received tensor may hold: 2**26 float32s are 256 MiB.
MAX_ELEMENTS = 2**26

_NUMERIC = {
    np.dtype(np.float32): types_pb2.DT_FLOAT,
    np.dtype(np.float64): types_pb2.DT_DOUBLE,
    np.dtype(np.int32): types_pb2.DT_INT32,
    np.dtype(np.int64): types_pb2.DT_INT64,
}
_NUMPY = {enum: dtype for dtype, enum in _NUMERIC.items()}


def fill_proto(proto, array):
    """Writes a numpy array into the empty TensorProto `proto` (bytes / str arrays become DT_STRING);
    returns `proto`. Filling a message's own field in place spares a copy of the values.

    Examples:

        fill_proto(tensor_pb2.TensorProto(), np.array([b"yes", b"no"], dtype=object)).string_val   # [b'yes', b'no']
        fill_proto(request.inputs["question"], np.array([b"is it red?"], dtype=object))
    """
    array = np.asarray(array)
    if array.dtype in _NUMERIC:
        proto.dtype = _NUMERIC[array.dtype]
        proto.tensor_shape.dim.extend(tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in array.shape)
        proto.tensor_content = np.ascontiguousarray(array).tobytes()
    elif array.dtype == object and all(isinstance(v, bytes) for v in array.flat):
        proto.dtype = types_pb2.DT_STRING
        proto.tensor_shape.dim.extend(tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in array.shape)
        proto.string_val.extend(array.flat)
    else:
        proto.CopyFrom(tf.make_tensor_proto(array))
    return proto


# For each dtype a request may carry: (the field that holds its values when they are not in
# tensor_content, bytes per element, field values per element). As in TensorFlow, the small
# integer types share int_val and the complex types hold (real, imaginary) pairs.
_VALUES = {
    types_pb2.DT_HALF: ("half_val", 2, 1),
    types_pb2.DT_BFLOAT16: ("half_val", 2, 1),
    types_pb2.DT_FLOAT: ("float_val", 4, 1),
    types_pb2.DT_DOUBLE: ("double_val", 8, 1),
    types_pb2.DT_INT8: ("int_val", 1, 1),
    types_pb2.DT_UINT8: ("int_val", 1, 1),
    types_pb2.DT_INT16: ("int_val", 2, 1),
    types_pb2.DT_UINT16: ("int_val", 2, 1),
    types_pb2.DT_INT32: ("int_val", 4, 1),
    types_pb2.DT_UINT32: ("uint32_val", 4, 1),
    types_pb2.DT_INT64: ("int64_val", 8, 1),
    types_pb2.DT_UINT64: ("uint64_val", 8, 1),
    types_pb2.DT_BOOL: ("bool_val", 1, 1),
    types_pb2.DT_STRING: ("string_val", None, 1),
    types_pb2.DT_COMPLEX64: ("scomplex_val", 8, 2),
    types_pb2.DT_COMPLEX128: ("dcomplex_val", 16, 2),
}


def check_proto(proto, max_elements=MAX_ELEMENTS):
    """Raises ValueError, before any conversion, for a TensorProto whose shape is invalid or holds
    more than `max_elements` elements, or whose values do not fill its shape exactly.

    TensorFlow's `Tensor::FromProto` (and so TF Serving) repeats the last value,
    or zero, to fill a shape, so a few bytes can declare gigabytes; this server
    refuses such a tensor instead.

    Examples:

        check_proto(tf.make_tensor_proto([1.0, 2.0]))   # passes
    """
    if proto.dtype not in _VALUES:
        name = types_pb2.DataType.Name(proto.dtype) if proto.dtype in types_pb2.DataType.values() else proto.dtype
        raise ValueError(f"dtype {name} cannot be sent")
    field, itemsize, per_element = _VALUES[proto.dtype]
    if proto.tensor_shape.unknown_rank:
        raise ValueError("the shape has an unknown rank")
    shape = [d.size for d in proto.tensor_shape.dim]
    if shape and min(shape) < 0:
        raise ValueError(f"shape {shape} has a negative dimension")
    elements = math.prod(shape)
    if elements > max_elements:
        raise ValueError(f"shape {shape} holds {elements} elements, more than the limit of {max_elements}")
    if proto.tensor_content:
        if itemsize is None:
            raise ValueError("strings go in string_val, not tensor_content")
        if len(proto.tensor_content) != elements * itemsize:
            raise ValueError(
                f"shape {shape} needs {elements * itemsize} bytes but tensor_content holds {len(proto.tensor_content)}"
            )
        return
    count = len(getattr(proto, field))
    if count != elements * per_element:
        raise ValueError(f"shape {shape} holds {elements} elements but {count / per_element:g} values were sent")


def from_proto(proto, max_elements=MAX_ELEMENTS):
    """The numpy array of a TensorProto (strings as an object array of bytes); ValueError if
    `check_proto` refuses it."""
    check_proto(proto, max_elements)
    shape = [d.size for d in proto.tensor_shape.dim]
    if proto.dtype in _NUMPY and proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype=_NUMPY[proto.dtype]).reshape(shape)
    if proto.dtype == types_pb2.DT_STRING:
        array = np.empty(len(proto.string_val), dtype=object)
        array[:] = list(proto.string_val)
        return array.reshape(shape)
    return tf.make_ndarray(proto)
