"""Every layer and model against the independent NumPy reference, float32 to 1e-5."""

import numpy as np
import numpy_reference as ref
import pytest
from conftest import ragged_batch, small_model
from weights import randomize, reference_weights

from vqa_tf import layers

TOL = dict(rtol=1e-5, atol=1e-5)


def _mask(batch_lengths, length):
    return np.arange(length)[None, :] < np.array(batch_lengths)[:, None]


def _randomized(layer, *inputs, seed=0):
    layer(*inputs)  # builds
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        variable.assign(rng.normal(0, 0.3, size=variable.shape).astype("float32"))
    return layer


def _np(x):
    return np.asarray(x, dtype=np.float64)


def test_word_embedding_zeroes_padding(rng):
    ids = np.array([[3, 4, 0, 0], [0, 7, 7, 1]])
    layer = _randomized(layers.WordEmbedding(10, 5), ids)
    vectors, mask = layer(ids)
    table = _np(layer.embeddings)
    expected = np.stack([[table[t] if t != 0 else np.zeros(5) for t in row] for row in ids])
    np.testing.assert_allclose(_np(vectors), expected, **TOL)
    np.testing.assert_array_equal(np.asarray(mask), ids != 0)


def test_region_embedding(rng):
    regions = rng.normal(size=(3, 12, 6)).astype("float32")
    layer = _randomized(layers.RegionEmbedding(5), regions)
    expected = [ref.region_embedding(_np(r), _np(layer.kernel), _np(layer.region_bias)) for r in regions]
    np.testing.assert_allclose(_np(layer(regions)), np.stack(expected), **TOL)


@pytest.mark.parametrize("question_length", [4, 6])
def test_word_guided_hop_ragged(rng, question_length):
    """The layer ignores what padded positions hold; the reference sees the paper's zero rows up to T."""
    lengths = [4, 1, 2, 0]
    words = rng.normal(size=(4, 4, 5)).astype("float32")
    mask = _mask(lengths, 4)
    att, evi = (rng.normal(size=(4, 12, 5)).astype("float32") for _ in range(2))
    s, a = layers.WordGuidedHop(question_length)(words, att, evi, mask)
    for b, n in enumerate(lengths):
        by_position = np.zeros((question_length, 5))
        by_position[:n] = _np(words[b, :n])
        s_ref, a_ref = ref.word_guided_hop(by_position, _np(att[b]), _np(evi[b]))
        np.testing.assert_allclose(_np(s[b]), s_ref, **TOL)
        np.testing.assert_allclose(_np(a[b]), a_ref, **TOL)


@pytest.mark.parametrize("question_length", [4, 6])
def test_word_guided_hop_with_logsumexp_pooling(rng, question_length):
    lengths = [4, 1, 2, 3]
    words = rng.normal(size=(4, 4, 5)).astype("float32")
    att, evi = (rng.normal(size=(4, 12, 5)).astype("float32") for _ in range(2))
    s, a = layers.WordGuidedHop(question_length, word_pooling="logsumexp")(words, att, evi, _mask(lengths, 4))
    for b, n in enumerate(lengths):
        s_ref, a_ref = ref.word_guided_hop_logsumexp(_np(words[b, :n]), n < question_length, _np(att[b]), _np(evi[b]))
        np.testing.assert_allclose(_np(s[b]), s_ref, **TOL)
        np.testing.assert_allclose(_np(a[b]), a_ref, **TOL)


def test_word_guided_hop_with_sum_pooling(rng):
    lengths = [4, 1, 2, 0]
    words = rng.normal(size=(4, 4, 5)).astype("float32")
    att, evi = (rng.normal(size=(4, 12, 5)).astype("float32") for _ in range(2))
    s, a = layers.WordGuidedHop(6, word_pooling="sum")(words, att, evi, _mask(lengths, 4))
    for b, n in enumerate(lengths):
        s_ref, a_ref = ref.word_guided_hop_sum(_np(words[b, :n]), _np(att[b]), _np(evi[b]))
        np.testing.assert_allclose(_np(s[b]), s_ref, **TOL)
        np.testing.assert_allclose(_np(a[b]), a_ref, **TOL)


