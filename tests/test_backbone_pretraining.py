"""Backbone pretraining on synthetic scenes: what it refuses, what it learns, that a run keeps its file, and that
its weights do not depend on what the process ran before."""

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from vqa_tf.configs import DataConfig, ExperimentConfig, apply_overrides, get_experiment
from vqa_tf.data.synthetic_scenes import COLORS, SHAPES
from vqa_tf.training.backbone_pretraining import (
    check_pretraining,
    pretrained_backbone_weights,
    pretraining_scenes,
)


@pytest.mark.parametrize(
    "values, message",
    [
        (dict(backbone_pretraining="imagenet"), "must be '' or one of synthetic_cells"),
        (
            dict(backbone_pretraining="synthetic_cells", source="vqa", input="features"),
            "for data.source = 'vqa' train on images",
        ),
        (dict(backbone_pretraining="synthetic_cells", backbone_weights="/w.h5"), "not both"),
        (dict(backbone_pretraining="synthetic_cells", pretraining_scenes=0), "must be at least 1"),
    ],
)
def test_impossible_pretraining_settings_are_refused_by_name(values, message):
    with pytest.raises(ValueError, match=message):
        check_pretraining(DataConfig(**values))


def test_cell_labels_name_the_colour_and_shape_painted_in_each_cell():
    data = DataConfig(backbone_pretraining="synthetic_cells", pretraining_scenes=20)
    images, colours, shapes = pretraining_scenes(data)
    assert images.shape == (20, 64, 64, 3) and colours.shape == shapes.shape == (20, 8, 8)
    assert ((colours > 0) == (shapes > 0)).all() and (colours > 0).any()
    palette = np.array(list(COLORS.values()))
    for image, colour, shape in zip(images, colours, shapes):
        assert shape.max() <= len(SHAPES)
        for row, col in zip(*np.nonzero(colour)):
            cell = image[8 * row : 8 * row + 8, 8 * col : 8 * col + 8].reshape(-1, 3).astype(int)
            painted = np.abs(cell[:, None] - palette[None]).sum(-1) == 0  # pixels of exactly one object colour
            assert painted[:, colour[row, col] - 1].mean() >= 0.2  # the labelled colour covers ≥ a fifth


def test_a_run_pretrains_once_and_then_reads_its_file(tmp_path):
    config = apply_overrides(get_experiment("smem_two_hop_synthetic"), "data.pretraining_scenes=16")
    path = pretrained_backbone_weights(config, str(tmp_path))
    assert path == os.path.join(str(tmp_path), "backbone.weights.h5") and os.path.getsize(path) > 0
    written = os.path.getmtime(path)
    assert pretrained_backbone_weights(config, str(tmp_path)) == path and os.path.getmtime(path) == written
    assert pretrained_backbone_weights(ExperimentConfig(), str(tmp_path / "other")) == ""  # no pretraining


# Pretrains into A in a fresh process, then leaves the state a deterministic bfloat16 run leaves (op
# determinism on, the mixed_bfloat16 policy) and pretrains into B.
PRETRAIN_TWICE = """
import sys
import keras
import tensorflow as tf
from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.training.backbone_pretraining import pretrained_backbone_weights

config = apply_overrides(get_experiment("smem_two_hop_synthetic"), "data.pretraining_scenes=64")
pretrained_backbone_weights(config, sys.argv[1])
tf.config.experimental.enable_op_determinism()
keras.mixed_precision.set_global_policy("mixed_bfloat16")
pretrained_backbone_weights(config, sys.argv[2])
assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"  # the caller's policy is left as it was
"""


def test_pretraining_ends_with_the_same_weights_whatever_the_process_ran_before(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    subprocess.run([sys.executable, "-c", PRETRAIN_TWICE, str(first), str(second)], check=True, timeout=600)
    weights = [_arrays(model_dir / "backbone.weights.h5") for model_dir in (first, second)]
    assert len(weights[0]) == len(weights[1]) > 0
    assert all(np.array_equal(a, b) for a, b in zip(*weights))


def _arrays(path):
    """Every array of an HDF5 file, in the file's order."""
    found = []
    with h5py.File(path) as f:
        f.visititems(lambda name, item: found.append(item[()]) if isinstance(item, h5py.Dataset) else None)
    return found
