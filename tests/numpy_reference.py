"""Plain NumPy implementations of the papers' equations (SMem-VQA, DAN), written from the equations.

Everything runs per example and in float64, with explicit loops over words,
so that it shares no formulation (batched matmuls, masks-as-multipliers) with
the Keras layers it checks. Padding is handled by slicing out the real words.
"""

import numpy as np


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def real_words(token_ids, padding_id=0):
    """The token ids of one question with padding removed (padding may sit anywhere)."""
    return [t for t in token_ids if t != padding_id]


# --- SMem-VQA (Xu & Saenko, 2016) -------------------------------------------------


def region_embedding(regions, kernel, region_bias):
    """S·W + b with a bias per region: regions [L, M] → [L, N]."""
    return np.stack([regions[r] @ kernel + region_bias[r] for r in range(len(regions))])


def word_guided_hop(words_by_position, attention_emb, evidence_emb):
    """The paper's V [T, N], zero rows at padded positions → (s₁ [N], a₁ [L]): each region's max over all T rows."""
    num_regions = attention_emb.shape[0]
    scores = np.array([max(float(v @ attention_emb[r]) for v in words_by_position) for r in range(num_regions)])
    a = softmax(scores)
    return a @ evidence_emb, a


def word_guided_hop_logsumexp(real_words, padded, attention_emb, evidence_emb):
    """The logsumexp option: each region scores log Σ exp(v·A_l) over the real words, plus one exp(0) for the
    padding when the question is shorter than T (`padded`)."""
    num_regions = attention_emb.shape[0]
    scores = []
    for r in range(num_regions):
        terms = [float(v @ attention_emb[r]) for v in real_words] + ([0.0] if padded else [])
        top = max(terms)
        scores.append(top + np.log(sum(np.exp(t - top) for t in terms)))
    a = softmax(np.array(scores))
    return a @ evidence_emb, a


def word_guided_hop_sum(real_words, attention_emb, evidence_emb):
    """The sum option: each region scores Σ v·A_l over the real words (the zero padding rows add nothing)."""
    num_regions = attention_emb.shape[0]
    scores = np.array([sum(float(v @ attention_emb[r]) for v in real_words) for r in range(num_regions)])
    a = softmax(scores)
    return a @ evidence_emb, a


def question_guided_hop(query, attention_emb, evidence_emb):
    a = softmax(attention_emb @ query)
    return a @ evidence_emb, a


def position_weighted_bow(word_vectors_by_position, position_weights, bias):
    """Σ_j w_j v_j + b_Q with v_j = 0 at padded positions: [T, N] → [N]."""
    q = np.array(bias, dtype=np.float64)
    for j, v in enumerate(word_vectors_by_position):
        q = q + position_weights[j] * v
    return q


def smem_vqa(
    p, image_features, token_ids, num_hops, question_length, padding_id=0, normalize_regions=True, hop1_skip_ids=()
):
    """p: dict of weights (see tests/weights.py); token_ids padded to at most `question_length` (T).

    normalize_regions: divide each region's feature vector by its L2 norm first (0 stays 0).
    hop1_skip_ids: token ids whose rows of V are zero in hop 1 only, as padding's are.

    Returns (logits [B, A], attention [B, hops, H, W]).
    """
    batch, height, width, channels = image_features.shape
    logits, attention = [], []
    for b in range(batch):
        regions = image_features[b].reshape(height * width, channels).astype(np.float64)
        if normalize_regions:
            norms = np.sqrt((regions**2).sum(axis=1, keepdims=True))
            regions = regions / np.where(norms > 0, norms, 1.0)
        ids = token_ids[b]
        ids = list(ids) + [padding_id] * (question_length - len(ids))
        zero = np.zeros(p["embeddings"].shape[1])
        by_position = np.stack([p["embeddings"][t] if t != padding_id else zero for t in ids])
        hop1_rows = np.stack([zero if t in hop1_skip_ids else row for t, row in zip(ids, by_position)])
        att = region_embedding(regions, *p["attention_embedding"])
        evidence = region_embedding(regions, *p["evidence_embedding_1"])
        s, a = word_guided_hop(hop1_rows, att, evidence)
        memory = s + position_weighted_bow(by_position, p["position_weights"], p["question_bias"])
        maps = [a]
        for hop in range(2, num_hops + 1):
            new_evidence = region_embedding(regions, *p[f"evidence_embedding_{hop}"])
            s, a = question_guided_hop(memory, evidence, new_evidence)
            memory = memory + s
            evidence = new_evidence
            maps.append(a)
        kernel, bias = p["answer_logits"]
        logits.append(np.maximum(memory, 0.0) @ kernel + bias)
        attention.append(np.stack(maps).reshape(num_hops, height, width))
    return np.stack(logits), np.stack(attention)


