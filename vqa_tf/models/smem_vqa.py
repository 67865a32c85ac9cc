"""Spatial Memory Network for VQA (Xu & Saenko, "Ask, Attend and Answer", 2016)."""

import keras

from vqa_tf.layers import (
    AttentionMaps,
    BagOfWords,
    QuestionGuidedHop,
    RegionEmbedding,
    WordEmbedding,
    WordGuidedHop,
)
from vqa_tf.models.multimodal_model import (
    IMAGE_FEATURES,
    TOKEN_IDS,
    MultimodalModel,
    grid_regions,
    grid_text_inputs,
)

# The starts of the question vector's per-position weights.
POSITION_WEIGHT_INITIALIZERS = {
    "ones": "ones",
    "official": {"class_name": "RandomUniform", "config": {"minval": -0.08, "maxval": 0.08}},
}


@keras.saving.register_keras_serializable(package="vqa_tf")
class SMemVQA(MultimodalModel):
    """SMem-VQA with one word-guided hop and `num_hops − 1` question-guided hops.

    Outputs `logits` [batch, num_answers] and `attention`
    [batch, num_hops, grid_height, grid_width].

    Args:
        vocab_size: number of token ids, padding id included.
        num_answers: size of the answer vocabulary.
        grid_height, grid_width, feature_dim: shape of the region grid.
        embedding_dim: N, the size of word and region embeddings.
        max_question_length: T, the number of position weights.
        num_hops: 1 for the one-hop model, 2 for the paper's two-hop model.
        dropout: dropout on the grid features and before the classifier.
        padding_id: the token id that marks padding.
        normalize_regions: scale each region's feature vector to unit L2
            norm before embedding it. Not in the paper: without it, hop 2's
            scores E·O₁ grow with the feature norm, and its softmax starts
            saturated on one region (see `SMemVQAConfig`).
        hop1_word_pooling: how hop 1 pools each region's word scores: "max"
            (the paper's) or "logsumexp" (see `WordGuidedHop`).
        position_weights_init: how the question vector's per-position
            weights w_j start: "ones" or "official" (uniform in ±0.08, as
            the authors' released code initialises them).

    The paper's settings are the defaults of `vqa_tf.configs.SMemVQAConfig`.

    Examples:
    >>> model = SMemVQA(vocab_size=100, num_answers=10, grid_height=4, grid_width=4,
    ...                 feature_dim=32, embedding_dim=16, max_question_length=8, num_hops=2)
    >>> out = model({"image_features": np.zeros((2, 4, 4, 32), "float32"),
    ...              "token_ids": np.array([[5, 6, 0], [7, 0, 0]])})
    >>> out["logits"].shape, out["attention"].shape
    (TensorShape([2, 10]), TensorShape([2, 2, 4, 4]))
    """

    def __init__(
        self,
        vocab_size,
        num_answers,
        grid_height,
        grid_width,
        feature_dim,
        embedding_dim,
        max_question_length,
        num_hops,
        dropout=0.0,
        padding_id=0,
        normalize_regions=True,
        hop1_word_pooling="max",
        position_weights_init="ones",
        **kwargs,
    ):
        if num_hops < 1:
            raise ValueError(f"num_hops must be at least 1; got {num_hops}.")
        if position_weights_init not in POSITION_WEIGHT_INITIALIZERS:
            raise ValueError(
                f"position_weights_init must be one of {', '.join(POSITION_WEIGHT_INITIALIZERS)}; "
                f"got {position_weights_init!r}."
            )
        inputs = grid_text_inputs(grid_height, grid_width, feature_dim)
        regions = grid_regions(inputs[IMAGE_FEATURES])
        if normalize_regions:
            regions = keras.layers.UnitNormalization(name="region_normalization")(regions)
        regions = keras.layers.Dropout(dropout, name="feature_dropout")(regions)
        words, word_mask = WordEmbedding(vocab_size, embedding_dim, padding_id, name="word_embedding")(
            inputs[TOKEN_IDS]
        )
        attention_embedding = RegionEmbedding(embedding_dim, name="attention_embedding")(regions)
        evidence = RegionEmbedding(embedding_dim, name="evidence_embedding_1")(regions)
        read, weights = WordGuidedHop(max_question_length, hop1_word_pooling, name="hop_1")(
            words, attention_embedding, evidence, word_mask
        )
        question = BagOfWords(
            max_question_length,
            use_bias=True,
            name="question_vector",
            position_weights_initializer=POSITION_WEIGHT_INITIALIZERS[position_weights_init],
        )(words, word_mask)
        memory = keras.layers.Add(name="memory_1")([read, question])
        hop_weights = [weights]
        for hop in range(2, num_hops + 1):
            new_evidence = RegionEmbedding(embedding_dim, name=f"evidence_embedding_{hop}")(regions)
            read, weights = QuestionGuidedHop(name=f"hop_{hop}")(memory, evidence, new_evidence)
            memory = keras.layers.Add(name=f"memory_{hop}")([memory, read])
            evidence = new_evidence
            hop_weights.append(weights)
        hidden = keras.layers.ReLU()(memory)
        hidden = keras.layers.Dropout(dropout, name="classifier_dropout")(hidden)
        logits = keras.layers.Dense(num_answers, name="answer_logits")(hidden)
        attention = AttentionMaps(grid_height, grid_width, name="attention_maps")(hop_weights)
        super().__init__(inputs=inputs, outputs={"logits": logits, "attention": attention}, **kwargs)
        self.keep_arguments(locals())
