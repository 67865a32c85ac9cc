"""The one exception type for bad input data."""

from vqa_tf.errors import VqaTfError


class DataError(VqaTfError, ValueError):
    """Malformed or missing input data. The message names the file and the record."""
