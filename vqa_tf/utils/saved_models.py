"""The on-disk layout TF Serving reads: `<base>/<integer version>/saved_model.pb`, warm-up requests.

Shared by the exporter, which writes versions, and the local model server,
which polls for them, so both agree on what a version directory is.
"""

import posixpath

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

SAVED_MODEL_FILE = "saved_model.pb"
FINGERPRINT_FILE = "fingerprint.pb"
WARMUP_FILE = posixpath.join("assets.extra", "tf_serving_warmup_requests")


def versions(base_path):
    """The integer version numbers under `base_path` (a temporary `.tmp-*` directory is not one).

    Examples:
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


def fingerprint(export_dir):
    """Bytes that change when the SavedModel in `export_dir` is replaced by another; None if there is none yet.

    The bytes of its `fingerprint.pb` (TensorFlow writes one with every
    SavedModel: hashes of the graph, the signatures and the variables), else
    the size and modification time of its `saved_model.pb`.

    Examples:
    >>> import tempfile
    >>> export_dir = tempfile.mkdtemp()
    >>> fingerprint(export_dir) is None
    True
    >>> with tf.io.gfile.GFile(tf.io.gfile.join(export_dir, FINGERPRINT_FILE), "wb") as f:
    ...     _ = f.write(b"hashes")
    >>> fingerprint(export_dir)
    b'hashes'
    """
    path = posixpath.join(export_dir, FINGERPRINT_FILE)
    if tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path, "rb") as f:
            return f.read()
    path = posixpath.join(export_dir, SAVED_MODEL_FILE)
    if tf.io.gfile.exists(path):
        stat = tf.io.gfile.stat(path)
        return f"{stat.length} {stat.mtime_nsec}".encode()
    return None


def file_listing(directory):
    """(relative path, size, modification time) of every file under `directory`, sorted; () if there is none.

    It changes whenever a file is added, removed or rewritten.

    Examples:
    >>> import tempfile
    >>> directory = tempfile.mkdtemp()
    >>> with tf.io.gfile.GFile(tf.io.gfile.join(directory, SAVED_MODEL_FILE), "wb") as f:
    ...     _ = f.write(b"half of a saved model")
    >>> [(name, size) for name, size, _ in file_listing(directory)]
    [('saved_model.pb', 21)]
    """
    files = []
    for folder, _, names in tf.io.gfile.walk(directory):
        for name in names:
            path = posixpath.join(folder, name)
            stat = tf.io.gfile.stat(path)
            files.append((path[len(directory) + 1 :], stat.length, stat.mtime_nsec))
    return tuple(sorted(files))
