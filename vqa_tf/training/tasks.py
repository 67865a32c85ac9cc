"""The registry of tasks: `config.task` names the Task class that trains and evaluates it."""

from vqa_tf.training.matching_task import MatchingTask
from vqa_tf.training.vqa_task import VQATask

TASKS = {"vqa": VQATask, "matching": MatchingTask}


def _task_class(config):
    if config.task not in TASKS:
        raise ValueError(f"unknown task {config.task!r}; valid: {', '.join(TASKS)}")
    return TASKS[config.task]


def make_task(config, model_dir):
    """The task of `config.task` ("vqa" or "matching") for a run in `model_dir`, prepared (`Task.prepare`)."""
    return _task_class(config)(config, model_dir).prepare()


def training_loss(config):
    """The per-example training loss `loss(outputs, targets)` of `config`'s task; needs no data.

    Examples:
    >>> from vqa_tf.configs import get_experiment
    >>> training_loss(get_experiment("rdan_resnet152_vqa")).__name__
    'answer_loss'
    """
    return _task_class(config).training_loss(config.model)
