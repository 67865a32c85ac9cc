"""What a training run leaves in its model_dir: the one place that names those files.

    config.json                  the experiment config
    vocab.txt, answers.txt       the question vocabulary and the answer classes (VQA)
    checkpoints/                 tf.train.CheckpointManager's checkpoints (with the model format)
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
from vqa_tf.models.multimodal_model import MODEL_FORMAT, check_model_format
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


def training_checkpoint(model, optimizer):
    """The `tf.train.Checkpoint` a run saves: the model, its optimizer, the state of its dropout layers' random
    seeds (which a tf.train.Checkpoint of a Keras model leaves out; with it a resumed run draws the masks the
    run would have drawn), and the model format they are in."""
    model_format = tf.Variable(MODEL_FORMAT, dtype=tf.int64, trainable=False, name="model_format")
    seeds = [v for v in model.non_trainable_variables if v.path.endswith("seed_generator_state")]
    return tf.train.Checkpoint(model=model, optimizer=optimizer, model_format=model_format, random_seeds=seeds)


def check_checkpoint_format(checkpoint):
    """Raises `OlderFormatError` unless the checkpoint at `checkpoint` (a path prefix) holds MODEL_FORMAT."""
    reader = tf.compat.v1.train.NewCheckpointReader(checkpoint)  # load_checkpoint misreads ram:// prefixes
    key = "model_format/.ATTRIBUTES/VARIABLE_VALUE"
    check_model_format(int(reader.get_tensor(key)) if reader.has_tensor(key) else None, f"checkpoint {checkpoint}")


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
    weight of `model` must be in it, or ValueError names the checkpoint. A
    checkpoint of another model format raises `OlderFormatError`.
    """
    latest = latest_checkpoint(model_dir)
    check_checkpoint_format(latest)
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
    vocabulary = Vocabulary.load(path(model_dir, VOCABULARY_FILE))
    num_answers = len(AnswerVocabulary.load(path(model_dir, ANSWERS_FILE))) if config.task == "vqa" else None
    parts = build_model_parts(config, vocabulary, num_answers)
    return config, parts, restore_weights(parts.model, model_dir)


def initialize_from(model, vocabulary_file, source_dir):
    """Copies into `model` (a core model) the weights of each layer that `source_dir`'s latest model has by the
    same name.

    For warm starts, such as a two-hop SMem-VQA from a trained one-hop one:
    both runs must have the same question vocabulary (`vocabulary_file`, the
    run's own), and a shared layer name must hold weights of the same shapes.
    Returns the names of the layers copied; ValueError if there is none, the
    vocabularies differ or the shapes do not match.
    """
    source_vocabulary = path(source_dir, VOCABULARY_FILE)
    if Vocabulary.load(source_vocabulary).tokens != Vocabulary.load(vocabulary_file).tokens:
        raise ValueError(
            f"{source_dir} was trained with another question vocabulary than this run ({vocabulary_file}); "
            "a warm start needs the same one"
        )
    _, source, _ = restore_model(source_dir)
    sources = {layer.name: layer for layer in source.core.layers if layer.weights}
    copied = []
    for layer in model.layers:
        if layer.name not in sources or not layer.weights:
            continue
        weights = sources[layer.name].get_weights()
        shapes = [tuple(w.shape) for w in weights], [tuple(w.shape) for w in layer.get_weights()]
        if shapes[0] != shapes[1]:
            raise ValueError(
                f"layer {layer.name!r} holds weights of shapes {shapes[0]} in {source_dir} but {shapes[1]} here"
            )
        layer.set_weights(weights)
        copied.append(layer.name)
    if not copied:
        raise ValueError(f"the model of {source_dir} shares no layer name with this one")
    return copied
