"""Experiment configs as JSON files in a model directory (any path `tf.io.gfile` reaches)."""

import dataclasses
import json
import posixpath

import tensorflow as tf

from vqa_tf.configs.experiment_config import ExperimentConfig
from vqa_tf.configs.model_configs import model_config
from vqa_tf.utils.files import read_json, write_json

CONFIG_FILE = "config.json"
# Sections a rerun may change without it becoming a different run.
RESUMABLE_SECTIONS = ("trainer", "runtime")
# {section name: its dataclass}, read off ExperimentConfig so a new section needs no edit here.
_SECTIONS = {f.name: f.type for f in dataclasses.fields(ExperimentConfig) if dataclasses.is_dataclass(f.type)}


def save_or_check_config(config, model_dir):
    """Writes `<model_dir>/config.json`, or checks that a rerun trains the same model on the same data.

    Raises ValueError naming the fields that differ outside `RESUMABLE_SECTIONS`.
    """
    path = posixpath.join(model_dir, CONFIG_FILE)
    current = dataclasses.asdict(config)
    if tf.io.gfile.exists(path):
        saved = read_json(path)
        changed = ["task"] if saved.get("task") != current["task"] else []
        changed += [
            f"{section}.{key}"
            for section, values in current.items()
            if isinstance(values, dict) and section not in RESUMABLE_SECTIONS
            for key in {**saved.get(section, {}), **values}
            if saved.get(section, {}).get(key) != values.get(key)
        ]
        if changed:
            raise ValueError(
                f"{model_dir} holds a run with other settings ({', '.join(changed)}); "
                "use a new --model_dir or the same settings to resume"
            )
    write_json(path, current)


def load_config(model_dir):
    """The config a training run saved in `model_dir`."""
    path = posixpath.join(model_dir, CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path} is missing: is {model_dir} a training model_dir?")
    try:
        saved = read_json(path)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    try:
        return ExperimentConfig(
            task=saved["task"],
            model=model_config(**saved["model"]),
            **{name: section(**saved[name]) for name, section in _SECTIONS.items()},
        )
    except TypeError as error:  # a field this version does not have
        raise ValueError(
            f"{path} was written by another version of vqa_tf and cannot be read by this one "
            f"({error}); retrain, or use the version that wrote it"
        ) from None
