"""get_config → from_config, and `.keras` save → load in a fresh Python process."""

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import MODEL_NAMES, ragged_batch, small_model
from harness import assert_outputs_equal, flat_inputs, run_config_round_trip, wrap_layer
from weights import randomize

from vqa_tf import layers


def _layer_cases():
    rng = np.random.default_rng(7)
    ids = np.array([[3, 4, 5, 0], [6, 0, 0, 0]], "int32")
    mask = ids != 0
    words = rng.normal(size=(2, 4, 5)).astype("float32")
    regions = rng.normal(size=(2, 12, 6)).astype("float32")
    embedded = rng.normal(size=(2, 12, 5)).astype("float32")
    memory = rng.normal(size=(2, 5)).astype("float32")
    weights = [rng.random(size=(2, 12)).astype("float32") for _ in range(2)]
    return {
        "word_embedding": (lambda: layers.WordEmbedding(10, 5), [ids]),
        "word_filter": (lambda: layers.WordFilter([4, 6]), [ids, mask]),
        "region_embedding": (lambda: layers.RegionEmbedding(5), [regions]),
        "word_guided_hop": (lambda: layers.WordGuidedHop(question_length=6), [words, embedded, embedded * 2, mask]),
        "question_guided_hop": (layers.QuestionGuidedHop, [memory, embedded, embedded * 2]),
        "bag_of_words": (lambda: layers.BagOfWords(max_length=6, use_bias=True), [words, mask]),
        "dan_text_encoder": (lambda: layers.DanTextEncoder(10, 5, 4), [ids]),
        "visual_attention_start": (lambda: layers.VisualAttentionStart(5), [regions]),
        "textual_attention_start": (layers.TextualAttentionStart, [words, mask]),
        "visual_attention_step": (lambda: layers.VisualAttentionStep(5), [regions, memory]),
        "textual_attention_step": (lambda: layers.TextualAttentionStep(3), [words, memory, mask]),
        "attention_maps": (lambda: layers.AttentionMaps(3, 4), [weights]),
        "mean_region_pool": (layers.MeanRegionPool, [regions]),
    }


LAYER_CASES = _layer_cases()


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_layer_config_round_trip(name):
    factory, inputs = LAYER_CASES[name]
    run_config_round_trip(factory(), inputs)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_config_round_trip(rng, name):
    model = small_model(name)
    randomize(model)
    run_config_round_trip(model, ragged_batch(rng))


def test_smem_with_hop1_skip_words_config_round_trip(rng):
    model = small_model("smem_vqa", hop1_skip_token_ids=[3, 5])
    randomize(model)
    run_config_round_trip(model, ragged_batch(rng))


@pytest.fixture(scope="module")
def fresh_process_results(tmp_path_factory):
    """Saves every layer (wrapped) and model, then loads and runs them all in one fresh process."""
    directory = tmp_path_factory.mktemp("keras_files")
    expected = {}
    saved = {f"layer_{n}": (wrap_layer(f(), i), flat_inputs(i)) for n, (f, i) in LAYER_CASES.items()}
    rng = np.random.default_rng(3)
    for name in MODEL_NAMES:
        saved[f"model_{name}"] = (small_model(name), ragged_batch(rng))
    for name, (model, inputs) in saved.items():
        randomize(model)
        expected[name] = keras.tree.flatten(model(inputs))
        model.save(directory / f"{name}.keras")
        arrays = inputs if isinstance(inputs, dict) else {str(i): v for i, v in enumerate(inputs)}
        np.savez(directory / f"{name}.inputs.npz", **arrays)
    script = Path(__file__).with_name("fresh_process_load.py")
    done = subprocess.run([sys.executable, str(script), str(directory)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return directory, expected


@pytest.mark.slow
@pytest.mark.parametrize("name", [f"layer_{n}" for n in sorted(LAYER_CASES)] + [f"model_{n}" for n in MODEL_NAMES])
def test_keras_file_round_trip_in_fresh_process(fresh_process_results, name):
    directory, expected = fresh_process_results
    loaded = np.load(directory / f"{name}.outputs.npz")
    actual = [loaded[f"arr_{i}"] for i in range(len(loaded))]
    assert_outputs_equal(actual, expected[name])


def test_fresh_process_fails_without_registration(tmp_path):
    """The check has teeth: a class the fresh process cannot locate makes the load fail."""

    @keras.saving.register_keras_serializable(package="vqa_tf_test_only")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    inputs = keras.Input((3,))
    keras.Model(inputs, Doubler()(inputs)).save(tmp_path / "unregistered.keras")
    np.savez(tmp_path / "unregistered.inputs.npz", **{"0": np.ones((1, 3), "float32")})
    script = Path(__file__).with_name("fresh_process_load.py")
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode != 0
    assert "Doubler" in done.stderr
