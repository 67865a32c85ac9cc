r"""Embeds an image gallery with an exported m-DAN and indexes it for search by sentence.

    vqa-index --export=runs/exports/mdan --images=/photos --output_dir=/gallery --num_shards=64 \
        --num_workers=8 --worker_index=3

Images (the JPEG and PNG files under --images, or a glob) are sorted and split
into --num_shards shards; worker i of --num_workers embeds the shards s with
s mod num_workers == i through the export's `embed_image` endpoint and writes
them to --output_dir. A rerun skips the shards that are done, so a killed job
resumes. An image that cannot be read or decoded is named and left out. Once
every shard is there, the worker that finds them all builds the index
(--index_type: `ivf_flat`, approximate, or `exact`) in <output_dir>/index;
`vqa-search` queries it.
"""

import posixpath

import tensorflow as tf
from absl import flags

from vqa_tf import cli
from vqa_tf.search import INDEX_TYPES, GalleryEmbedder, GalleryIndex, IncompleteGalleryError, embed_gallery, list_images

INDEX_DIR = "index"

flags.DEFINE_string("export", None, "An exported m-DAN: a version directory, or a base path (its newest version).")
flags.DEFINE_string("images", None, "Directory of JPEG/PNG images (searched recursively), or a glob pattern.")
flags.DEFINE_string("output_dir", None, "Where the embedding shards and the index go (local or a URL).")
flags.DEFINE_integer("num_shards", 16, "Shards of the whole gallery.")
flags.DEFINE_integer("num_workers", 1, "Machines sharing this job.")
flags.DEFINE_integer("worker_index", 0, "This machine's index in [0, num_workers).")
flags.DEFINE_integer("batch_size", 32, "Images per embed_image call.")
flags.DEFINE_enum("index_type", "ivf_flat", list(INDEX_TYPES), "Approximate (inverted file) or exact search.")
flags.DEFINE_integer("nlist", None, "ivf_flat: inverted lists (default: about 4·sqrt(gallery size)).")
flags.DEFINE_integer("nprobe", None, "ivf_flat: lists searched per query (default: an eighth of them).")
flags.mark_flags_as_required(["export", "images", "output_dir"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    embedder = GalleryEmbedder(FLAGS.export, FLAGS.batch_size)
    paths = list_images(FLAGS.images)
    written, done, left_out = embed_gallery(
        embedder, paths, FLAGS.output_dir, FLAGS.num_shards, FLAGS.worker_index, FLAGS.num_workers
    )
    print(
        f"embedded {written} shards with {embedder.export_path}, skipped {done} finished shards, "
        f"left out {len(left_out)} images, in {FLAGS.output_dir}"
    )
    for path, reason in left_out:
        print(f"left out {path}: {reason}")
    index_dir = posixpath.join(FLAGS.output_dir, INDEX_DIR)
    if tf.io.gfile.exists(index_dir):
        print(f"the index {index_dir} exists; delete it to rebuild it")
        return
    try:
        index = GalleryIndex.build_from(FLAGS.output_dir, FLAGS.index_type, FLAGS.nlist, FLAGS.nprobe)
    except IncompleteGalleryError as error:
        if FLAGS.num_workers == 1:
            raise
        print(f"index not built yet: {error}")
        return
    index.save(index_dir)
    print(f"indexed {len(index.paths)} images ({index.index_type}) in {index_dir}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
