"""The one exception type for bad input data."""


class DataError(ValueError):
    """Malformed or missing input data. The message names the file and the record."""
