"""Bad inputs raise errors that name the problem."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import MODEL_NAMES, ragged_batch, small_model

from vqa_tf.models import get_model_class


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_wrong_feature_rank(rng, name):
    batch = ragged_batch(rng)
    batch["image_features"] = batch["image_features"].reshape(4, 12, 6)
    with pytest.raises(ValueError, match="image_features"):
        small_model(name)(batch)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_wrong_channel_count(rng, name):
    batch = ragged_batch(rng)
    batch["image_features"] = batch["image_features"][..., :5]
    with pytest.raises(ValueError, match="image_features"):
        small_model(name)(batch)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_mismatched_batch_sizes(rng, name):
    batch = ragged_batch(rng)
    batch["token_ids"] = batch["token_ids"][:3]
    with pytest.raises(ValueError, match="same batch size; got 4 and 3"):
        small_model(name)(batch)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_mismatched_batch_sizes_inside_a_graph(rng, name):
    model = small_model(name)
    batch = ragged_batch(rng)
    serve = tf.function(
        model,
        input_signature=[
            {
                "image_features": tf.TensorSpec([None, 3, 4, 6], tf.float32),
                "token_ids": tf.TensorSpec([None, None], tf.int32),
            }
        ],
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size"):
        serve({**batch, "token_ids": batch["token_ids"][:3]})


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("bad_id, message", [(20, "smaller than vocab_size=20"), (-1, "non-negative")])
def test_token_id_out_of_vocabulary(rng, name, bad_id, message):
    batch = ragged_batch(rng)
    batch["token_ids"][1, 0] = bad_id
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        small_model(name)(batch)


def test_smem_question_longer_than_its_position_weights(rng):
    batch = ragged_batch(rng, length=9)
    with pytest.raises(ValueError, match="max_length=7: got 9"):
        small_model("smem_vqa")(batch)


def test_unknown_model_name_lists_the_valid_ones():
    with pytest.raises(KeyError, match="valid names: ibowimg, matching_dan, reasoning_dan, smem_vqa"):
        get_model_class("smem")


def test_invalid_constructor_arguments():
    with pytest.raises(ValueError, match="num_hops"):
        small_model("smem_vqa", num_hops=0)
    with pytest.raises(ValueError, match="num_steps"):
        small_model("reasoning_dan", num_steps=0)
    with pytest.raises(ValueError, match="padding_id=20"):
        small_model("ibowimg", padding_id=20)


@pytest.mark.parametrize(
    "argument, value, message",
    [
        ("position_weights_init", "zeros", "position_weights_init must be one of ones, official; got 'zeros'"),
        ("hop1_word_pooling", "mean", "word_pooling must be one of max, logsumexp, sum; got 'mean'"),
    ],
)
def test_unknown_smem_options_are_refused_by_name(argument, value, message):
    with pytest.raises(ValueError, match=message):
        small_model("smem_vqa", **{argument: value})


def test_smem_position_weights_start_as_the_option_says():
    ones = small_model("smem_vqa").get_layer("question_vector").position_weights.numpy()
    official = small_model("smem_vqa", position_weights_init="official").get_layer("question_vector")
    official = official.position_weights.numpy()
    assert (ones == 1.0).all()
    assert np.abs(official).max() <= 0.08 and np.std(official) > 0.01  # uniform in ±0.08, as the released code