def ibowimg(p, image_features, token_ids, padding_id=0):
    batch, height, width, channels = image_features.shape
    logits = []
    for b in range(batch):
        bow = sum(
            (p["embeddings"][t] for t in real_words(token_ids[b], padding_id)), np.zeros(p["embeddings"].shape[1])
        )
        image = image_features[b].reshape(-1, channels).mean(axis=0)
        kernel, bias = p["answer_logits"]
        logits.append(np.concatenate([bow, image]) @ kernel + bias)
    uniform = np.full((batch, 1, height, width), 1.0 / (height * width))
    return np.stack(logits), uniform


# --- DAN (Nam et al., 2017) -----------------------------------------------------


def lstm(inputs, kernel, recurrent_kernel, bias):
    """A standard LSTM (gates i, f, c̃, o) over inputs [T, D] → hidden states [T, U]."""
    units = recurrent_kernel.shape[0]
    h, c = np.zeros(units), np.zeros(units)
    outputs = []
    for x in inputs:
        z = x @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = z[:units], z[units : 2 * units], z[2 * units : 3 * units], z[3 * units :]
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs) if outputs else np.zeros((0, units))


def dan_text_encoder(p, ids, padding_id=0):
    """u_t = h_t^f + h_t^b over the real words of one question: [T_real, d]."""
    words = real_words(ids, padding_id)
    vectors = np.stack([p["embeddings"][t] for t in words]) if words else np.zeros((0, p["embeddings"].shape[1]))
    forward = lstm(vectors, *p["lstm_forward"])
    backward = lstm(vectors[::-1], *p["lstm_backward"])[::-1]
    return forward + backward


def visual_start(regions, kernel, bias):
    return np.tanh(regions.mean(axis=0) @ kernel + bias)


def textual_start(words):
    return words.mean(axis=0) if len(words) else np.zeros(words.shape[1])


def visual_step(p, regions, memory):
    """(v⁽ᵏ⁾ [d], α [L]) for regions [L, C]."""
    h = np.stack(
        [
            np.tanh(v @ p["region"][0] + p["region"][1]) * np.tanh(memory @ p["memory"][0] + p["memory"][1])
            for v in regions
        ]
    )
    alpha = softmax(h @ p["score_vector"])
    attended = sum(alpha[n] * regions[n] for n in range(len(regions)))
    return np.tanh(attended @ p["projection"][0] + p["projection"][1]), alpha


def textual_step(p, words, memory):
    """(u⁽ᵏ⁾ [d], β [T_real]) for the real words [T_real, d]."""
    if len(words) == 0:
        return np.zeros(words.shape[1]), np.zeros(0)
    h = np.stack(
        [np.tanh(u @ p["word"][0] + p["word"][1]) * np.tanh(memory @ p["memory"][0] + p["memory"][1]) for u in words]
    )
    beta = softmax(h @ p["score_vector"])
    return sum(beta[t] * words[t] for t in range(len(words))), beta


def _pad_to(weights, length, positions):
    full = np.zeros(length)
    full[positions] = weights
    return full


