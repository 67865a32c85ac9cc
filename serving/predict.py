r"""Answers questions about image files with an exported VQA model, over gRPC, REST or in-process.

    vqa-predict --server=localhost:8500 --model_name=smem --image=street.jpg \
        --question="is there a red car?" --question="is the car on the left?" --attention_dir=/tmp/att
    vqa-predict --saved_model=runs/exports/smem/1 --image=a.png --image=b.png --question="is there a circle?"

Give as many questions as images, or one of either (it is paired with each of
the other). Prints one line per pair with the answer and the top answers'
scores; `--attention_dir` also writes one PNG per pair with the attention
map of every hop over the image.
"""

import posixpath

import numpy as np
import tensorflow as tf
from absl import flags

from vqa_tf import cli
from vqa_tf.serving import GrpcClient, RestClient, SavedModelClient
from vqa_tf.vision import decode_image
from vqa_tf.visualization import render_attention_figure

flags.DEFINE_multi_string("image", None, "Image file (JPEG or PNG); repeat for several.")
flags.DEFINE_multi_string("question", None, "Question; repeat for several.")
flags.DEFINE_string("server", None, "gRPC address of TF Serving or vqa-model-server, e.g. localhost:8500.")
flags.DEFINE_string("rest_server", None, "REST address, e.g. localhost:8501.")
flags.DEFINE_string("saved_model", None, "An exported version directory, run in this process (no server).")
flags.DEFINE_string("model_name", "default", "The served model's name (with --server / --rest_server).")
flags.DEFINE_integer("version", None, "A served version (default: the latest).")
flags.DEFINE_string("attention_dir", None, "Write one attention figure per question here.")
flags.mark_flags_as_required(["image", "question"])
flags.mark_flags_as_mutual_exclusive(["server", "rest_server", "saved_model"], required=True)
FLAGS = flags.FLAGS


def pairs(images, questions):
    """(image, question) pairs: equal counts pair up; a single image or question goes with each of the other."""
    if len(images) == len(questions):
        return list(zip(images, questions))
    if len(images) == 1:
        return [(images[0], q) for q in questions]
    if len(questions) == 1:
        return [(i, questions[0]) for i in images]
    raise ValueError(f"got {len(images)} images and {len(questions)} questions: give as many of each, or one of either")


def read_images(paths):
    contents = []
    for path in paths:
        if not tf.io.gfile.exists(path) or tf.io.gfile.isdir(path):
            raise FileNotFoundError(f"image file {path} not found")
        with tf.io.gfile.GFile(path, "rb") as f:
            contents.append(f.read())
    return contents


def make_client():
    if FLAGS.server:
        return GrpcClient(FLAGS.server)
    if FLAGS.rest_server:
        return RestClient(FLAGS.rest_server)
    return SavedModelClient(FLAGS.saved_model)


def main(argv):
    del argv
    asked = pairs(FLAGS.image, FLAGS.question)
    images = read_images([image for image, _ in asked])
    questions = [question for _, question in asked]
    out = make_client().predict(FLAGS.model_name, {"question": questions, "image": images}, version=FLAGS.version)
    for i, ((path, question), content) in enumerate(zip(asked, images)):
        answer = out["answer"][i].decode()
        scores = ", ".join(f"{a.decode()} {s:.3f}" for a, s in zip(out["top_answers"][i], out["top_scores"][i]))
        print(f"{path}\t{question}\t{answer}\t({scores})")
        if FLAGS.attention_dir:
            stem = posixpath.splitext(posixpath.basename(path))[0]
            figure = posixpath.join(FLAGS.attention_dir, f"{i:03d}_{stem}.png")
            render_attention_figure(
                decode_image(content).numpy(), question, answer, np.asarray(out["attention"][i]), figure
            )
    if FLAGS.attention_dir:
        print(f"wrote {len(asked)} attention figures to {FLAGS.attention_dir}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
