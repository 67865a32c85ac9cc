"""vqa_tf.layers.Dropout: Keras' dropout semantics, with keep decisions drawn from 8 or 16 random bits each."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from vqa_tf.layers import Dropout
from vqa_tf.layers.dropout import mask_bits

UNITS = 1 << 20


def _kept(rate, shape=(UNITS,), seed=3, **kwargs):
    layer = Dropout(rate, seed=seed, **kwargs)
    return layer, layer(np.ones(shape, "float32"), training=True).numpy()


@pytest.mark.parametrize("rate, bits", [(0.5, 8), (0.25, 8), (0.1, 16), (0.3, 16), (0.9, 16)])
def test_each_unit_is_kept_with_probability_one_minus_rate(rate, bits):
    assert mask_bits(rate) == bits
    _, kept = _kept(rate)
    assert set(np.unique(kept)) <= {0.0, np.float32(1 / (1 - rate))}
    fraction = (kept > 0).mean()
    binomial_sd = np.sqrt(rate * (1 - rate) / UNITS)
    assert abs(fraction - (1 - rate)) < 5 * binomial_sd


@pytest.mark.parametrize("rate", [0.5, 0.3])
def test_neighbouring_units_are_decided_independently(rate):
    """Units packed into one random word (4 bytes or 2 halves) and units a word apart are uncorrelated."""
    _, kept = _kept(rate)
    mask = (kept > 0).astype("float64")
    for lag in (1, 2, 3, 4, 8):
        correlation = np.corrcoef(mask[:-lag], mask[lag:])[0, 1]
        assert abs(correlation) < 5 / np.sqrt(UNITS), lag


def test_kept_units_are_scaled_and_the_gradient_uses_the_same_mask():
    x = tf.constant(np.random.default_rng(0).normal(size=(8, 196, 64)).astype("float32"))
    layer = Dropout(0.5, seed=1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    gradient = tape.gradient(y, x).numpy()
    mask = y.numpy() != 0
    np.testing.assert_array_equal(y.numpy()[mask], 2 * x.numpy()[mask])
    np.testing.assert_array_equal(gradient, np.where(mask, 2.0, 0.0))


def test_the_seed_generator_decides_the_masks():
    """A seed gives the same masks in the same order; each call advances the state once, as in Keras'
    Dropout, so a checkpoint of the state resumes the sequence."""
    first, second = Dropout(0.5, seed=7), Dropout(0.5, seed=7)
    x = np.ones((4, 1000), "float32")
    a1, a2 = first(x, training=True).numpy(), first(x, training=True).numpy()
    np.testing.assert_array_equal(a1, second(x, training=True).numpy())
    np.testing.assert_array_equal(a2, second(x, training=True).numpy())
    assert (a1 != a2).mean() > 0.4
    state = first.seed_generator.state.numpy()
    np.testing.assert_array_equal(state, keras.random.SeedGenerator(7).state.numpy() + [0, 2])


def test_noise_shape_shares_a_decision_along_its_unit_axes():
    _, kept = _kept(0.5, shape=(4, 50, 32), noise_shape=(None, 1, 32))
    assert (kept == kept[:, :1, :]).all()
    assert 0.3 < (kept[:, 0, :] > 0).mean() < 0.7


def test_inference_rate_zero_and_rate_one():
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_array_equal(Dropout(0.5)(x).numpy(), x)
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True).numpy(), x)
    np.testing.assert_array_equal(Dropout(1.0)(x, training=True).numpy(), np.zeros_like(x))


def test_bfloat16_inputs_keep_their_type():
    layer = Dropout(0.5, seed=2, dtype="mixed_bfloat16")
    y = layer(np.ones((2, 1000), "float32"), training=True)
    assert y.dtype == tf.bfloat16
    assert set(np.unique(y.numpy().astype("float32"))) == {0.0, 2.0}


def test_a_traced_call_with_an_unknown_batch_size():
    layer = Dropout(0.25, seed=5)
    call = tf.function(lambda x: layer(x, training=True), input_signature=[tf.TensorSpec([None, 7], tf.float32)])
    kept = call(tf.ones([3, 7])).numpy()
    assert kept.shape == (3, 7) and set(np.unique(kept)) <= {0.0, np.float32(4 / 3)}


def test_the_config_round_trips():
    layer = Dropout(0.3, noise_shape=(None, 1), seed=4, name="feature_dropout")
    restored = Dropout.from_config(layer.get_config())
    assert (restored.rate, restored.noise_shape, restored.seed, restored.name) == (0.3, (None, 1), 4, "feature_dropout")
