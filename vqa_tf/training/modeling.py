"""Builds the model an experiment config describes, sized by its vocabularies and grid, reading no data.

Training, evaluation and export all build through `build_model_parts`, so
the layers a checkpoint holds are the layers every reader rebuilds.
"""

import dataclasses

import keras

from vqa_tf.configs import PAPER_EXPERIMENTS, get_experiment
from vqa_tf.models import build_model, model_arguments, with_backbone
from vqa_tf.training.optimization import weight_decay_regularizer
from vqa_tf.vision import build_backbone, grid_shape

# The papers fix no question vocabulary; paper-size models use this many words.
PAPER_VOCABULARY_SIZE = 10_000


@dataclasses.dataclass
class ModelParts:
    """The pieces of a trainable model.

    Attributes:
        model: what training runs and checkpoints: `core`, or `backbone`
            feeding `core` when the run trains on images.
        core: the model on grid features ({"image_features", "token_ids"}).
        backbone: the CNN trained with `core` (data.input = "images"), or None.
    """

    model: keras.Model
    core: keras.Model
    backbone: keras.Model | None


def data_grid(config):
    """The grid the model reads: the backbone's at the configured image size (no CNN is built)."""
    return grid_shape(config.data.backbone, config.data.image_size)


def _model_arguments(config, vocabulary=None, **data_sizes):
    """The constructor arguments of `config`'s model: its family config's, sized by the data, with the L2
    regularizer of `optimizer.weight_decay`."""
    return {
        **model_arguments(config.model, vocabulary, **data_sizes),
        "kernel_regularizer": weight_decay_regularizer(config.optimizer),
    }


def build_model_parts(config, vocabulary, num_answers=None, backbone_weights=""):
    """The model of `config` for the question `vocabulary` (a `vqa_tf.text.Vocabulary`) and `num_answers`
    classes.

    With data.input = "images" the backbone is built and trained with the
    model, starting from the weights file `backbone_weights` if given (a
    model about to load a checkpoint needs none); with
    "features" the model reads grids of `data_grid(config)`, the shape the
    extraction backbone writes.

    Examples:
    >>> from vqa_tf.configs import apply_overrides, get_experiment
    >>> config = apply_overrides(get_experiment("rdan_synthetic"), "model.hidden_dim=8,data.input=images")
    >>> from vqa_tf.text import Vocabulary
    >>> vocabulary = Vocabulary.build([["is", "there", "a", "red", "square"]])
    >>> parts = build_model_parts(config, vocabulary, num_answers=2)
    >>> parts.backbone.name, parts.core.input["image_features"].shape
    ('small_cnn', (None, 8, 8, 66))
    """
    data = config.data
    backbone = None
    if data.input == "images":
        backbone = build_backbone(data.backbone, data.image_size, backbone_weights or None)
        backbone.trainable = data.train_backbone
    elif data.input != "features":
        raise ValueError(f"data.input must be 'images' or 'features'; got {data.input!r}")
    height, width, channels = data_grid(config)
    core = build_model(
        config.model.name,
        **_model_arguments(
            config,
            vocabulary,
            vocab_size=len(vocabulary),
            num_answers=num_answers,
            grid_height=height,
            grid_width=width,
            feature_dim=channels,
            max_question_length=data.max_question_length,
        ),
    )
    model = core if backbone is None else with_backbone(backbone, core)
    return ModelParts(model, core, backbone)


def paper_model_arguments(model_name, vocabulary_size=PAPER_VOCABULARY_SIZE):
    """Constructor arguments of a model family at its paper's sizes, read off its paper preset.

    Examples:
    >>> arguments = paper_model_arguments("reasoning_dan")
    >>> arguments["grid_height"], arguments["feature_dim"], arguments["num_answers"], arguments["hidden_dim"]
    (14, 2048, 2000, 512)
    """
    config = get_experiment(PAPER_EXPERIMENTS[model_name])
    height, width, channels = data_grid(config)
    return _model_arguments(
        config,
        vocab_size=vocabulary_size,
        num_answers=config.data.top_answers,
        grid_height=height,
        grid_width=width,
        feature_dim=channels,
        max_question_length=config.data.max_question_length,
    )