def reasoning_dan(p, image_features, token_ids, num_steps, padding_id=0):
    batch, height, width, channels = image_features.shape
    logits, attention, text_attention = [], [], []
    for b in range(batch):
        regions = image_features[b].reshape(-1, channels).astype(np.float64)
        words = dan_text_encoder(p, token_ids[b], padding_id)
        real_positions = [t for t, i in enumerate(token_ids[b]) if i != padding_id]
        v = visual_start(regions, *p["visual_start"])
        u = textual_start(words)
        memory = v * u
        maps, betas = [], []
        for step in range(1, num_steps + 1):
            v, alpha = visual_step(p[f"visual_step_{step}"], regions, memory)
            u, beta = textual_step(p[f"textual_step_{step}"], words, memory)
            memory = memory + v * u
            maps.append(alpha.reshape(height, width))
            betas.append(_pad_to(beta, len(token_ids[b]), real_positions))
        kernel, bias = p["answer_logits"]
        logits.append(memory @ kernel + bias)
        attention.append(np.stack(maps))
        text_attention.append(np.stack(betas))
    return np.stack(logits), np.stack(attention), np.stack(text_attention)


def matching_dan(p, image_features, token_ids, num_steps, padding_id=0):
    """Returns (z_v [B, (K+1)d], z_u [B, (K+1)d], S for aligned pairs [B] as Σ_k v⁽ᵏ⁾·u⁽ᵏ⁾)."""
    batch, height, width, channels = image_features.shape
    z_v, z_u, scores = [], [], []
    for b in range(batch):
        regions = image_features[b].reshape(-1, channels).astype(np.float64)
        words = dan_text_encoder(p, token_ids[b], padding_id)
        v = visual_start(regions, *p["visual_start"])
        u = textual_start(words)
        visual, textual = [v], [u]
        visual_memory, textual_memory = v, u
        for step in range(1, num_steps + 1):
            v, _ = visual_step(p[f"visual_step_{step}"], regions, visual_memory)
            u, _ = textual_step(p[f"textual_step_{step}"], words, textual_memory)
            visual_memory = visual_memory + v
            textual_memory = textual_memory + u
            visual.append(v)
            textual.append(u)
        scores.append(sum(float(a @ c) for a, c in zip(visual, textual)))
        z_v.append(np.concatenate(visual))
        z_u.append(np.concatenate(textual))
    return np.stack(z_v), np.stack(z_u), np.array(scores)


def hinge_terms(similarity, margin, image_ids):
    """{pair i: ([max(0, m − S_ii + S_ij) per negative caption j], [max(0, m − S_ii + S_ji) per negative image j])}."""
    n = len(similarity)
    terms = {}
    for i in range(n):
        others = [j for j in range(n) if image_ids[j] != image_ids[i]]
        terms[i] = (
            [max(0.0, margin - similarity[i, i] + similarity[i, j]) for j in others] or [0.0],
            [max(0.0, margin - similarity[i, i] + similarity[j, i]) for j in others] or [0.0],
        )
    return terms


def ranking_loss(similarity, margin, hardest_negative, image_ids=None):
    """Σ max(0, m − S(v,u) + S(v,u⁻)) + max(0, m − S(v,u) + S(v⁻,u)) per pair, u⁻ and v⁻ of other images."""
    n = len(similarity)
    image_ids = list(range(n)) if image_ids is None else list(image_ids)
    losses = []
    for i in range(n):
        others = [j for j in range(n) if image_ids[j] != image_ids[i]]
        to_captions = [max(0.0, margin - similarity[i, i] + similarity[i, j]) for j in others] or [0.0]
        to_images = [max(0.0, margin - similarity[i, i] + similarity[j, i]) for j in others] or [0.0]
        reduce = max if hardest_negative else sum
        losses.append(reduce(to_captions) + reduce(to_images))
    return np.array(losses)


def evidence_attention_loss(attention, evidence, floor=1e-6):
    """Per question: −mean over hops of log(Σ of hop k's weights on its evidence cells, those of target
    min(k, targets − 1)); 0 without evidence."""
    losses = []
    for maps, targets in zip(attention, evidence):
        if not np.any(targets):
            losses.append(0.0)
            continue
        per_hop = []
        for k, hop in enumerate(maps):
            cells = np.ravel(targets[min(k, len(targets) - 1)])
            per_hop.append(-np.log(max(sum(np.ravel(hop)[n] for n in range(cells.size) if cells[n] > 0), floor)))
        losses.append(sum(per_hop) / len(per_hop))
    return np.array(losses)
