"""Experiment configs as JSON files in a model directory."""

import dataclasses
import json
import os

from vqa_tf.configs.experiment_config import ExperimentConfig

CONFIG_FILE = "config.json"
# Sections a rerun may change without it becoming a different run.
RESUMABLE_SECTIONS = ("trainer", "runtime")
# {section name: its dataclass}, read off ExperimentConfig so a new section needs no edit here.
_SECTIONS = {f.name: f.type for f in dataclasses.fields(ExperimentConfig) if dataclasses.is_dataclass(f.type)}


def save_or_check_config(config, model_dir):
    """Writes `<model_dir>/config.json`, or checks that a rerun trains the same model on the same data.

    Raises ValueError naming the fields that differ outside `RESUMABLE_SECTIONS`.
    """
    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, CONFIG_FILE)
    current = dataclasses.asdict(config)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        changed = ["task"] if saved.get("task") != current["task"] else []
        changed += [
            f"{section}.{key}"
            for section, values in current.items()
            if section in _SECTIONS and section not in RESUMABLE_SECTIONS
            for key in values
            if saved.get(section, {}).get(key) != values[key]
        ]
        if changed:
            raise ValueError(
                f"{model_dir} holds a run with other settings ({', '.join(changed)}); "
                "use a new --model_dir or the same settings to resume"
            )
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(current, f, indent=2)
    os.replace(temporary, path)


def load_config(model_dir):
    """The config a training run saved in `model_dir`."""
    path = os.path.join(model_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing: is {model_dir} a training model_dir?")
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    return ExperimentConfig(task=saved["task"], **{k: cls(**saved[k]) for k, cls in _SECTIONS.items()})
