"""The on-disk layout TF Serving reads: `<base>/<integer version>/saved_model.pb`, warm-up requests.

Shared by the exporter, which writes versions, and the local model server,
which polls for them, so both agree on what a version directory is.
"""

import posixpath

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

SAVED_MODEL_FILE = "saved_model.pb"
WARMUP_FILE = posixpath.join("assets.extra", "tf_serving_warmup_requests")


def versions(base_path):
    """The integer version numbers under `base_path` (a temporary `.tmp-*` directory is not one).

    Example:
    >>> import tempfile
    >>> base = tempfile.mkdtemp()
    >>> for name in ("1", "3", ".tmp-0a1b-2", "notes"):
    ...     tf.io.gfile.makedirs(tf.io.gfile.join(base, name))
    >>> versions(base)
    [1, 3]
    """
    if not tf.io.gfile.isdir(base_path):
        return []
    names = [name.rstrip("/") for name in tf.io.gfile.listdir(base_path)]
    return sorted(int(name) for name in names if name.isdigit() and tf.io.gfile.isdir(posixpath.join(base_path, name)))


def read_saved_model(export_dir):
    """The `SavedModel` proto of `<export_dir>/saved_model.pb` (graphs, functions, signature defs)."""
    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(posixpath.join(export_dir, SAVED_MODEL_FILE), "rb") as f:
        proto.ParseFromString(f.read())
    return proto
