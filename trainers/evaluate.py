"""Evaluates the latest checkpoint of a training model_dir on its evaluation data.

    vqa-evaluate --model_dir=/tmp/smem [--output=/tmp/smem/final.json]

VQA models: VQA accuracy overall and per answer type (per task on the
synthetic set) and attention pointing accuracy where evidence masks exist;
m-DAN: Recall@1/5/10 and median rank in both directions.
"""

import json

from absl import flags

from vqa_tf import cli
from vqa_tf.training import model_dir as files
from vqa_tf.training.evaluation import restore_for_evaluation
from vqa_tf.utils.files import write_json

flags.DEFINE_string("model_dir", None, "A training model_dir (holds config.json and checkpoints).")
flags.DEFINE_string("output", None, "JSON file for the metrics (default: <model_dir>/metrics/evaluate_<step>.json).")
flags.mark_flags_as_required(["model_dir"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    task, parts, checkpoint = restore_for_evaluation(FLAGS.model_dir)
    metrics = task.evaluate(parts)
    metrics["checkpoint"] = checkpoint
    step = files.checkpoint_step(checkpoint)
    write_json(FLAGS.output or files.path(FLAGS.model_dir, f"{files.METRICS_DIR}/evaluate_{step:08d}.json"), metrics)
    print(json.dumps(metrics, indent=2))


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
