"""Under `mixed_bfloat16` every model trains: float32 variables, bfloat16 layers, float32 attention, logits and loss."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import MODEL_NAMES, ragged_batch, small_model
from test_training_signal import _loss

# A layer of each model that does its main work, and which of its outputs is computed in bfloat16.
WORKING_LAYER = {
    "smem_vqa": ("attention_embedding", 0),
    "ibowimg": ("bag_of_words", 0),
    "reasoning_dan": ("visual_step_1", 0),  # the context v; its attention weights are float32
    "matching_dan": ("visual_step_1", 0),
}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_model_under_mixed_bfloat16_keeps_float32_weights_and_outputs_and_trains(rng, name):
    model = small_model(name, dtype="mixed_bfloat16")
    batch = ragged_batch(rng, batch=6)
    answers = rng.integers(0, 5, size=6)

    assert model.dtype_policy.name == "mixed_bfloat16"
    assert {v.dtype for v in model.weights} == {"float32"}
    outputs = model(batch)
    assert {t.dtype for t in outputs.values()} == {tf.float32}, {k: t.dtype for k, t in outputs.items()}

    layer_name, index = WORKING_LAYER[name]
    inner = model.image_encoder if name == "matching_dan" else model
    layer = inner.get_layer(layer_name)
    assert layer.compute_dtype == "bfloat16" and layer.variable_dtype == "float32"
    probe = keras.Model(inner.input, keras.tree.flatten(layer.output)[index])
    assert probe(batch["image_features"] if name == "matching_dan" else batch).dtype == tf.bfloat16

    before = [v.numpy() for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        loss = _loss(name, model, batch, answers, training=True)
    grads = tape.gradient(loss, model.trainable_variables)
    assert loss.dtype == tf.float32 and np.isfinite(float(loss))
    assert all(g is not None and g.dtype == tf.float32 for g in grads)
    assert all(np.all(np.isfinite(tf.convert_to_tensor(g).numpy())) for g in grads)
    keras.optimizers.SGD(0.1).apply_gradients(zip(grads, model.trainable_variables))
    assert any(not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_variables))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_the_dtype_policy_survives_a_config_round_trip(name):
    model = small_model(name, dtype="mixed_bfloat16")
    clone = type(model).from_config(model.get_config())
    assert clone.dtype_policy.name == "mixed_bfloat16"
    assert clone.get_config() == model.get_config()
