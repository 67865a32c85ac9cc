"""Evaluates the latest checkpoint of a training model_dir on its evaluation data.

    vqa-evaluate --model_dir=/tmp/smem [--output=/tmp/smem/final.json]

VQA models: VQA accuracy overall and per answer type (per task on the
synthetic set) and attention pointing accuracy where evidence masks exist;
m-DAN: Recall@1/5/10 and median rank in both directions.
"""

import json
import os

from absl import flags

from trainers import cli, train_lib
from vqa_tf.configs import load_config

flags.DEFINE_string("model_dir", None, "A training model_dir (holds config.json and checkpoints).")
flags.DEFINE_string("output", None, "JSON file for the metrics (default: <model_dir>/metrics/evaluate_<step>.json).")
flags.mark_flags_as_required(["model_dir"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    config = load_config(FLAGS.model_dir)
    task, model, checkpoint = train_lib.restore_latest(config, FLAGS.model_dir)
    metrics = task.evaluate(model)
    metrics["checkpoint"] = checkpoint
    step = int(checkpoint.rsplit("-", 1)[1])
    output = FLAGS.output or os.path.join(FLAGS.model_dir, "metrics", f"evaluate_{step:08d}.json")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2)
    print(json.dumps(metrics, indent=2))


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
