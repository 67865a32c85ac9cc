"""The error every serving component raises: a gRPC status code and a message that names the problem."""

import grpc

from vqa_tf.errors import VqaTfError

# How TF Serving's REST API reports each gRPC status.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
# The code a REST client reports for an HTTP status (the first code that maps to it).
_BY_HTTP_STATUS = {}
for _code, _status in HTTP_STATUS.items():
    _BY_HTTP_STATUS.setdefault(_status, _code)


class ServingError(VqaTfError):
    """A failed request: `code` is a `grpc.StatusCode`, `message` says what was wrong.

    Examples:

        try:
            client.predict("smem", {"question": [""], "image": [png]})
        except ServingError as error:
            print(error.code.name, error.message)   # INVALID_ARGUMENT … a question has no words
    """

    def __init__(self, code, message):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message

    @property
    def http_status(self):
        return HTTP_STATUS.get(self.code, 500)


def status_code(number):
    """The grpc.StatusCode with this number (TensorFlow's error codes use the same numbers)."""
    return _BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


def code_for_http_status(status):
    """The gRPC code a REST error status stands for (400 → INVALID_ARGUMENT, 404 → NOT_FOUND, …)."""
    return _BY_HTTP_STATUS.get(status, grpc.StatusCode.INTERNAL if status >= 500 else grpc.StatusCode.UNKNOWN)
