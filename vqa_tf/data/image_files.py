"""Checks that the image files a data set names exist and decode."""

import re

import tensorflow as tf

from vqa_tf.data.errors import DataError

_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG


def verify_image_file(path, record):
    """Raises `DataError` unless `path` is a JPEG or PNG file that decodes.

    Decodes the whole image (eagerly, with `tf.io.decode_image`), so it
    catches truncated files as well as wrong formats. Works on any path
    `tf.io.gfile` reads (local, gs://, ...).

    Args:
        path: the image file.
        record: what refers to the image, for the error message, such as
            "question_id 42 in questions.json".

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> tf.io.write_file(path, tf.io.encode_png(tf.zeros([2, 2, 3], tf.uint8)))
    >>> verify_image_file(path, "image 0 in captions.json")
    >>> verify_image_file(path + ".jpg", "image 0 in captions.json")
    Traceback (most recent call last):
    ...
    vqa_tf.data.errors.DataError: missing image file ....png.jpg for image 0 in captions.json
    """
    if not tf.io.gfile.exists(path) or tf.io.gfile.isdir(path):
        raise DataError(f"missing image file {path} for {record}")
    data = tf.io.read_file(path)
    if not data.numpy().startswith(_SIGNATURES):
        raise DataError(f"corrupt image file {path} for {record}: not a JPEG or PNG file")
    try:
        tf.io.decode_image(data, expand_animations=False)
    except tf.errors.OpError as error:
        reason = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:\w+\]", "", error.message)
        raise DataError(f"corrupt image file {path} for {record}: {reason}") from None


def verify_image_files(paths_and_records):
    """`verify_image_file` on each distinct path of (path, record) pairs.

    A path named by several records is decoded once, and an error names the
    first record that refers to it.

    Examples:
    >>> verify_image_files([])
    """
    verified = set()
    for path, record in paths_and_records:
        if path not in verified:
            verify_image_file(path, record)
            verified.add(path)
