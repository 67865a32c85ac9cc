"""Shared checks every layer and model goes through (after KerasHub's test harness)."""

import keras
import numpy as np


def assert_outputs_equal(actual, expected, atol=0.0):
    actual, expected = keras.tree.flatten(actual), keras.tree.flatten(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=0, atol=atol)


def run_config_round_trip(layer, inputs):
    """from_config(get_config()) rebuilds an equal config and, given the weights, equal outputs."""
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config
    call = (lambda obj: obj(inputs)) if isinstance(inputs, dict) else (lambda obj: obj(*inputs))
    expected = call(layer)
    call(clone)  # builds the clone
    clone.set_weights(layer.get_weights())
    assert_outputs_equal(call(clone), expected)


def wrap_layer(layer, inputs):
    """A functional model around `layer`, so it can go through a `.keras` file.

    `inputs` is the list of positional call arguments; an argument that is
    itself a list (AttentionMaps) becomes one model input per element.
    """
    symbolic, flat = [], []
    for value in inputs:
        if isinstance(value, list):
            group = [keras.Input(v.shape[1:], dtype=str(v.dtype)) for v in value]
            symbolic.append(group)
            flat.extend(group)
        else:
            tensor = keras.Input(value.shape[1:], dtype=str(value.dtype))
            symbolic.append(tensor)
            flat.append(tensor)
    return keras.Model(flat, layer(*symbolic))


def flat_inputs(inputs):
    if isinstance(inputs, dict):
        return inputs
    flat = []
    for value in inputs:
        flat.extend(value if isinstance(value, list) else [value])
    return flat
