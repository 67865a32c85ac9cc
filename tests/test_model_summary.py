"""The model-summary benchmark's two counts agree at a small size, so its table can be trusted."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).absolute().parents[1] / "benchmarks"))
import model_summary

from vqa_tf.models import build_model

SMALL = {
    "smem_vqa": dict(
        vocab_size=50,
        num_answers=7,
        grid_height=3,
        grid_width=5,
        feature_dim=16,
        embedding_dim=12,
        max_question_length=25,
        num_hops=3,
    ),
    "ibowimg": dict(vocab_size=50, num_answers=7, grid_height=3, grid_width=5, feature_dim=16, embedding_dim=12),
    "reasoning_dan": dict(
        vocab_size=50, num_answers=7, grid_height=3, grid_width=5, feature_dim=16, hidden_dim=12, num_steps=3
    ),
    "matching_dan": dict(vocab_size=50, grid_height=3, grid_width=5, feature_dim=16, hidden_dim=12, num_steps=1),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_hand_counts_match_the_model(name):
    settings = SMALL[name]
    model = build_model(name, **settings)
    params, flops = model_summary.hand_counts(name, settings)
    assert model.count_params() == params
    assert model_summary.measured_matmul_flops(model, settings) == flops
