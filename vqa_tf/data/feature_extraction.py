"""Extracts CNN grid features of a data set's images into a sharded TFRecord feature store.

Images are sorted by id and split into contiguous shards. Worker i of
`num_workers` writes the shards s with s mod num_workers == i, so one
extraction spreads over many machines writing to the same directory. A
rerun skips the shards that exist; a shard appears only when complete, so a
crash leaves no truncated shard. `vqa-extract-features` is the program.
"""

import posixpath

import numpy as np
import tensorflow as tf
from absl import logging

from vqa_tf.data import feature_store
from vqa_tf.data.caption_reader import read_karpathy_json
from vqa_tf.data.daquar_reader import read_daquar
from vqa_tf.data.errors import DataError
from vqa_tf.data.image_files import verify_image_file
from vqa_tf.data.vqa_reader import read_vqa
from vqa_tf.utils.progress import Progress
from vqa_tf.utils.sharding import worker_shards
from vqa_tf.vision.image_ops import load_image

READERS = {"vqa": read_vqa, "daquar": read_daquar, "karpathy": read_karpathy_json}


def image_list(data_format, data, images, check_images=False):
    """Sorted, de-duplicated (image_id, image_path) pairs of a data set in `data_format` (a key of READERS)."""
    if data_format not in READERS:
        raise ValueError(f"unknown data format {data_format!r}; valid: {', '.join(READERS)}")
    examples = READERS[data_format](data, images, check_images=check_images)
    return sorted({(e.image_id, e.image_path) for e in examples})


class Extractor:
    """Runs images through a backbone and writes feature-store shards.

    Examples:
    >>> from vqa_tf.vision import build_backbone
    >>> extractor = Extractor(build_backbone("small_cnn"), image_size=64)
    >>> extractor.metadata("small_cnn", num_shards=4, dtype="float16").grid_shape
    (8, 8, 66)
    """

    def __init__(self, backbone, image_size, batch_size=32):
        self.backbone = backbone
        self.image_size = image_size
        self.batch_size = batch_size
        self._forward = tf.function(lambda images: backbone(images, training=False), reduce_retracing=True)

    def metadata(self, backbone_name, num_shards, dtype):
        _, height, width, channels = self.backbone.output.shape
        return feature_store.StoreMetadata(height, width, channels, dtype, backbone_name, self.image_size, num_shards)

    def images(self, image_ids, paths):
        """A dataset of (image_id batch, decoded and resized image batch)."""
        dataset = tf.data.Dataset.from_tensor_slices((np.asarray(image_ids, np.int64), list(paths)))
        dataset = dataset.map(
            lambda i, p: (i, load_image(tf.io.read_file(p), self.image_size)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return dataset.batch(self.batch_size).prefetch(tf.data.AUTOTUNE)

    def write_shard(self, path, pairs, dtype, progress=None):
        """Extracts `pairs` [(image_id, path)] into the shard file `path`, or raises naming a bad image."""
        image_ids, paths = zip(*pairs) if pairs else ((), ())
        try:
            with feature_store.shard_writer(path) as writer:
                for ids, images in self.images(image_ids, paths):
                    features = self._forward(images).numpy()
                    for image_id, grid in zip(ids.numpy(), features):
                        writer.write(feature_store.serialize(image_id, grid, dtype))
                    if progress is not None:
                        progress.advance(len(features))
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
            for image_id, image_path in pairs:
                verify_image_file(image_path, f"image_id {image_id}")
            raise DataError(f"extracting {posixpath.basename(path)} failed: {error.message}") from error


class _ImageCount:
    """Counts extracted images for a `Progress` line every `every` images (and at the end)."""

    def __init__(self, total, every):
        self.progress = Progress(total, unit_name="image")
        self.total, self.every, self.done = total, every, 0

    def advance(self, count):
        before, self.done = self.done, self.done + count
        if self.done // self.every > before // self.every or self.done == self.total:
            self.progress.update(self.done)


def extract(images, extractor, backbone_name, output_dir, num_shards, dtype, worker_index=0, num_workers=1):
    """Writes this worker's shards of `images`; returns (shards written, shards skipped)."""
    feature_store.write_metadata(output_dir, extractor.metadata(backbone_name, num_shards, dtype))
    blocks = np.array_split(np.arange(len(images)), num_shards)
    todo, skipped = [], 0
    for shard in worker_shards(num_shards, num_workers, worker_index):
        path = feature_store.shard_path(output_dir, shard, num_shards)
        if tf.io.gfile.exists(path):
            skipped += 1
        else:
            todo.append((path, [images[i] for i in blocks[shard]]))
    total = sum(len(pairs) for _, pairs in todo)
    logging.info("%d shards to write (%d images), %d already done", len(todo), total, skipped)
    progress = _ImageCount(total, every=max(extractor.batch_size, total // 20)) if total else None
    for path, pairs in todo:
        extractor.write_shard(path, pairs, dtype, progress)
    return len(todo), skipped
