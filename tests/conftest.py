import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from vqa_tf import models

pytest_plugins = ["serving_servers"]  # the serving tests' servers and fixtures

GRID = dict(grid_height=3, grid_width=4, feature_dim=6)
VOCAB = 20


def small_model(name, **overrides):
    """Each model at a test size: 3×4 grid, 6 channels, 20 words, two hops or steps, no dropout."""
    kwargs = {
        "smem_vqa": dict(num_answers=5, embedding_dim=8, max_question_length=7, num_hops=2),
        "ibowimg": dict(num_answers=5, embedding_dim=8),
        "reasoning_dan": dict(num_answers=5, hidden_dim=8, num_steps=2),
        "matching_dan": dict(hidden_dim=8, num_steps=2),
    }[name]
    kwargs.update(GRID, vocab_size=VOCAB, **overrides)
    return models.build_model(name, **kwargs)


MODEL_NAMES = ["smem_vqa", "ibowimg", "reasoning_dan", "matching_dan"]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def ragged_batch(rng, batch=4, length=7):
    """Grid features and right-padded token ids whose real lengths are 1..length."""
    features = rng.normal(size=(batch, GRID["grid_height"], GRID["grid_width"], GRID["feature_dim"]))
    token_ids = np.zeros((batch, length), dtype="int32")
    for b in range(batch):
        n = length if b == 0 else 1 + (2 * b - 1) % length  # the first fills every position
        token_ids[b, :n] = rng.integers(1, VOCAB, size=n)
    return {"image_features": features.astype("float32"), "token_ids": token_ids}


@pytest.fixture(scope="session")
def smem_export(tmp_path_factory):
    """(model_dir, export path) of a tiny SMem two-hop run exported as version 1 (shared by the export
    and serving tests; copy the version before changing anything around it)."""
    from training_runs import TINY

    from vqa_tf.configs import apply_overrides, get_experiment
    from vqa_tf.export import export
    from vqa_tf.training import train

    model_dir = str(tmp_path_factory.mktemp("smem"))
    train(apply_overrides(get_experiment("smem_two_hop_synthetic"), f"{TINY},trainer.train_steps=4"), model_dir)
    return model_dir, export(model_dir, str(tmp_path_factory.mktemp("exports")))


# An m-DAN that has learned the synthetic captions well enough to find an image by its caption among a dozen.
MDAN_RUN = (
    "data.num_train=2000,data.num_eval=64,data.pretraining_scenes=2000,trainer.train_steps=600,"
    "trainer.eval_every=1000,trainer.checkpoint_every=1000"
)


@pytest.fixture(scope="session")
def mdan_export(tmp_path_factory):
    """(model_dir, export path, config) of an m-DAN run (`MDAN_RUN`) exported as version 1: the one m-DAN
    export of the export, serving, gallery-search and demo-page tests (copy it before changing anything)."""
    from vqa_tf.configs import apply_overrides, get_experiment
    from vqa_tf.export import export
    from vqa_tf.training import train

    model_dir = str(tmp_path_factory.mktemp("mdan"))
    config = apply_overrides(get_experiment("mdan_synthetic"), MDAN_RUN)
    train(config, model_dir)
    return model_dir, export(model_dir, str(tmp_path_factory.mktemp("mdan_exports"))), config
