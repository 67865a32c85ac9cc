"""Pretrains the synthetic runs' CNN on scenes of its own, as ImageNet pretrains the papers' CNNs.

With `data.backbone_pretraining = "synthetic_cells"`, a run first trains its
backbone alone to name the colour and the shape of the object covering each
cell of its grid (labels from the scenes' exact masks), on scenes drawn for
this only, never the training questions' images, and stores the weights in
the model_dir. The run then starts from them: frozen, when it trains on
the grids they extract (`data.input = "features"`, the synthetic presets), or
fine-tuned with `data.input = "images"`. Trained with the questions from random
CNN weights, SMem two-hop was still near chance (47%) after 2,000 steps;
the papers' models also start from a pretrained CNN.
"""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from vqa_tf.data.errors import DataError
from vqa_tf.data.synthetic import SpatialShapesVQA
from vqa_tf.data.synthetic_scenes import COLORS, SHAPES, cell_labels
from vqa_tf.training import model_dir as files
from vqa_tf.training.determinism import apply_op_determinism
from vqa_tf.utils.files import atomic_path
from vqa_tf.vision import build_backbone, grid_shape

PRETRAINING_TASKS = ("synthetic_cells",)
EPOCHS = 6  # ours: on data.pretraining_scenes = 12000, cell accuracy 1.0 on colour and 0.999 on shape (measured)
BATCH_SIZE = 64
LEARNING_RATE = 3e-3
# The pretraining scenes' seed is data.seed + SEED_OFFSET; the data splits use data.seed + 0, 1, 2.
SEED_OFFSET = 1000


def check_pretraining(data):
    """Raises ValueError unless `data.backbone_pretraining` is "" or a pretraining this run can do."""
    if not data.backbone_pretraining:
        return
    if data.backbone_pretraining not in PRETRAINING_TASKS:
        raise ValueError(
            f"data.backbone_pretraining must be '' or one of {', '.join(PRETRAINING_TASKS)}; "
            f"got {data.backbone_pretraining!r}"
        )
    if data.input == "features" and data.source != "synthetic":
        raise ValueError(
            f"data.backbone_pretraining={data.backbone_pretraining} with data.input = 'features' "
            f"extracts the synthetic set's grids; for data.source = {data.source!r} train on images "
            "(data.input = 'images') or give feature stores"
        )
    if data.backbone_weights:
        raise ValueError("set data.backbone_weights or data.backbone_pretraining, not both")
    if data.pretraining_scenes < 1:
        raise ValueError(f"data.pretraining_scenes must be at least 1; got {data.pretraining_scenes}")


def pretraining_scenes(data):
    """(images [n, S, S, 3] uint8, colour labels, shape labels [n, h, w]) of the n = data.pretraining_scenes."""
    cells = grid_shape(data.backbone, data.image_size)[0]
    if data.image_size % cells:
        raise DataError(f"a {data.image_size}-pixel image does not split into {cells}×{cells} equal grid cells")
    scenes = SpatialShapesVQA(data.seed + SEED_OFFSET, data.image_size, background=data.synthetic_background)
    images, colours, shapes = [], [], []
    for scene in scenes.samples(data.pretraining_scenes):
        images.append(scene.image)
        colour, shape = cell_labels(scene.objects, data.image_size, cells)
        colours.append(colour)
        shapes.append(shape)
    return np.stack(images), np.stack(colours), np.stack(shapes)


def pretrain_backbone(data, epochs=EPOCHS):
    """(data.backbone trained on the cells of data.pretraining_scenes scenes, its final cell accuracy per head).

    Examples:
    >>> from vqa_tf.configs import DataConfig
    >>> data = DataConfig(backbone_pretraining="synthetic_cells", pretraining_scenes=64)
    >>> backbone, accuracy = pretrain_backbone(data, epochs=1)
    >>> backbone.name, sorted(accuracy)
    ('small_cnn', ['colour', 'shape'])
    """
    images, colours, shapes = pretraining_scenes(data)
    keras.utils.set_random_seed(data.seed + SEED_OFFSET)  # the weights depend on the data settings alone
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")  # whatever precision the run that asks for it trains in
    try:
        return _fit_cell_heads(data, images, colours, shapes, epochs)
    finally:
        keras.mixed_precision.set_global_policy(policy)


def _fit_cell_heads(data, images, colours, shapes, epochs):
    backbone = build_backbone(data.backbone, data.image_size)
    heads = {
        "colour": keras.layers.Conv2D(len(COLORS) + 1, 1, name="colour")(backbone.output),
        "shape": keras.layers.Conv2D(len(SHAPES) + 1, 1, name="shape")(backbone.output),
    }
    model = keras.Model(backbone.input, heads)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(
        keras.optimizers.Adam(LEARNING_RATE),
        loss={"colour": loss, "shape": loss},
        metrics={"colour": ["accuracy"], "shape": ["accuracy"]},
    )
    history = model.fit(
        images.astype("float32"), {"colour": colours, "shape": shapes}, batch_size=BATCH_SIZE, epochs=epochs, verbose=0
    )
    accuracy = {head: float(history.history[f"{head}_accuracy"][-1]) for head in heads}
    return backbone, accuracy


def pretrained_backbone_weights(config, model_dir):
    """`model_dir.backbone_weights(config, model_dir)`, pretraining the backbone into it first if it is missing.

    The pretrained file is written atomically: several workers may race, and
    every one then reads the first file written.
    """
    data = config.data
    path = files.backbone_weights(config, model_dir)
    if not data.backbone_pretraining or tf.io.gfile.exists(path):
        return path
    # As `train` does before it pretrains: called on its own, in a fresh process, pretraining would otherwise
    # run other kernels than after a deterministic run, and end with other weights.
    apply_op_determinism(config.runtime)
    backbone, accuracy = pretrain_backbone(data)
    print(
        f"pretrained {data.backbone} on the cells of {data.pretraining_scenes} synthetic scenes (cell accuracy: colour "
        f"{accuracy['colour']:.3f}, shape {accuracy['shape']:.3f}) → {path}",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory() as folder, atomic_path(path, overwrite=False) as temporary:
            local = os.path.join(folder, files.PRETRAINED_BACKBONE)  # h5py writes local files only
            backbone.save_weights(local)
            tf.io.gfile.copy(local, temporary)
    except FileExistsError:
        pass
    return path
