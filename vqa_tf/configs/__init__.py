"""Experiment configs: one typed config per model family, the shared sections, the registry, overrides."""

from vqa_tf.configs.experiment_config import (
    DataConfig,
    ExperimentConfig,
    OptimizerConfig,
    RuntimeConfig,
    TrainerConfig,
)
from vqa_tf.configs.experiments import EXPERIMENTS, PAPER_EXPERIMENTS, get_experiment
from vqa_tf.configs.model_configs import (
    MODEL_CONFIGS,
    IBowImgConfig,
    MatchingDANConfig,
    ModelConfig,
    ReasoningDANConfig,
    SMemVQAConfig,
    model_config,
)
from vqa_tf.configs.overrides import apply_overrides
from vqa_tf.configs.serialization import load_config, save_or_check_config

__all__ = [
    "DataConfig",
    "EXPERIMENTS",
    "ExperimentConfig",
    "IBowImgConfig",
    "MODEL_CONFIGS",
    "MatchingDANConfig",
    "ModelConfig",
    "OptimizerConfig",
    "PAPER_EXPERIMENTS",
    "ReasoningDANConfig",
    "RuntimeConfig",
    "SMemVQAConfig",
    "TrainerConfig",
    "apply_overrides",
    "get_experiment",
    "load_config",
    "model_config",
    "save_or_check_config",
]
