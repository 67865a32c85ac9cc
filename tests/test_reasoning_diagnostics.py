"""The reasoning benchmark's argmax-place diagnostic, on a scene laid out here cell by cell."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).absolute().parents[1] / "benchmarks"))
from reasoning_experiments import argmax_place

from vqa_tf.data.synthetic_scenes import SceneObject

SIZE, GRID = 64, 8  # 8×8-pixel cells; small objects (half-extent 5) centred in a cell reach only its neighbours
TARGET = SceneObject("red", "square", "small", y=12, x=12)  # cell (1, 1)
SCENE = [
    TARGET,
    SceneObject("blue", "square", "small", y=12, x=52),  # cell (1, 6): the target's shape
    SceneObject("red", "circle", "small", y=52, x=12),  # cell (6, 1): the target's colour
    SceneObject("green", "triangle", "small", y=52, x=52),  # cell (6, 6): neither
]


def _peak(row, col):
    attention = np.full((GRID, GRID), 0.01)
    attention[row, col] = 0.5
    return attention


@pytest.mark.parametrize(
    "cell, place",
    [
        ((1, 1), "named object"),
        ((1, 6), "same shape"),
        ((6, 1), "same colour"),
        ((6, 6), "other object"),
        ((3, 4), "background"),
    ],
)
def test_the_argmax_cell_is_placed_by_what_it_touches(cell, place):
    assert argmax_place(_peak(*cell), SCENE, TARGET, SIZE) == place


def test_a_cell_on_the_named_object_counts_as_the_named_object_whatever_else_it_touches():
    beside = SceneObject("red", "circle", "small", y=12, x=20)  # shares cell (1, 2) with the target's right edge
    assert argmax_place(_peak(1, 2), [TARGET, beside], TARGET, SIZE) == "named object"
    assert argmax_place(_peak(1, 3), [TARGET, beside], TARGET, SIZE) == "same colour"
