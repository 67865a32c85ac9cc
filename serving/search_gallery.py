r"""Finds a gallery's best images for sentences, with the index `vqa-index` built.

    vqa-search --export=runs/exports/mdan --index=/gallery/index --k=5 \
        --query="a red square left of a blue circle"

Prints, for each --query, the k best images with their m-DAN scores.
"""

from absl import flags

from vqa_tf import cli
from vqa_tf.search import GallerySearch

flags.DEFINE_string("export", None, "The m-DAN export the gallery was indexed with (version or base path).")
flags.DEFINE_string("index", None, "The index directory vqa-index wrote (<output_dir>/index).")
flags.DEFINE_multi_string("query", None, "A sentence; repeat for several.")
flags.DEFINE_integer("k", 5, "Images per query.")
flags.mark_flags_as_required(["export", "index", "query"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    search = GallerySearch(FLAGS.export, FLAGS.index)
    for query, found in zip(FLAGS.query, search.search(FLAGS.query, FLAGS.k)):
        print(query)
        for rank, (path, score) in enumerate(found, 1):
            print(f"  {rank}. {score:9.3f}  {path}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
