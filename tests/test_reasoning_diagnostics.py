"""The reasoning benchmark's diagnostics (argmax place, presence case), on scenes laid out here."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).absolute().parents[1] / "benchmarks"))
from reasoning_experiments import argmax_place, presence_case

from vqa_tf.data.synthetic import SyntheticQuestion
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


def _presence(question, objects, present, form="affirmative"):
    labels = np.zeros((SIZE, SIZE), np.uint8)
    labels[10:14, 10:14] = present
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    return SyntheticQuestion(0, "presence", question, "yes", image, labels, tuple(objects), form)


@pytest.mark.parametrize(
    "objects, case",
    [
        ([SCENE[3]], "absent, no object of its colour or shape"),
        ([SCENE[2], SCENE[3]], "absent, an object of its colour"),
        ([SCENE[1]], "absent, an object of its shape"),
        (SCENE[1:], "absent, objects of its colour and of its shape"),
    ],
)
def test_an_absent_named_object_is_classed_by_the_objects_sharing_its_words(objects, case):
    assert presence_case(_presence("is there a red square?", objects, present=False)) == case


def test_a_present_named_object_is_classed_by_the_question_form():
    assert presence_case(_presence("is there no red square?", SCENE, True, "negated")) == "present, negated"
    assert presence_case(_presence("can you see a red square?", SCENE, True)) == "present, affirmative"