def test_question_guided_hop(rng):
    query = rng.normal(size=(3, 5)).astype("float32")
    att, evi = (rng.normal(size=(3, 12, 5)).astype("float32") for _ in range(2))
    s, a = layers.QuestionGuidedHop()(query, att, evi)
    for b in range(3):
        s_ref, a_ref = ref.question_guided_hop(_np(query[b]), _np(att[b]), _np(evi[b]))
        np.testing.assert_allclose(_np(s[b]), s_ref, **TOL)
        np.testing.assert_allclose(_np(a[b]), a_ref, **TOL)


def test_position_weighted_bag_of_words(rng):
    lengths = [5, 2, 3]
    words = rng.normal(size=(3, 5, 4)).astype("float32") * _mask(lengths, 5)[..., None]
    mask = _mask(lengths, 5)
    layer = _randomized(layers.BagOfWords(max_length=7, use_bias=True), words, mask)
    expected = [
        ref.position_weighted_bow(_np(words[b]), _np(layer.position_weights), _np(layer.bias)) for b in range(3)
    ]
    np.testing.assert_allclose(_np(layer(words, mask)), np.stack(expected), **TOL)


def test_dan_text_encoder_ragged(rng):
    ids = np.array([[3, 4, 5, 6], [7, 0, 0, 0], [8, 9, 0, 0]])
    encoder = _randomized(layers.DanTextEncoder(vocab_size=10, embedding_dim=5, hidden_dim=4), ids)
    encoded, mask = encoder(ids)
    p = {
        "embeddings": _np(encoder.word_embedding.embeddings),
        "lstm_forward": tuple(
            _np(w)
            for w in (
                encoder.lstm.forward_layer.cell.kernel,
                encoder.lstm.forward_layer.cell.recurrent_kernel,
                encoder.lstm.forward_layer.cell.bias,
            )
        ),
        "lstm_backward": tuple(
            _np(w)
            for w in (
                encoder.lstm.backward_layer.cell.kernel,
                encoder.lstm.backward_layer.cell.recurrent_kernel,
                encoder.lstm.backward_layer.cell.bias,
            )
        ),
    }
    for b in range(3):
        expected = ref.dan_text_encoder(p, ids[b])
        n = len(expected)
        np.testing.assert_allclose(_np(encoded[b, :n]), expected, **TOL)
        np.testing.assert_allclose(_np(encoded[b, n:]), 0.0)
    np.testing.assert_array_equal(np.asarray(mask), ids != 0)


def test_visual_attention_start_and_step(rng):
    regions = rng.normal(size=(3, 12, 6)).astype("float32")
    memory = rng.normal(size=(3, 4)).astype("float32")
    start = _randomized(layers.VisualAttentionStart(4), regions)
    step = _randomized(layers.VisualAttentionStep(4), regions, memory, seed=1)
    v, alpha = step(regions, memory)
    p = reference_weights_of_step(step)
    for b in range(3):
        np.testing.assert_allclose(
            _np(start(regions)[b]),
            ref.visual_start(_np(regions[b]), _np(start.projection_dense.kernel), _np(start.projection_dense.bias)),
            **TOL,
        )
        v_ref, alpha_ref = ref.visual_step(p, _np(regions[b]), _np(memory[b]))
        np.testing.assert_allclose(_np(v[b]), v_ref, **TOL)
        np.testing.assert_allclose(_np(alpha[b]), alpha_ref, **TOL)


def test_textual_attention_start_and_step(rng):
    lengths = [5, 1, 3]
    words = rng.normal(size=(3, 5, 4)).astype("float32")
    mask = _mask(lengths, 5)
    memory = rng.normal(size=(3, 4)).astype("float32")
    step = _randomized(layers.TextualAttentionStep(6), words, memory, mask)
    u, beta = step(words, memory, mask)
    u0 = layers.TextualAttentionStart()(words, mask)
    p = reference_weights_of_step(step)
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(_np(u0[b]), ref.textual_start(_np(words[b, :n])), **TOL)
        u_ref, beta_ref = ref.textual_step(p, _np(words[b, :n]), _np(memory[b]))
        np.testing.assert_allclose(_np(u[b]), u_ref, **TOL)
        np.testing.assert_allclose(_np(beta[b, :n]), beta_ref, **TOL)
        np.testing.assert_array_equal(_np(beta[b, n:]), 0.0)


