"""JSON file helpers shared by the readers: errors name the file and the record."""

import json
import reprlib

import tensorflow as tf

from vqa_tf.data.errors import DataError
from vqa_tf.utils.files import write_text

_TYPE_NAMES = {int: "an integer", str: "a string", list: "a list", dict: "an object"}


def read_json(path):
    """The parsed contents of a JSON file; `DataError` if it is missing or malformed.

    Examples:
    >>> read_json("/no/such/file.json")
    Traceback (most recent call last):
    ...
    vqa_tf.data.errors.DataError: missing file /no/such/file.json
    """
    if not tf.io.gfile.exists(path):
        raise DataError(f"missing file {path}")
    with tf.io.gfile.GFile(path, "rb") as file:
        data = file.read()
    try:
        return json.loads(data)
    except json.JSONDecodeError as error:
        raise DataError(f"malformed JSON in {path}: line {error.lineno} column {error.colno}: {error.msg}") from None
    except UnicodeDecodeError as error:
        raise DataError(f"malformed JSON in {path}: not UTF-8 ({error.reason})") from None


def write_json(value, path):
    """Writes `value` as compact JSON to `path` atomically, creating parent directories."""
    write_text(path, json.dumps(value))


def get_field(record, key, kind, where):
    """`record[key]`, checked to be a JSON object's field of type `kind`.

    `where` names the file and record in the `DataError` otherwise. An `int`
    field rejects booleans.

    Examples:
    >>> get_field({"question_id": 4}, "question_id", int, "question 0 in q.json")
    4
    >>> get_field({"question_id": "4"}, "question_id", int, "question 0 in q.json")
    Traceback (most recent call last):
    ...
    vqa_tf.data.errors.DataError: question 0 in q.json: field 'question_id' should be an integer, got '4'
    """
    if not isinstance(record, dict):
        raise DataError(f"{where}: should be an object, got {reprlib.repr(record)}")
    if key not in record:
        raise DataError(f"{where}: missing field {key!r}")
    value = record[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DataError(f"{where}: field {key!r} should be {_TYPE_NAMES[kind]}, got {reprlib.repr(value)}")
    return value
