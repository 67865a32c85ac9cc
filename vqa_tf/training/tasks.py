"""The registry of tasks: `config.task` names the Task class that trains and evaluates it."""

from vqa_tf.training.matching_task import MatchingTask
from vqa_tf.training.vqa_task import VQATask

TASKS = {"vqa": VQATask, "matching": MatchingTask}


def make_task(config, model_dir):
    """The task of `config.task` ("vqa" or "matching") for a run in `model_dir`."""
    if config.task not in TASKS:
        raise ValueError(f"unknown task {config.task!r}; valid: {', '.join(TASKS)}")
    return TASKS[config.task](config, model_dir)