def test_attention_maps_and_mean_pool(rng):
    weights = [rng.random(size=(2, 12)).astype("float32") for _ in range(3)]
    maps = layers.AttentionMaps(3, 4)(weights)
    np.testing.assert_array_equal(np.asarray(maps), np.stack(weights, axis=1).reshape(2, 3, 3, 4))
    regions = rng.normal(size=(2, 12, 6)).astype("float32")
    pooled, uniform = layers.MeanRegionPool()(regions)
    np.testing.assert_allclose(_np(pooled), _np(regions).mean(axis=1), **TOL)
    np.testing.assert_allclose(_np(uniform), 1.0 / 12, **TOL)


def reference_weights_of_step(step):
    class _Holder:
        layers = [step]

    return reference_weights(_Holder)[step.name]


@pytest.mark.parametrize("num_hops,normalize_regions", [(1, True), (2, True), (3, True), (2, False)])
def test_smem_vqa_matches_reference(rng, num_hops, normalize_regions):
    model = small_model("smem_vqa", num_hops=num_hops, normalize_regions=normalize_regions)
    randomize(model)
    batch = ragged_batch(rng)
    batch["image_features"][0, 0, 0] = 0.0  # a region with no signal stays zero when normalized
    out = model(batch)
    logits, attention = ref.smem_vqa(
        reference_weights(model),
        batch["image_features"],
        batch["token_ids"],
        num_hops,
        model.max_question_length,
        normalize_regions=normalize_regions,
    )
    np.testing.assert_allclose(_np(out["logits"]), logits, **TOL)
    np.testing.assert_allclose(_np(out["attention"]), attention, **TOL)


def test_smem_vqa_with_hop1_skip_words_matches_reference(rng):
    """Skipped words leave hop 1's max and score 0 there, as padding does, but Q still reads them."""
    batch = ragged_batch(rng)
    skip = [int(batch["token_ids"][0, 0]), int(batch["token_ids"][0, 3])]  # the full-length question holds both
    model = small_model("smem_vqa", hop1_skip_token_ids=skip)
    randomize(model)
    out = model(batch)
    logits, attention = ref.smem_vqa(
        reference_weights(model),
        batch["image_features"],
        batch["token_ids"],
        2,
        model.max_question_length,
        hop1_skip_ids=skip,
    )
    np.testing.assert_allclose(_np(out["logits"]), logits, **TOL)
    np.testing.assert_allclose(_np(out["attention"]), attention, **TOL)
    paper = small_model("smem_vqa")
    paper.set_weights(model.get_weights())
    assert not np.allclose(_np(paper(batch)["attention"][0, 0]), _np(out["attention"][0, 0]), **TOL)


def test_ibowimg_matches_reference(rng):
    model = small_model("ibowimg")
    randomize(model)
    batch = ragged_batch(rng)
    out = model(batch)
    logits, attention = ref.ibowimg(reference_weights(model), batch["image_features"], batch["token_ids"])
    np.testing.assert_allclose(_np(out["logits"]), logits, **TOL)
    np.testing.assert_allclose(_np(out["attention"]), attention, **TOL)


@pytest.mark.parametrize("num_steps", [1, 2])
def test_reasoning_dan_matches_reference(rng, num_steps):
    model = small_model("reasoning_dan", num_steps=num_steps)
    randomize(model)
    batch = ragged_batch(rng)
    out = model(batch)
    logits, attention, text_attention = ref.reasoning_dan(
        reference_weights(model), batch["image_features"], batch["token_ids"], num_steps
    )
    np.testing.assert_allclose(_np(out["logits"]), logits, **TOL)
    np.testing.assert_allclose(_np(out["attention"]), attention, **TOL)
    np.testing.assert_allclose(_np(out["text_attention"]), text_attention, **TOL)


def test_matching_dan_matches_reference_and_is_a_dual_encoder(rng):
    model = small_model("matching_dan")
    randomize(model, scale=0.2)
    batch = ragged_batch(rng)
    z_v, z_u, scores = ref.matching_dan(
        reference_weights(model), batch["image_features"], batch["token_ids"], num_steps=2
    )
    image_embedding = _np(model.embed_image(batch["image_features"]))
    text_embedding = _np(model.embed_text(batch["token_ids"]))
    np.testing.assert_allclose(image_embedding, z_v, **TOL)
    np.testing.assert_allclose(text_embedding, z_u, **TOL)
    paired = _np(model.score(batch["image_features"], batch["token_ids"]))
    np.testing.assert_allclose(paired, scores, **TOL)
    np.testing.assert_allclose(paired, np.sum(image_embedding * text_embedding, axis=1), **TOL)
    assert image_embedding.shape == (4, 3 * 8)
