r"""Extracts CNN grid features of a data set's images into a sharded TFRecord feature store.

    vqa-extract-features --format=vqa --data=v2_OpenEnded_mscoco_train2014_questions.json \
        --images='/data/coco/train2014/COCO_train2014_{image_id:012d}.jpg' \
        --backbone=resnet152 --backbone_weights=/models/resnet152_notop.h5 \
        --output_dir=/features/resnet152_448/train2014 --num_shards=256 --float16

Images are sorted by id and split into `--num_shards` contiguous shards.
`--num_workers`/`--worker_index` give worker i the shards s with
s mod num_workers == i, so one extraction spreads over many machines writing
to the same directory. A rerun skips the shards that exist; a shard appears
only when complete, so a crash leaves no truncated shard.
"""

from absl import flags

from vqa_tf import cli
from vqa_tf.data.feature_extraction import READERS, Extractor, extract, image_list
from vqa_tf.vision import BACKBONES, build_backbone

FLAGS = flags.FLAGS
flags.DEFINE_enum("format", "vqa", list(READERS), "Format of --data.")
flags.DEFINE_string("data", None, "VQA question JSON, DAQUAR QA text file, or Karpathy caption JSON.")
flags.DEFINE_string(
    "images", None, "VQA: image path pattern with {image_id}; DAQUAR: image directory; Karpathy: images root."
)
flags.DEFINE_enum("backbone", "resnet152", sorted(BACKBONES), "CNN that computes the grid.")
flags.DEFINE_string("backbone_weights", None, "Weights file for the backbone (None: random weights).")
flags.DEFINE_integer("image_size", None, "Input size; default: the backbone's (448 for ResNet/VGG).")
flags.DEFINE_string("output_dir", None, "Feature store directory.")
flags.DEFINE_integer("num_shards", 16, "Number of shards of the whole store.")
flags.DEFINE_integer("batch_size", 32, "Images per backbone call.")
flags.DEFINE_bool("float16", False, "Store features as float16 (half the disk).")
flags.DEFINE_integer("num_workers", 1, "Machines sharing this extraction.")
flags.DEFINE_integer("worker_index", 0, "This machine's index in [0, num_workers).")
flags.DEFINE_bool("check_images", False, "Decode every image once while reading the data set.")
flags.mark_flags_as_required(["data", "images", "output_dir"])


def main(argv):
    del argv
    images = image_list(FLAGS.format, FLAGS.data, FLAGS.images, FLAGS.check_images)
    image_size = FLAGS.image_size or BACKBONES[FLAGS.backbone].image_size
    extractor = Extractor(
        build_backbone(FLAGS.backbone, image_size, FLAGS.backbone_weights), image_size, FLAGS.batch_size
    )
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
    cli.run(main)


if __name__ == "__main__":
    run()
