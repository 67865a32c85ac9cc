"""Backbone pretraining on synthetic scenes: what it refuses, what it learns, and that a run keeps its file."""

import os

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
