"""Each model builds and runs a forward pass on CPU at its paper's sizes (read off its paper preset)."""

import numpy as np
import pytest

from vqa_tf.configs import PAPER_EXPERIMENTS
from vqa_tf.models import build_model
from vqa_tf.training import paper_model_arguments


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PAPER_EXPERIMENTS))
def test_paper_size_forward_pass(name):
    settings = paper_model_arguments(name)
    model = build_model(name, **settings)
    rng = np.random.default_rng(0)
    grid = (settings["grid_height"], settings["grid_width"], settings["feature_dim"])
    token_ids = np.zeros((2, 25), "int32")
    token_ids[0, :25] = rng.integers(1, settings["vocab_size"], size=25)
    token_ids[1, :6] = rng.integers(1, settings["vocab_size"], size=6)
    batch = {"image_features": rng.random((2,) + grid, dtype=np.float32), "token_ids": token_ids}
    out = model(batch)
    steps = settings.get("num_hops", settings.get("num_steps", 1))
    assert out["attention"].shape == (2, steps) + grid[:2]
    np.testing.assert_allclose(np.asarray(out["attention"]).sum(axis=(2, 3)), 1.0, rtol=1e-5)
    if "num_answers" in settings:
        assert out["logits"].shape == (2, settings["num_answers"])
        assert np.all(np.isfinite(out["logits"]))
    else:
        width = (settings["num_steps"] + 1) * settings["hidden_dim"]
        assert out["image_embedding"].shape == out["text_embedding"].shape == (2, width)
        assert np.all(np.isfinite(out["score"]))
