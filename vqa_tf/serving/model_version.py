"""One loaded SavedModel version: its signatures, checked and run on numpy inputs, and its warm-up."""

import posixpath

import grpc
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the TF Text ops the exported graphs use)
from tensorflow_serving.apis import prediction_log_pb2

from vqa_tf.serving.errors import ServingError, status_code
from vqa_tf.serving.tensors import from_proto
from vqa_tf.utils.saved_models import WARMUP_FILE, read_saved_model
from vqa_tf.utils.tf_errors import tensorflow_error_message

MAX_WARMUP_RECORDS = 1000  # TF Serving's limit
MAX_MESSAGE_CHARS = 4000  # error messages travel in gRPC trailers, which have a size limit


def short_message(message):
    """`message`, cut in the middle to at most about MAX_MESSAGE_CHARS characters."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[:1000] + " … " + message[-(MAX_MESSAGE_CHARS - 1000) :]


class ModelVersion:
    """One loaded SavedModel version: its signatures, run on numpy inputs.

    Examples:

        version = ModelVersion("/models/smem/1", 1)
        outputs = version.run("serving_default", {"question": np.array([b"is there a red square?"], object),
                                                  "image": np.array([png_bytes], object)})
    """

    def __init__(self, path, version):
        self.path = path
        self.version = version
        self.module = tf.saved_model.load(path)
        self.signature_defs = read_saved_model(path).meta_graphs[0].signature_def
        self.signatures = dict(self.module.signatures)

    def input_specs(self, signature_name):
        """{input name: tf.TensorSpec} of a signature; INVALID_ARGUMENT if there is no such signature."""
        if signature_name not in self.signatures:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'signature "{signature_name}" not found in version {self.version}; it has {sorted(self.signatures)}',
            )
        return self.signatures[signature_name].structured_input_signature[1]

    def check_inputs(self, signature_name, inputs):
        """Converts numpy inputs to the signature's dtypes, naming any missing, unknown or mis-shaped input, and
        refuses a request of no rows."""
        specs = self.input_specs(signature_name)
        unknown, missing = sorted(set(inputs) - set(specs)), sorted(set(specs) - set(inputs))
        if unknown or missing:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'signature "{signature_name}" takes inputs {sorted(specs)}; '
                + ", ".join(
                    filter(None, [f"unknown {unknown}" if unknown else "", f"missing {missing}" if missing else ""])
                ),
            )
        if any(np.ndim(value) and len(value) == 0 for value in inputs.values()):
            # Merged into a batch it would pass unnoticed; the exported graph refuses it in these words.
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "the request has no rows")
        converted = {}
        for name, spec in specs.items():
            value = np.asarray(inputs[name])
            if spec.dtype == tf.string:
                if value.dtype != object and value.dtype.kind not in "SU":
                    raise ServingError(
                        grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r} must be strings, got {value.dtype}"
                    )
            else:
                try:
                    value = value.astype(spec.dtype.as_numpy_dtype, casting="same_kind")
                except TypeError:
                    raise ServingError(
                        grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r} must be {spec.dtype.name}, got {value.dtype}"
                    ) from None
            if not spec.shape.is_compatible_with(value.shape):
                raise ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"input {name!r} has shape {list(value.shape)}; the signature takes {spec.shape.as_list()}",
                )
            converted[name] = value
        return converted

    def run(self, signature_name, inputs):
        """{output name: numpy array} for checked inputs; a graph error becomes a ServingError with its code."""
        function = self.signatures[signature_name]
        try:
            outputs = function(**{name: tf.constant(value) for name, value in inputs.items()})
        except tf.errors.OpError as error:
            raise ServingError(status_code(error.error_code), short_message(tensorflow_error_message(error))) from None
        return {name: value.numpy() for name, value in outputs.items()}

    def warm_up(self):
        """Replays `assets.extra/tf_serving_warmup_requests`; returns how many requests ran."""
        path = posixpath.join(self.path, WARMUP_FILE)
        if not tf.io.gfile.exists(path):
            return 0
        count = 0
        for record in tf.data.TFRecordDataset(path).take(MAX_WARMUP_RECORDS):
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            if log.WhichOneof("log_type") != "predict_log":
                raise ValueError(
                    f"{path}: record {count} is a {log.WhichOneof('log_type')}; only predict logs are replayed"
                )
            request = log.predict_log.request
            name = request.model_spec.signature_name or "serving_default"
            inputs = {key: from_proto(proto) for key, proto in request.inputs.items()}
            self.run(name, self.check_inputs(name, inputs))
            count += 1
        return count
