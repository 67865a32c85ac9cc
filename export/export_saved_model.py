r"""Exports a training model_dir as a versioned SavedModel for TF Serving.

    vqa-export --model_dir=/tmp/smem --export_base=/models/smem [--version=3] [--top_k=5] \
        [--max_batch_rows=256] [--max_image_pixels=16777216] [--max_request_pixels=25165824] \
        [--max_request_image_bytes=16777216]
    vqa-export --model_dir=gs://bucket/runs/rdan --export_base=gs://bucket/serving/rdan \
        --backbone_weights=/models/resnet152_notop.h5      # a run trained on stored features

Writes `<export_base>/<version>/` (the next free integer by default) with the
signatures of `vqa_tf.export` (`serving_default`, `serve_features`, …), every preprocessing step in the graph, the
vocabularies under `assets/` and warm-up requests under `assets.extra/`.
It reads only the model_dir's config, vocabularies and latest checkpoint.
The op check refuses a model with ops TF Serving cannot run. The graph
itself refuses calls of more than --max_batch_rows rows, images whose
header declares more than --max_image_pixels pixels, and calls whose images
declare more than --max_request_pixels pixels or hold more than
--max_request_image_bytes bytes in all, before decoding anything (so the
limits hold under TF Serving too; with its batching, keep max_batch_size <=
max_batch_rows), and records them in `assets/serving_limits.json`.
"""

from absl import flags

from vqa_tf import cli
from vqa_tf.export import (
    MAX_BATCH_ROWS,
    MAX_IMAGE_PIXELS,
    MAX_REQUEST_IMAGE_BYTES,
    MAX_REQUEST_PIXELS,
    ServingLimits,
    export,
)

flags.DEFINE_string("model_dir", None, "A training model_dir (its latest checkpoint is exported).")
flags.DEFINE_string("export_base", None, "The base path TF Serving polls; versions go below it.")
flags.DEFINE_integer("version", None, "Version number (default: one more than the highest present).")
flags.DEFINE_integer("top_k", 5, "How many answers `top_answers` holds.")
flags.DEFINE_string(
    "backbone_weights",
    None,
    "For a run trained on stored features: the weights file of the CNN "
    "that extracted them (default: the run's data.backbone_weights).",
)
flags.DEFINE_integer("max_batch_rows", MAX_BATCH_ROWS, "Most rows one call of a signature accepts.", lower_bound=1)
flags.DEFINE_integer(
    "max_image_pixels",
    MAX_IMAGE_PIXELS,
    "Most pixels (height x width, read from the header before decoding) an image may have.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "max_request_pixels",
    MAX_REQUEST_PIXELS,
    "Most pixels the images of one call may declare in all (its decoding budget; at least --max_image_pixels).",
    lower_bound=1,
)
flags.DEFINE_integer(
    "max_request_image_bytes", MAX_REQUEST_IMAGE_BYTES, "Most bytes the images of one call may hold.", lower_bound=1
)
flags.mark_flags_as_required(["model_dir", "export_base"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    path = export(
        FLAGS.model_dir,
        FLAGS.export_base,
        FLAGS.version,
        FLAGS.top_k,
        FLAGS.backbone_weights,
        ServingLimits(
            FLAGS.max_batch_rows, FLAGS.max_image_pixels, FLAGS.max_request_pixels, FLAGS.max_request_image_bytes
        ),
    )
    print(f"exported {path}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
