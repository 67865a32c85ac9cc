"""What a training run leaves in its model_dir: the one place that names those files.

    config.json                  the experiment config
    vocab.txt, answers.txt       the question vocabulary and the answer classes (VQA)
    checkpoints/                 tf.train.CheckpointManager's checkpoints
    metrics/eval_<step>.json     every evaluation; best.keras / best.json: the best one
    train/, eval/                TensorBoard summaries
    data/                        the synthetic data set, when the experiment uses it
    backbone.weights.h5          the pretrained backbone (data.backbone_pretraining)
    features/train, features/eval  its grids of the data set's images (and data.input = "features")

Export reads config.json, the vocabularies, the latest checkpoint and a
pretrained backbone, and nothing else: `restore_model` rebuilds the model
from the first three alone.
"""

import posixpath

import tensorflow as tf

from vqa_tf.configs import load_config
from vqa_tf.text import AnswerVocabulary, Vocabulary
from vqa_tf.training.modeling import build_model_parts

VOCABULARY_FILE = "vocab.txt"
ANSWERS_FILE = "answers.txt"
CHECKPOINT_DIR = "checkpoints"
METRICS_DIR = "metrics"
BEST_MODEL = "best.keras"
BEST_METRICS = "best.json"
DATA_DIR = "data"
PRETRAINED_BACKBONE = "backbone.weights.h5"
FEATURES_DIR = "features"


def path(model_dir, name):
    return posixpath.join(model_dir, name)


def backbone_weights(config, model_dir):
    """The weights file the run's CNN starts from: data.backbone_weights, the backbone the run pretrains
    into the model_dir (data.backbone_pretraining), or "" for random weights."""
    if config.data.backbone_pretraining:
        return path(model_dir, PRETRAINED_BACKBONE)
    return config.data.backbone_weights


def latest_checkpoint(model_dir):
    """The newest checkpoint's path; FileNotFoundError if the run saved none yet."""
    directory = path(model_dir, CHECKPOINT_DIR)
    latest = tf.train.latest_checkpoint(directory)
    if latest is None:
        raise FileNotFoundError(f"no checkpoint in {directory}; train first")
    return latest


def restore_weights(model, model_dir):
    """Loads the latest checkpoint's model weights into `model`; returns the checkpoint's path.

    The checkpoint also holds the optimizer's state, which is left unread; every
    weight of `model` must be in it, or ValueError names the checkpoint.
    """
    latest = latest_checkpoint(model_dir)
    status = tf.train.Checkpoint(model=model).read(latest).expect_partial()
    try:
        status.assert_existing_objects_matched()
    except AssertionError as error:
        raise ValueError(
            f"{latest} does not hold every weight of the model that {model_dir}'s config builds: {error}"
        ) from None
    return latest


def checkpoint_step(checkpoint):
    """The training step of a checkpoint path (`…/ckpt-1200` → 1200)."""
    return int(checkpoint.rsplit("-", 1)[1])


def restore_model(model_dir):
    """(config, ModelParts with the latest weights, checkpoint path), from the model_dir's own files.

    Reads no training data, so a model_dir copied to another machine is enough.
    """
    config = load_config(model_dir)
    vocabulary_size = len(Vocabulary.load(path(model_dir, VOCABULARY_FILE)))
    num_answers = len(AnswerVocabulary.load(path(model_dir, ANSWERS_FILE))) if config.task == "vqa" else None
    parts = build_model_parts(config, vocabulary_size, num_answers)
    return config, parts, restore_weights(parts.model, model_dir)
