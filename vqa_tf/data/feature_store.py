"""Sharded TFRecord files of CNN grid features, one record per image.

A store is a directory holding `metadata.json` (grid shape, dtype, backbone,
shard count) and shards named `features-SSSSS-of-NNNNN.tfrecord`. A shard is
written to a temporary name and renamed when complete, so a shard file that
exists is whole: a crashed writer leaves no truncated shard, and a rerun can
skip every shard that exists.
"""

import contextlib
import dataclasses
import json
import posixpath

import numpy as np
import tensorflow as tf

from vqa_tf.data.errors import DataError
from vqa_tf.utils.files import atomic_path, read_json, write_json

METADATA_FILE = "metadata.json"


@dataclasses.dataclass(frozen=True)
class StoreMetadata:
    grid_height: int
    grid_width: int
    feature_dim: int
    dtype: str  # "float16" or "float32"
    backbone: str
    image_size: int
    num_shards: int

    @property
    def grid_shape(self):
        return (self.grid_height, self.grid_width, self.feature_dim)


def shard_path(directory, shard, num_shards):
    return posixpath.join(directory, f"features-{shard:05d}-of-{num_shards:05d}.tfrecord")


def write_metadata(directory, metadata):
    """Writes `metadata.json`, or checks that an existing one agrees."""
    path = posixpath.join(directory, METADATA_FILE)
    if tf.io.gfile.exists(path):
        existing = read_metadata(directory)
        if existing != metadata:
            raise DataError(
                f"{path} describes a different feature store ({existing}); "
                f"refusing to mix it with {metadata}. Use another output directory."
            )
        return
    write_json(path, dataclasses.asdict(metadata))


def read_metadata(directory):
    path = posixpath.join(directory, METADATA_FILE)
    if not tf.io.gfile.exists(path):
        raise DataError(f"{directory} is not a feature store: {METADATA_FILE} is missing")
    try:
        return StoreMetadata(**read_json(path))
    except (json.JSONDecodeError, TypeError) as error:
        raise DataError(f"{path} is malformed: {error}") from None


def complete_shards(directory):
    """Paths of the shards present; raises if any shard is missing."""
    metadata = read_metadata(directory)
    paths = [shard_path(directory, s, metadata.num_shards) for s in range(metadata.num_shards)]
    missing = [p for p in paths if not tf.io.gfile.exists(p)]
    if missing:
        raise DataError(
            f"feature store {directory} is incomplete: {len(missing)} of {len(paths)} shards missing "
            f"(first: {posixpath.basename(missing[0])}); rerun the extraction to finish it"
        )
    return paths


def serialize(image_id, features, dtype):
    """One tf.train.Example: `image_id` int64 and the raw bytes of `features` in `dtype`."""
    raw = np.ascontiguousarray(features, dtype=dtype).tobytes()
    example = tf.train.Example(
        features=tf.train.Features(
            feature={
                "image_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(image_id)])),
                "features": tf.train.Feature(bytes_list=tf.train.BytesList(value=[raw])),
            }
        )
    )
    return example.SerializeToString()


def parser(metadata):
    """A graph function: serialized record → {"image_id": int64, "image_features": float32 [H, W, C]}."""
    spec = {
        "image_id": tf.io.FixedLenFeature([], tf.int64),
        "features": tf.io.FixedLenFeature([], tf.string),
    }

    def parse(serialized):
        record = tf.io.parse_single_example(serialized, spec)
        values = tf.io.decode_raw(record["features"], getattr(tf, metadata.dtype))
        features = tf.cast(tf.reshape(values, metadata.grid_shape), tf.float32)
        return {"image_id": record["image_id"], "image_features": features}

    return parse


@contextlib.contextmanager
def shard_writer(path):
    """A `tf.io.TFRecordWriter` for one shard, whose file appears at `path` only if the block succeeds.

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "features-00000-of-00001.tfrecord")
    >>> with shard_writer(path) as writer:
    ...     writer.write(serialize(7, np.zeros((2, 2, 3)), "float16"))
    >>> os.path.exists(path)
    True
    """
    with atomic_path(path) as temporary:
        with tf.io.TFRecordWriter(temporary) as writer:
            yield writer
