"""Flags and setup shared by the training and evaluation binaries."""

import sys

from absl import app, flags

from trainers import train_lib
from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.data.errors import DataError

FLAGS = flags.FLAGS


def define_training_flags():
    flags.DEFINE_string("experiment", None, "A registered experiment name (vqa_tf.configs.EXPERIMENTS).")
    flags.DEFINE_string("model_dir", None, "Where checkpoints, summaries, metrics and the best model go.")
    flags.DEFINE_string("params_override", None, "section.field=value,… or a JSON file of nested sections.")
    flags.DEFINE_enum("strategy", None, ["one_device", "mirrored", "multi_worker", "tpu"], "tf.distribute strategy.")
    flags.DEFINE_bool("mixed_precision", None, "Train in mixed_bfloat16.")
    flags.DEFINE_bool("jit_compile", None, "XLA-compile the training step.")
    flags.DEFINE_string("tpu", None, "TPU name or address (strategy tpu).")
    flags.DEFINE_integer("num_cpu_devices", None, "Split the CPU into this many devices (mirrored without GPUs).")
    for name in ("train_data", "train_annotations", "train_images", "train_features",
                 "eval_data", "eval_annotations", "eval_images", "eval_features"):
        flags.DEFINE_string(name, None, f"Overrides data.{name}.")
    flags.mark_flags_as_required(["experiment", "model_dir"])


def config_from_flags():
    """The experiment config: registered defaults, then --params_override, then the explicit flags."""
    config = get_experiment(FLAGS.experiment)
    apply_overrides(config, FLAGS.params_override)
    for name in ("strategy", "mixed_precision", "jit_compile", "tpu", "num_cpu_devices"):
        if getattr(FLAGS, name) is not None:
            setattr(config.runtime, name, getattr(FLAGS, name))
    for name in ("train_data", "train_annotations", "train_images", "train_features",
                 "eval_data", "eval_annotations", "eval_images", "eval_features"):
        if getattr(FLAGS, name) is not None:
            setattr(config.data, name, getattr(FLAGS, name))
    return config


def run(main, errors=()):
    """absl's app.run, with bad configs and data (and `errors`) reported as one line instead of a traceback."""
    try:
        app.run(main)
    except (DataError, KeyError, ValueError, FileNotFoundError, FileExistsError, train_lib.NaNLossError, *errors) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        sys.exit(f"error: {message}")


def report_vqa(metrics):
    """Prints a VQA evaluation: overall accuracy and accuracy per answer type."""
    per_type = ", ".join(f"{k} {v:.4f}" for k, v in metrics["accuracy_per_answer_type"].items())
    print(f"final evaluation: accuracy {metrics['accuracy']:.4f}; per answer type {per_type}")


def training_main(task, other_binary, report):
    """The `main` of a training binary for `task` ("vqa" or "matching").

    `report(metrics)` prints the final evaluation; an experiment of the other
    task is refused with the name of `other_binary`.
    """

    def main(argv):
        del argv
        config = config_from_flags()
        if config.task != task:
            raise ValueError(f"experiment {FLAGS.experiment!r} is a {config.task} task; use {other_binary}")
        metrics = train_lib.train(config, FLAGS.model_dir)
        if metrics is not None:
            report(metrics)

    return main
