"""Spatial Memory Network for VQA (Xu & Saenko, "Ask, Attend and Answer", 2016)."""

import keras

from vqa_tf.layers import (
    AttentionMaps,
    BagOfWords,
    Dropout,
    QuestionGuidedHop,
    RegionEmbedding,
    WordEmbedding,
    WordFilter,
    WordGuidedHop,
)
from vqa_tf.layers.weight_arguments import serialize_argument
from vqa_tf.models.multimodal_model import (
    IMAGE_FEATURES,
    TOKEN_IDS,
    MultimodalModel,
    answer_logits,
    grid_regions,
    grid_text_inputs,
)

# The starts of the question vector's per-position weights.
POSITION_WEIGHT_INITIALIZERS = {
    "ones": "ones",
    "official": {"class_name": "RandomUniform", "config": {"minval": -0.08, "maxval": 0.08}},
}


def _memory_hops(
    regions,
    words,
    word_mask,
    hop1_word_mask,
    num_hops,
    max_question_length,
    hop1_word_pooling,
    position_weights_init,
    layer_arguments,
):
    """(O_K, [a_1 … a_K]): hop 1 word-guided over the words of `hop1_word_mask`, O_1 = s_1 + Q, then
    O_k = O_{k−1} + s_k by question-guided hops, each reading a new evidence embedding and attending with the
    one before. `layer_arguments`: the `kernel_regularizer` and `dtype` every layer takes."""
    if num_hops < 1:
        raise ValueError(f"num_hops must be at least 1; got {num_hops}.")
    if position_weights_init not in POSITION_WEIGHT_INITIALIZERS:
        raise ValueError(
            f"position_weights_init must be one of {', '.join(POSITION_WEIGHT_INITIALIZERS)}; "
            f"got {position_weights_init!r}."
        )
    embedding_dim, dtype = words.shape[-1], layer_arguments["dtype"]
    attention_embedding = RegionEmbedding(embedding_dim, name="attention_embedding", **layer_arguments)(regions)
    evidence = RegionEmbedding(embedding_dim, name="evidence_embedding_1", **layer_arguments)(regions)
    read, weights = WordGuidedHop(max_question_length, hop1_word_pooling, dtype=dtype, name="hop_1")(
        words, attention_embedding, evidence, hop1_word_mask
    )
    question = BagOfWords(
        max_question_length,
        use_bias=True,
        position_weights_initializer=POSITION_WEIGHT_INITIALIZERS[position_weights_init],
        dtype=dtype,
        name="question_vector",
    )(words, word_mask)
    memory = keras.layers.Add(dtype=dtype, name="memory_1")([read, question])
    hop_weights = [weights]
    for hop in range(2, num_hops + 1):
        new_evidence = RegionEmbedding(embedding_dim, name=f"evidence_embedding_{hop}", **layer_arguments)(regions)
        read, weights = QuestionGuidedHop(dtype=dtype, name=f"hop_{hop}")(memory, evidence, new_evidence)
        memory = keras.layers.Add(dtype=dtype, name=f"memory_{hop}")([memory, read])
        evidence = new_evidence
        hop_weights.append(weights)
    return memory, hop_weights


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
            (the paper's), "logsumexp" or "sum" (see `WordGuidedHop`).
        position_weights_init: how the question vector's per-position
            weights w_j start: "ones" or "official" (uniform in ±0.08, as
            the authors' released code initialises them).
        hop1_skip_token_ids: token ids that hop 1 treats as padding (their
            rows score 0 in its max); the question vector Q still reads
            them. Not in the paper, which has hop 1 pool over every word;
            empty (the default) gives the paper's hop.
        kernel_regularizer: regularizer of the word embeddings and of every
            kernel (region embeddings, answer layer), or None; training sets
            it from `optimizer.weight_decay`.
        dtype: the dtype policy of the layers (e.g. "mixed_bfloat16");
            attention maps and logits are float32 under every policy.

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
        hop1_skip_token_ids=(),
        kernel_regularizer=None,
        dtype=None,
        **kwargs,
    ):
        # === Functional Model ===
        inputs = grid_text_inputs(grid_height, grid_width, feature_dim)
        regions = grid_regions(inputs[IMAGE_FEATURES], dropout, dtype=dtype, normalize=normalize_regions)
        words, word_mask = WordEmbedding(
            vocab_size,
            embedding_dim,
            padding_id,
            embeddings_regularizer=kernel_regularizer,
            dtype=dtype,
            name="word_embedding",
        )(inputs[TOKEN_IDS])
        hop1_skip_token_ids = [int(i) for i in hop1_skip_token_ids]
        hop1_word_mask = word_mask
        if hop1_skip_token_ids:
            hop1_word_mask = WordFilter(hop1_skip_token_ids, name="hop_1_words")(inputs[TOKEN_IDS], word_mask)
        shared = dict(kernel_regularizer=kernel_regularizer, dtype=dtype)
        memory, hop_weights = _memory_hops(
            regions,
            words,
            word_mask,
            hop1_word_mask,
            num_hops,
            max_question_length,
            hop1_word_pooling,
            position_weights_init,
            shared,
        )
        hidden = Dropout(dropout, dtype=dtype, name="classifier_dropout")(keras.layers.ReLU(dtype=dtype)(memory))
        outputs = {
            "logits": answer_logits(num_answers, kernel_regularizer)(hidden),
            "attention": AttentionMaps(grid_height, grid_width, dtype="float32", name="attention_maps")(hop_weights),
        }
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.vocab_size = vocab_size
        self.num_answers = num_answers
        self.grid_height = grid_height
        self.grid_width = grid_width
        self.feature_dim = feature_dim
        self.embedding_dim = embedding_dim
        self.max_question_length = max_question_length
        self.num_hops = num_hops
        self.dropout = dropout
        self.padding_id = padding_id
        self.normalize_regions = normalize_regions
        self.hop1_word_pooling = hop1_word_pooling
        self.position_weights_init = position_weights_init
        self.hop1_skip_token_ids = hop1_skip_token_ids
        self.kernel_regularizer = kernel_regularizer

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "num_answers": self.num_answers,
                "grid_height": self.grid_height,
                "grid_width": self.grid_width,
                "feature_dim": self.feature_dim,
                "embedding_dim": self.embedding_dim,
                "max_question_length": self.max_question_length,
                "num_hops": self.num_hops,
                "dropout": self.dropout,
                "padding_id": self.padding_id,
                "normalize_regions": self.normalize_regions,
                "hop1_word_pooling": self.hop1_word_pooling,
                "position_weights_init": self.position_weights_init,
                "hop1_skip_token_ids": self.hop1_skip_token_ids,
                "kernel_regularizer": serialize_argument(self.kernel_regularizer),
            }
        )
        return config
