"""TF Serving's REST encoding of tensors, for the server (`rest_service`) and the client alike.

Binary values travel as {"b64": "…"}; string outputs come back as text, or as
{"b64": …} when their name ends in `_bytes` or they are not valid UTF-8.
A :predict body holds rows ({"instances": […]}) or columns ({"inputs": {…}}).
"""

import base64
import json

import grpc
import numpy as np

from vqa_tf.serving.errors import ServingError


def _invalid(message):
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def from_json(value):
    """JSON values with {"b64": …} objects replaced by bytes and text by UTF-8 bytes."""
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise _invalid(f'an object in a tensor value must be {{"b64": …}}, got keys {sorted(value)}')
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (ValueError, TypeError) as error:
            raise _invalid(f"a b64 value is not valid base64: {error}") from None
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def _input_array(value, name):
    value = from_json(value)
    try:
        array = np.array(value, dtype=object) if holds_bytes(value) else np.array(value)
    except ValueError as error:
        raise _invalid(f"input {name!r} is not a rectangular array: {error}") from None
    if array.dtype == object and any(not isinstance(v, bytes) for v in array.flat):
        raise _invalid(f"input {name!r} mixes strings with other values, or is ragged")
    return array


def holds_bytes(value):
    """Whether a (nested) JSON list holds bytes, judged by its first element."""
    while isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, bytes)


def _output_json(value, name):
    if isinstance(value, bytes):
        if not name.endswith("_bytes"):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list):
        return [_output_json(v, name) for v in value]
    return value


def decode_request(body, input_names, default_signature):
    """(signature name, {input: array}, row format?) of a :predict body.

    `input_names(signature)` lists a signature's inputs (for bodies that leave them unnamed).
    """
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise _invalid(f"the request body is not valid JSON: {error}") from None
    except RecursionError:
        raise _invalid("the request body nests too deeply") from None
    if not isinstance(request, dict):
        raise _invalid("the request body must be a JSON object")
    signature = request.get("signature_name", default_signature)
    if not isinstance(signature, str):
        raise _invalid(f'"signature_name" must be a string, got {type(signature).__name__}')
    if ("instances" in request) == ("inputs" in request):
        raise _invalid('the request must hold exactly one of "instances" (rows) and "inputs" (columns)')
    if "inputs" in request:
        columns = request["inputs"]
        if not isinstance(columns, dict):
            if len(input_names(signature)) != 1:
                raise _invalid(f'"inputs" must name each of {input_names(signature)}')
            columns = {input_names(signature)[0]: columns}
        return signature, {name: _input_array(value, name) for name, value in columns.items()}, False
    rows = request["instances"]
    if not isinstance(rows, list) or not rows:
        raise _invalid('"instances" must be a non-empty list')
    if not all(isinstance(row, dict) and not set(row) <= {"b64"} for row in rows):
        if len(input_names(signature)) != 1:
            raise _invalid(f"each instance must be an object naming each of {input_names(signature)}")
        return signature, {input_names(signature)[0]: _input_array(rows, "instances")}, True
    names = set(rows[0])
    if any(set(row) != names for row in rows):
        raise _invalid("every instance must name the same inputs")
    return signature, {name: _input_array([row[name] for row in rows], name) for name in names}, True


def encode_response(outputs, rows):
    """The JSON body for outputs: {"predictions": rows} or {"outputs": columns}; one output is not named."""
    columns = {name: _output_json(value.tolist(), name) for name, value in outputs.items()}
    if not rows:
        return {"outputs": next(iter(columns.values())) if len(columns) == 1 else columns}
    if len(columns) == 1:
        return {"predictions": next(iter(columns.values()))}
    count = len(next(iter(columns.values())))
    return {"predictions": [{name: column[i] for name, column in columns.items()} for i in range(count)]}


def request_json(value):
    """A request value as JSON: bytes as {"b64": …} (a client cannot know which strings are text)."""
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list):
        return [request_json(v) for v in value]
    return value


def response_array(value):
    """A JSON column as numpy: bytes as an object array, floats as float32 (JSON does not keep dtypes)."""
    if holds_bytes(value):
        return np.array(value, dtype=object)
    array = np.array(value)
    return array.astype(np.float32) if array.dtype == np.float64 else array
