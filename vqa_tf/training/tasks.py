"""The registry of tasks: `config.task` names the Task class that trains and evaluates it."""

import functools

from vqa_tf.training.matching_task import MatchingTask, ranking_loss
from vqa_tf.training.vqa_task import VQATask, answer_loss

TASKS = {"vqa": VQATask, "matching": MatchingTask}


def make_task(config, model_dir):
    """The task of `config.task` ("vqa" or "matching") for a run in `model_dir`."""
    if config.task not in TASKS:
        raise ValueError(f"unknown task {config.task!r}; valid: {', '.join(TASKS)}")
    return TASKS[config.task](config, model_dir)


def training_loss(config):
    """The per-example training loss `loss(outputs, targets)` of `config`'s task; needs no data.

    Example:
    >>> from vqa_tf.configs import get_experiment
    >>> training_loss(get_experiment("rdan_resnet152_vqa")).__name__
    'answer_loss'
    """
    if config.task == "vqa":
        return answer_loss
    if config.task == "matching":
        return functools.partial(ranking_loss, config.model)
    raise ValueError(f"unknown task {config.task!r}; valid: {', '.join(TASKS)}")
