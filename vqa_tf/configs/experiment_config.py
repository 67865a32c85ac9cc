"""Typed experiment configs: model, data, optimizer and schedule, trainer, runtime.

The model section is one of the per-family configs of `model_configs`; the
other sections are shared by every experiment.
"""

import dataclasses

from vqa_tf.configs.model_configs import ModelConfig, SMemVQAConfig


@dataclasses.dataclass
class DataConfig:
    """Where examples come from and how they become batches.

    `source` is "synthetic" (the embedded shapes set, written under
    `<model_dir>/data` on first use), "vqa", "daquar" or "karpathy". With
    `input` = "images" the model trains its backbone on decoded images; with
    "features" it reads a feature store written by vqa-extract-features, or,
    with `backbone_pretraining`, the grids of its pretrained backbone, which
    the run extracts into its model_dir.
    """

    source: str = "synthetic"
    input: str = "images"  # "images" or "features"
    train_data: str = ""  # question JSON / DAQUAR QA file / Karpathy JSON
    train_annotations: str = ""  # VQA annotation JSON
    train_images: str = ""  # image path pattern (VQA) / image directory (DAQUAR) / images root (Karpathy)
    eval_data: str = ""
    eval_annotations: str = ""
    eval_images: str = ""
    train_split: str = "train"  # Karpathy splits
    eval_split: str = "test"
    train_features: str = ""  # feature store directories (input = "features")
    eval_features: str = ""
    backbone: str = "small_cnn"
    backbone_weights: str = ""  # local file; "" for random initialisation
    # "synthetic_cells": pretrain the backbone on synthetic scenes first (vqa_tf.training.backbone_pretraining)
    backbone_pretraining: str = ""
    pretraining_scenes: int = 12000  # scenes the backbone pretrains on
    image_size: int = 64
    train_backbone: bool = True  # only with input = "images"
    num_train: int = 6000  # synthetic set sizes
    num_eval: int = 600
    seed: int = 0
    synthetic_background: str = "mixed"  # or one of vqa_tf.data.synthetic_scenes.BACKGROUNDS
    synthetic_tasks: list = dataclasses.field(default_factory=list)  # question types asked; [] = all of them
    synthetic_yes_prior: float = 0.5  # share of each yes/no template's majority answer; 0.5 = balanced
    synthetic_negated_share: float = 0.3  # share of yes/no questions asked negated ("is there no …?")
    max_question_length: int = 25
    min_word_count: int = 1
    top_answers: int = 1000
    global_batch_size: int = 64
    eval_batch_size: int = 256
    shuffle: bool = True
    # A blind baseline, trained and evaluated like the model it is compared with: "question_only" (every
    # image blanked to zeros) or "image_only" (every question replaced by one constant token); "" for none.
    baseline: str = ""


@dataclasses.dataclass
class OptimizerConfig:
    """SGD with momentum or Adam, a step schedule, global-norm clipping and L2."""

    name: str = "sgd"  # "sgd" or "adam"
    learning_rate: float = 0.01
    momentum: float = 0.9
    decay_boundaries: list = dataclasses.field(default_factory=list)  # multiply lr by decay_factor at each
    decay_unit: str = "steps"  # "steps" or "epochs"
    decay_factor: float = 0.1
    clip_norm: float = 0.0  # global gradient-norm clip; 0 = none
    # the model's own layers learn at this multiple of the rate, a backbone trained with them at the rate itself
    model_lr_multiplier: float = 1.0
    weight_decay: float = 0.0  # L2: adds weight_decay / 2 · Σ‖W‖² over the model's kernels and word embeddings
    loss_weight: float = 1.0  # the task loss is multiplied by this (Caffe's loss_weight), the L2 term is not


@dataclasses.dataclass
class TrainerConfig:
    train_steps: int = 1000
    train_epochs: float = 0.0  # > 0 replaces train_steps by this many passes over the training set
    steps_per_loop: int = 50  # steps per graph loop; progress, summaries and the NaN check run this often
    checkpoint_every: int = 200
    eval_every: int = 500  # and at the end
    max_checkpoints: int = 3
    seed: int = 0
    # a trained model_dir whose layers of the same names start this run (a warm start; its vocabulary must be
    # this run's); a run that resumes from its own checkpoint ignores it
    init_model_dir: str = ""


@dataclasses.dataclass
class RuntimeConfig:
    strategy: str = "one_device"  # one_device | mirrored | multi_worker | tpu
    # auto | on | off: mixed_bfloat16 (no loss scaling needed); "auto" only where the device has native
    # bfloat16 and the model family was measured at float32's accuracy in it (precision_policy)
    mixed_precision: str = "auto"
    jit_compile: str = "auto"  # auto | on | off: "auto" uses XLA only where it was measured faster (jit_policy)
    tpu: str = ""  # TPU name or address for strategy = tpu
    num_cpu_devices: int = 1  # split the CPU into this many logical devices (mirrored runs without GPUs)
    # TensorFlow's op determinism for the whole process (tf.config.experimental.enable_op_determinism): with
    # the seeded initialisation, backbone pretraining and batch order, a seed reproduces its run exactly
    deterministic: bool = False


@dataclasses.dataclass
class ExperimentConfig:
    task: str = "vqa"  # "vqa" or "matching"
    model: ModelConfig = dataclasses.field(default_factory=SMemVQAConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)
    runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)
