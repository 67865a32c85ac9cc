"""Command-line and file overrides of experiment configs."""

import dataclasses
import json

import tensorflow as tf

from vqa_tf.configs.model_configs import FamilyConfig, model_config


def _split_top_level(text):
    """Splits "a=1,b=[2,3]" at the commas outside brackets."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "[{"
        depth -= char in "]}"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _coerce(value, current, key):
    """Turns the string `value` into the type of the field's current value."""
    if not isinstance(value, str):
        return value
    try:
        if isinstance(current, bool):
            if value.lower() not in ("true", "false"):
                raise ValueError
            return value.lower() == "true"
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, list):
            parsed = json.loads(value)
            if not isinstance(parsed, list):
                raise ValueError
            return parsed
    except (ValueError, json.JSONDecodeError):
        raise ValueError(f"override {key}={value!r}: expected a {type(current).__name__}") from None
    return value


def _set(config, path, value):
    node, owner = config, None
    *parents, leaf = path.split(".")
    for depth, name in enumerate(parents + [leaf]):
        fields = [f.name for f in dataclasses.fields(node)]
        if name not in fields:
            prefix = ".".join(parents[:depth])
            where = f"in {prefix!r}" if prefix else "at the top level"
            raise KeyError(f"unknown config key {path!r}: {name!r} is not a field {where}; valid: {', '.join(fields)}")
        if name != leaf or depth < len(parents):
            owner, node = (node, name), getattr(node, name)
    current = getattr(node, leaf)
    if dataclasses.is_dataclass(current):
        raise KeyError(f"config key {path!r} names a section; set one of its fields instead")
    if isinstance(node, FamilyConfig) and leaf == "name":
        if value != node.name:  # another model family: its config, with its defaults
            setattr(*owner, model_config(value))
        return
    setattr(node, leaf, _coerce(value, current, path))


def _flatten(tree, prefix=""):
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, f"{path}.")
        else:
            yield path, value


def apply_overrides(config, params_override):
    """Applies "a.b=c,d.e=f" or a JSON file path (nested sections) to `config`, in place.

    `model.name` is applied first: naming another model family replaces the
    model section by that family's config (its paper defaults), which the
    other `model.*` keys then change.

    Examples:
    >>> from vqa_tf.configs.experiment_config import ExperimentConfig
    >>> config = apply_overrides(ExperimentConfig(), "trainer.train_steps=100,model.num_hops=1")
    >>> config.trainer.train_steps, config.model.num_hops
    (100, 1)
    >>> apply_overrides(config, "model.hidden_dim=64,model.name=reasoning_dan").model.arguments()
    {'hidden_dim': 64, 'num_steps': 2, 'dropout': 0.5}
    """
    if not params_override:
        return config
    if params_override.endswith(".json"):
        with tf.io.gfile.GFile(params_override, "r") as f:
            pairs = list(_flatten(json.load(f)))
    else:
        pairs = []
        for item in _split_top_level(params_override):
            if "=" not in item:
                raise ValueError(f"override {item!r} is not of the form section.field=value")
            key, value = item.split("=", 1)
            pairs.append((key.strip(), value.strip()))
    for key, value in sorted(pairs, key=lambda pair: pair[0] != "model.name"):
        _set(config, key, value)
    return config
