"""Extracts CNN grid features of a data set's images into a sharded TFRecord feature store.

    vqa-extract-features --format=vqa --data=v2_OpenEnded_mscoco_train2014_questions.json \
        --images='/data/coco/train2014/COCO_train2014_{image_id:012d}.jpg' \
        --backbone=resnet152 --backbone_weights=/models/resnet152_notop.h5 \
        --output_dir=/features/resnet152_448/train2014 --num_shards=256 --float16

Images are sorted by id and split into `--num_shards` contiguous shards.
`--num_workers`/`--worker_index` give worker i the shards s with
s mod num_workers == i, so one extraction spreads over many machines writing
to the same directory. A rerun skips the shards that exist; a shard is
renamed into place only when complete, so a crash leaves no truncated shard.
"""

import os
import sys

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags, logging

from vqa_tf.data import feature_store
from vqa_tf.data.caption_reader import read_karpathy_json
from vqa_tf.data.daquar_reader import read_daquar
from vqa_tf.data.errors import DataError
from vqa_tf.data.image_files import verify_image_file
from vqa_tf.data.vqa_reader import read_vqa
from vqa_tf.vision.backbones import BACKBONES, build_backbone
from vqa_tf.vision.image_ops import load_image

FLAGS = flags.FLAGS
flags.DEFINE_enum("format", "vqa", ["vqa", "daquar", "karpathy"], "Format of --data.")
flags.DEFINE_string("data", None, "VQA question JSON, DAQUAR QA text file, or Karpathy caption JSON.")
flags.DEFINE_string(
    "images", None, "VQA: image path pattern with {image_id}; DAQUAR: image directory; Karpathy: images root."
)
flags.DEFINE_enum("backbone", "resnet152", sorted(BACKBONES), "CNN that computes the grid.")
flags.DEFINE_string("backbone_weights", None, "Local weights file for the backbone (None: random weights).")
flags.DEFINE_integer("image_size", None, "Input size; default: the backbone's (448 for ResNet/VGG).")
flags.DEFINE_string("output_dir", None, "Feature store directory.")
flags.DEFINE_integer("num_shards", 16, "Number of shards of the whole store.")
flags.DEFINE_integer("batch_size", 32, "Images per backbone call.")
flags.DEFINE_bool("float16", False, "Store features as float16 (half the disk).")
flags.DEFINE_integer("num_workers", 1, "Machines sharing this extraction.")
flags.DEFINE_integer("worker_index", 0, "This machine's index in [0, num_workers).")
flags.DEFINE_bool("check_images", False, "Decode every image once while reading the data set.")
flags.mark_flags_as_required(["data", "images", "output_dir"])


def image_list(data_format, data, images, check_images=False):
    """Sorted, de-duplicated (image_id, image_path) pairs of a data set."""
    if data_format == "vqa":
        examples = read_vqa(data, images, check_images=check_images)
    elif data_format == "daquar":
        examples = read_daquar(data, images, check_images=check_images)
    else:
        examples = read_karpathy_json(data, images, check_images=check_images)
    return sorted({(e.image_id, e.image_path) for e in examples})


def my_shards(num_shards, num_workers, worker_index):
    if not 0 <= worker_index < num_workers:
        raise ValueError(f"worker_index={worker_index} must lie in [0, num_workers={num_workers})")
    return [s for s in range(num_shards) if s % num_workers == worker_index]


class Extractor:
    """Runs images through a backbone and writes feature-store shards.

    Example:
    >>> extractor = Extractor(build_backbone("small_cnn"), image_size=64)
    >>> extractor.metadata("small_cnn", num_shards=4, dtype="float16").grid_shape
    (8, 8, 64)
    """

    def __init__(self, backbone, image_size, batch_size=32):
        self.backbone = backbone
        self.image_size = image_size
        self.batch_size = batch_size
        self._forward = tf.function(lambda images: backbone(images, training=False), reduce_retracing=True)

    def metadata(self, backbone_name, num_shards, dtype):
        _, height, width, channels = self.backbone.output.shape
        return feature_store.StoreMetadata(
            height, width, channels, dtype, backbone_name, self.image_size, num_shards
        )

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
            with feature_store.ShardWriter(path) as writer:
                for ids, images in self.images(image_ids, paths):
                    features = self._forward(images).numpy()
                    for image_id, grid in zip(ids.numpy(), features):
                        writer.write(feature_store.serialize(image_id, grid, dtype))
                    if progress is not None:
                        progress.add(len(features))
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
            for image_id, image_path in pairs:
                verify_image_file(image_path, f"image_id {image_id}")
            raise DataError(f"extracting {os.path.basename(path)} failed: {error.message}") from error


def extract(images, extractor, backbone_name, output_dir, num_shards, dtype, worker_index=0, num_workers=1):
    """Writes this worker's shards of `images`; returns (shards written, shards skipped)."""
    feature_store.write_metadata(output_dir, extractor.metadata(backbone_name, num_shards, dtype))
    blocks = np.array_split(np.arange(len(images)), num_shards)
    todo, skipped = [], 0
    for shard in my_shards(num_shards, num_workers, worker_index):
        path = feature_store.shard_path(output_dir, shard, num_shards)
        if os.path.exists(path):
            skipped += 1
        else:
            todo.append((path, [images[i] for i in blocks[shard]]))
    total = sum(len(pairs) for _, pairs in todo)
    logging.info("%d shards to write (%d images), %d already done", len(todo), total, skipped)
    progress = keras.utils.Progbar(total, unit_name="image") if total else None
    for path, pairs in todo:
        extractor.write_shard(path, pairs, dtype, progress)
    return len(todo), skipped


def main(argv):
    del argv
    images = image_list(FLAGS.format, FLAGS.data, FLAGS.images, FLAGS.check_images)
    image_size = FLAGS.image_size or BACKBONES[FLAGS.backbone].image_size
    backbone = build_backbone(FLAGS.backbone, image_size, FLAGS.backbone_weights)
    extractor = Extractor(backbone, image_size, FLAGS.batch_size)
    written, skipped = extract(
        images,
        extractor,
        FLAGS.backbone,
        FLAGS.output_dir,
        FLAGS.num_shards,
        "float16" if FLAGS.float16 else "float32",
        FLAGS.worker_index,
        FLAGS.num_workers,
    )
    print(f"wrote {written} shards, skipped {skipped} finished shards, in {FLAGS.output_dir}")


def run():
    """Console-script entry point; bad input data exits with its message, not a traceback."""
    try:
        app.run(main)
    except DataError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    run()
