"""Renders a trained VQA model's attention over evaluation images as PNG figures.

    vqa-attention-figures --model_dir=/tmp/smem --num_examples=12 --output_dir=/tmp/smem/figures

Each figure shows the question, the model's answer (and the expected one),
the image, and one panel per hop or step with its attention map.
"""

import os

import numpy as np
import tensorflow as tf
from absl import flags

from trainers import cli, train_lib
from vqa_tf.configs import load_config
from vqa_tf.vision.image_ops import decode_image
from vqa_tf.visualization import render_attention_figure

flags.DEFINE_string("model_dir", None, "A training model_dir (holds config.json and checkpoints).")
flags.DEFINE_integer("num_examples", 12, "How many evaluation questions to draw.")
flags.DEFINE_string("output_dir", None, "Where the PNG files go (default: <model_dir>/attention_figures).")
flags.mark_flags_as_required(["model_dir"])
FLAGS = flags.FLAGS


def write_figures(task, model, examples, output_dir):
    """One PNG per example; returns their paths."""
    os.makedirs(output_dir, exist_ok=True)
    predictions = task.predict(model, examples)
    paths = []
    for example in examples:
        answer, maps = predictions[example.question_id]
        image = decode_image(tf.io.read_file(example.image_path)).numpy()
        truth = max(set(example.answers), key=example.answers.count) if example.answers else None
        path = os.path.join(output_dir, f"question_{example.question_id}.png")
        render_attention_figure(image, example.question, answer, np.asarray(maps), path, truth)
        paths.append(path)
    return paths


def main(argv):
    del argv
    config = load_config(FLAGS.model_dir)
    if config.task != "vqa":
        raise ValueError("attention figures are drawn for VQA models; this model_dir holds a matching model")
    task, model, _ = train_lib.restore_latest(config, FLAGS.model_dir)
    output_dir = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "attention_figures")
    paths = write_figures(task, model, task.eval_examples[: FLAGS.num_examples], output_dir)
    print(f"wrote {len(paths)} figures to {output_dir}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
