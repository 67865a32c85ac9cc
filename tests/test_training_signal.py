"""Gradients reach every weight, and each model can fit a tiny fixed batch."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import MODEL_NAMES, ragged_batch, small_model

from vqa_tf.losses import bidirectional_ranking_loss


def _loss(name, model, batch, answers, training):
    out = model(batch, training=training)
    if name == "matching_dan":
        similarity = tf.matmul(out["image_embedding"], out["text_embedding"], transpose_b=True)
        return tf.reduce_mean(bidirectional_ranking_loss(similarity, margin=1.0))
    return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(answers, out["logits"], from_logits=True))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_one_gradient_step_reaches_every_weight(rng, name):
    model = small_model(name, dropout=0.3) if name != "ibowimg" else small_model(name)
    batch = ragged_batch(rng, batch=6)
    answers = rng.integers(0, 5, size=6)
    with tf.GradientTape() as tape:
        loss = _loss(name, model, batch, answers, training=True)
    grads = tape.gradient(loss, model.trainable_variables)
    assert model.trainable_variables
    missing = [v.path for v, g in zip(model.trainable_variables, grads) if g is None]
    assert not missing, f"no gradient for {missing}"
    zero = [v.path for v, g in zip(model.trainable_variables, grads) if not np.any(tf.convert_to_tensor(g).numpy())]
    assert not zero, f"all-zero gradient for {zero}"


@pytest.mark.slow
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fits_a_tiny_fixed_batch(rng, name):
    model = small_model(name)
    batch = ragged_batch(rng, batch=8)
    batch["token_ids"][:, 0] = np.arange(1, 9)  # distinct questions
    answers = rng.integers(0, 5, size=8)
    optimizer = keras.optimizers.Adam(0.01)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = _loss(name, model, batch, answers, training=True)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    first = float(step())
    for _ in range(300):
        last = float(step())
    final = float(_loss(name, model, batch, answers, training=False))
    assert final < 0.05 and final < first / 20, (first, last, final)
