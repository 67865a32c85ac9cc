"""Files and directories through `tf.io.gfile`, so every path may be local or a URL (gs://, s3://, ram://).

`atomic_path` is the one way vqa_tf writes anything that a reader must
never see half-written: configs, vocabularies, metrics, feature shards, the
synthetic data set, checkpointed models and SavedModel versions.
"""

import contextlib
import json
import os
import posixpath
import uuid

import tensorflow as tf


def is_local(path):
    """Whether `path` (a string or an os.PathLike) is on a local disk (no `scheme://` prefix)."""
    return "://" not in os.fspath(path)


def absolute(path):
    """`path` made absolute if it is local (relative to the working directory); a URL as it is."""
    path = os.fspath(path)
    return os.path.abspath(path) if is_local(path) else path


def parent(path):
    """The directory holding `path` (works for URLs as well as local paths)."""
    return posixpath.dirname(os.fspath(path).rstrip("/"))


@contextlib.contextmanager
def atomic_path(path, overwrite=True):
    """Yields a temporary sibling of `path` to write a file or a directory to; moves it to `path` on success.

    If the block raises, the temporary file or directory is deleted and `path`
    is left as it was. On a local disk the temporary is fsynced and the move
    is one rename (fsynced too), so a reader sees either nothing or the whole
    thing, even after a crash. Object stores (gs://, ram://) have
    no atomic rename of a directory: there the files in subdirectories move
    first and the top-level files (such as `saved_model.pb`) last. A
    directory never replaces an existing one; a file does unless
    `overwrite=False`. Either refusal raises FileExistsError.

    Examples:
    >>> import tempfile
    >>> target = tf.io.gfile.join(tempfile.mkdtemp(), "config.json")
    >>> with atomic_path(target) as temporary:
    ...     with tf.io.gfile.GFile(temporary, "w") as f:
    ...         _ = f.write("{}")
    >>> tf.io.gfile.GFile(target).read()
    '{}'
    """
    path = os.fspath(path)
    folder = parent(path)
    if folder:
        tf.io.gfile.makedirs(folder)
    temporary = posixpath.join(folder, f".tmp-{uuid.uuid4().hex[:12]}-{posixpath.basename(path.rstrip('/'))}")
    try:
        yield temporary
        _move(temporary, path, overwrite)
    finally:
        remove_tree(temporary)


def _files_under(directory):
    """Paths of the files under `directory`, relative to it.

    Object stores list by name prefix; TensorFlow's ram:// even lists
    `assets.extra/x` as `assets/.extra`, a name that is no file: only names
    that exist as files are kept.
    """
    found = set()
    for folder, _, names in tf.io.gfile.walk(directory):
        for name in names:
            path = posixpath.join(folder, name)
            if tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path):
                found.add(path[len(directory) + 1 :])
    return found


def _move(source, target, overwrite):
    is_directory = tf.io.gfile.isdir(source)
    if tf.io.gfile.exists(target) and (is_directory or not overwrite):
        raise FileExistsError(f"{target} exists; it is not replaced")
    if is_local(target):
        _sync_tree(source)  # on disk before the rename makes it visible, so a crash cannot expose empty files
        try:
            tf.io.gfile.rename(source, target, overwrite=overwrite)
        except tf.errors.OpError:
            if tf.io.gfile.exists(target) and (is_directory or not overwrite):  # another writer was faster
                raise FileExistsError(f"{target} appeared while it was written; it is not replaced") from None
            raise
        _sync(parent(target) or ".")  # and the rename itself
        return
    if not is_directory:
        tf.io.gfile.rename(source, target, overwrite=overwrite)
        return
    for relative in sorted(_files_under(source), key=lambda name: ("/" not in name, name)):
        tf.io.gfile.makedirs(parent(posixpath.join(target, relative)))
        tf.io.gfile.rename(posixpath.join(source, relative), posixpath.join(target, relative))


def _sync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_tree(path):
    """fsyncs the local file or directory tree at `path`: files first, then their directories."""
    if not os.path.isdir(path):
        _sync(path)
        return
    for folder, _, names in os.walk(path, topdown=False):
        for name in names:
            _sync(os.path.join(folder, name))
        _sync(folder)


def remove_tree(path):
    """Deletes the file or directory tree at `path`, if there is one."""
    if not tf.io.gfile.exists(path):
        return
    if not tf.io.gfile.isdir(path):
        tf.io.gfile.remove(path)
        return
    try:
        tf.io.gfile.rmtree(path)
    except tf.errors.NotFoundError:  # ram:// lists names that are no files (see _files_under); its rmtree trips on them
        for relative in _files_under(path):
            tf.io.gfile.remove(posixpath.join(path, relative))
        for folder in sorted((folder for folder, _, _ in tf.io.gfile.walk(path)), key=len, reverse=True):
            tf.io.gfile.remove(folder)


def write_bytes(path, data):
    """Writes `data` to `path` atomically (creating its directory)."""
    with atomic_path(path) as temporary:
        with tf.io.gfile.GFile(temporary, "wb") as f:
            f.write(data)


def write_text(path, text):
    """Writes `text` to `path` as UTF-8, atomically (creating its directory)."""
    write_bytes(path, text.encode("utf-8"))


def read_text(path):
    with tf.io.gfile.GFile(path, "r") as f:
        return f.read()


def write_json(path, value):
    """Writes `value` as indented JSON to `path` atomically (numpy scalars as floats)."""
    write_text(path, json.dumps(value, indent=2, default=float))


def read_json(path):
    return json.loads(read_text(path))
