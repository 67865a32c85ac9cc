"""Experiment configs, the registry of named experiments, and overrides."""

from vqa_tf.configs.experiment_config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    OptimizerConfig,
    RuntimeConfig,
    TrainerConfig,
)
from vqa_tf.configs.experiments import EXPERIMENTS, get_experiment
from vqa_tf.configs.overrides import apply_overrides
from vqa_tf.configs.serialization import load_config, save_or_check_config

__all__ = [
    "DataConfig",
    "EXPERIMENTS",
    "ExperimentConfig",
    "ModelConfig",
    "OptimizerConfig",
    "RuntimeConfig",
    "TrainerConfig",
    "apply_overrides",
    "get_experiment",
    "load_config",
    "save_or_check_config",
]
