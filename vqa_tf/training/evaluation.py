"""Evaluation during and after training: metrics files, summaries, the best model so far."""

import math

import tensorflow as tf

from vqa_tf.configs import load_config
from vqa_tf.training import model_dir as files
from vqa_tf.training.tasks import make_task
from vqa_tf.utils.files import atomic_path, read_json, write_json


def evaluate_and_record(task, parts, model_dir, step):
    """Evaluates; writes metrics/eval_<step>.json and summaries; keeps best.keras if the headline improved."""
    metrics = task.evaluate(parts)
    metrics["step"] = step
    write_json(files.path(model_dir, f"{files.METRICS_DIR}/eval_{step:08d}.json"), metrics)
    with tf.summary.create_file_writer(files.path(model_dir, "eval")).as_default(step=step):
        for name, value in _flat_scalars(metrics):
            tf.summary.scalar(name, value)
    headline = task.headline(metrics)
    best_path = files.path(model_dir, files.BEST_METRICS)
    best = read_json(best_path)["headline"] if tf.io.gfile.exists(best_path) else -math.inf
    if headline > best:
        with atomic_path(files.path(model_dir, files.BEST_MODEL)) as temporary:
            parts.model.save(temporary)
        write_json(best_path, {"headline": headline, "step": step})
    return metrics


def _flat_scalars(tree, prefix=""):
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flat_scalars(value, f"{name}/")
        elif isinstance(value, list):
            for i, item in enumerate(value, start=1):
                yield f"{name}/{i}", float(item)
        elif isinstance(value, (int, float)) and key != "step":
            yield name, float(value)


def restore_for_evaluation(model_dir):
    """(task, ModelParts with the latest checkpoint's weights, checkpoint path) of a training model_dir."""
    task = make_task(load_config(model_dir), model_dir)
    parts = task.build_model(pretrained=False)
    return task, parts, files.restore_weights(parts.model, model_dir)
