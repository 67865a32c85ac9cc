"""Runs the training binaries in subprocesses, as a user would, for the training tests."""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

# A small run on the synthetic set: deterministic batches (no shuffle) so that
# runs under different strategies can be compared. Any experiment.
TINY_RUN = (
    "data.num_train=256,data.num_eval=64,data.pretraining_scenes=64,data.global_batch_size=32,data.eval_batch_size=64,"
    "data.shuffle=false,trainer.steps_per_loop=2,trainer.checkpoint_every=4,trainer.eval_every=1000"
)
# A small SMem-VQA without dropout, and a small DAN.
SMALL_SMEM = "model.dropout=0.0,model.embedding_dim=32"
SMALL_DAN = "model.dropout=0.0,model.hidden_dim=16"
TINY = f"{TINY_RUN},{SMALL_SMEM}"  # the small SMem two-hop run most tests train


def program(module):
    """The command that runs an installed program, as its console script does: `trainers.train_vqa` → vqa-train-vqa."""
    return [sys.executable, "-m", f"vqa_tf.programs.{module}"]


def command(
    model_dir,
    steps,
    *extra,
    binary="trainers.train_vqa",
    experiment="smem_two_hop_synthetic",
    model=SMALL_SMEM,
    override="",
):
    overrides = f"{TINY_RUN},{model},trainer.train_steps={steps}" + (f",{override}" if override else "")
    return [
        *program(binary),
        f"--experiment={experiment}",
        f"--model_dir={model_dir}",
        f"--params_override={overrides}",
        *extra,
    ]


def env(**extra):
    """The environment of a program run as a user runs it: no TF_CPP_MIN_LOG_LEVEL, no TF_CONFIG."""
    environment = dict(os.environ, PYTHONUNBUFFERED="1")
    for name in ("TF_CPP_MIN_LOG_LEVEL", "TF_CONFIG"):
        environment.pop(name, None)
    environment.update(extra)
    return environment


def run(args, timeout=600, **extra_env):
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env(**extra_env))
    return done


def model_weights(model_dir):
    """{key: value} of the trainable weights in the latest checkpoint.

    A checkpoint stores each variable once, under the first path that reaches
    it: the model's trainable weights sit under the optimizer's list of them.
    """
    reader = tf.train.load_checkpoint(os.path.join(model_dir, "checkpoints"))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if name.startswith("optimizer/_trainable_variables/")
    }


def checkpoint_steps(model_dir):
    state = tf.train.get_checkpoint_state(os.path.join(model_dir, "checkpoints"))
    if state is None:
        return []
    return [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths]


def max_difference(a, b):
    assert a.keys() == b.keys() and a
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)
