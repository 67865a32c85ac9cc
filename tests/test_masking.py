"""Appending padding to a question changes no output and no attention weight."""

import numpy as np
import pytest
from conftest import MODEL_NAMES, ragged_batch, small_model
from weights import randomize


def _padded(batch, extra):
    ids = batch["token_ids"]
    longer = np.concatenate([ids, np.zeros((len(ids), extra), ids.dtype)], axis=1)
    return {**batch, "token_ids": longer}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_appending_padding_changes_nothing(rng, name):
    # SMem's position weights cover 7 positions, so start shorter and pad up to 7.
    model = small_model(name)
    randomize(model, scale=0.2)
    batch = ragged_batch(rng, length=5)
    batch["token_ids"][0, :5] = rng.integers(1, 20, size=5)
    short = model(batch)
    long = model(_padded(batch, 2))
    for key, value in short.items():
        value, longer = np.asarray(value), np.asarray(long[key])
        if key == "text_attention":
            np.testing.assert_allclose(longer[..., :5], value, rtol=1e-6, atol=1e-6)
            np.testing.assert_array_equal(longer[..., 5:], 0.0)
        else:
            np.testing.assert_allclose(longer, value, rtol=1e-6, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("name", ["reasoning_dan", "matching_dan"])
def test_padded_words_get_zero_textual_attention(rng, name):
    model = small_model(name)
    randomize(model, scale=0.2)
    batch = ragged_batch(rng)
    text_attention = np.asarray(model(batch)["text_attention"])
    padding = batch["token_ids"] == 0
    assert np.all(text_attention[:, :, :][np.broadcast_to(padding[:, None, :], text_attention.shape)] == 0.0)
    np.testing.assert_allclose(text_attention.sum(axis=-1), 1.0, rtol=1e-5)


def _negative_scores_model():
    """One-hop SMem whose word 3 scores −(1 + 0.1 l) < 0 against every region l (T = 7)."""
    model = small_model("smem_vqa", num_hops=1)
    randomize(model, scale=0.2)
    attention_embedding = model.get_layer("attention_embedding")
    attention_embedding.kernel.assign(np.zeros(attention_embedding.kernel.shape, "float32"))
    bias = np.zeros(attention_embedding.region_bias.shape, "float32")
    bias[:, 0] = 1.0 + 0.1 * np.arange(len(bias))  # region l's embedding: (1 + 0.1 l) e_0
    attention_embedding.region_bias.assign(bias)
    embedding = model.get_layer("word_embedding").embeddings
    table = np.asarray(embedding).copy()
    table[3] = 0.0
    table[3, 0] = -1.0
    embedding.assign(table)
    return model


def test_smem_hop_1_lets_the_zero_rows_of_padding_take_part_in_the_max(rng):
    """The paper's C has a zero row per padded position, so with padding a region scores max(0, best word).

    A one-word question (six padded positions of T = 7) whose word scores below 0 everywhere attends
    uniformly; the same word filling all seven positions leaves no zero row, and the negative scores rank
    the regions.
    """
    model = _negative_scores_model()
    features = rng.normal(size=(2, 3, 4, 6)).astype("float32")
    token_ids = np.array([[3, 0, 0, 0, 0, 0, 0], [3, 3, 3, 3, 3, 3, 3]], "int32")
    attention = np.asarray(model({"image_features": features, "token_ids": token_ids})["attention"])[:, 0]
    np.testing.assert_allclose(attention[0].ravel(), np.full(12, 1 / 12), rtol=1e-5)
    expected = np.exp(-(1.0 + 0.1 * np.arange(12)))
    np.testing.assert_allclose(attention[1].ravel(), expected / expected.sum(), rtol=1e-5)
