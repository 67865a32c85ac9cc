"""Renders a trained VQA model's attention over evaluation images as PNG figures.

    vqa-attention-figures --model_dir=/tmp/smem --num_examples=12 --output_dir=/tmp/smem/figures

Each figure shows the question, the model's answer (and the expected one),
the image, and one panel per hop or step with its attention map.
"""

import posixpath

import numpy as np
import tensorflow as tf
from absl import flags

from vqa_tf import cli
from vqa_tf.training.evaluation import restore_for_evaluation
from vqa_tf.vision import decode_image
from vqa_tf.visualization import render_attention_figure

flags.DEFINE_string("model_dir", None, "A training model_dir (holds config.json and checkpoints).")
flags.DEFINE_integer("num_examples", 12, "How many evaluation questions to draw.")
flags.DEFINE_string("output_dir", None, "Where the PNG files go (default: <model_dir>/attention_figures).")
flags.mark_flags_as_required(["model_dir"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    task, parts, _ = restore_for_evaluation(FLAGS.model_dir)
    if task.config.task != "vqa":
        raise ValueError("attention figures are drawn for VQA models; this model_dir holds a matching model")
    examples = task.eval_examples[: FLAGS.num_examples]
    output_dir = FLAGS.output_dir or posixpath.join(FLAGS.model_dir, "attention_figures")
    predictions = task.predict(parts.model, "eval", examples)
    for example in examples:
        answer, maps = predictions[example.question_id]
        image = decode_image(tf.io.read_file(example.image_path)).numpy()
        path = posixpath.join(output_dir, f"question_{example.question_id}.png")
        render_attention_figure(image, example.question, answer, np.asarray(maps), path, example.majority_answer)
    print(f"wrote {len(examples)} figures to {output_dir}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
