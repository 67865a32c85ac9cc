"""The attention hops of the Spatial Memory Network (Xu & Saenko, 2016).

Both hops are weight-free: they read region embeddings that `RegionEmbedding`
layers computed, so that hop k can attend with the evidence embedding hop k−1
read from, as the paper chains them.
"""

import keras
from keras import ops

from vqa_tf.layers.attention_read import attention_read, attention_weights
from vqa_tf.layers.masking import masked_logsumexp, masked_max, masked_sum

WORD_POOLINGS = ("max", "logsumexp", "sum")


@keras.saving.register_keras_serializable(package="vqa_tf")
class WordGuidedHop(keras.layers.Layer):
    """Hop 1: every word position scores every region; regions keep their best score.

    C = V·Aᵀ ∈ R^{T×L} over the paper's T word positions, where padding embeds
    to the zero vector; a₁ = softmax over regions of (max over the T rows of
    C); s₁ = a₁·E. A question shorter than T has zero rows, which take part in
    the max, so each region scores max(0, its best real word); a question of
    exactly T words scores its best real word. However many padding columns a
    batch carries, only the question's length decides. A question with no
    real word scores every region 0 and so attends uniformly.

    Args:
        question_length: T, the number of word positions (SMem-VQA's
            `max_question_length`).
        word_pooling: "max", the paper's max over word rows, or
            "logsumexp", a smooth maximum over the same rows (not the
            paper's: every word, not only each region's best one, then gets
            a gradient), or "sum", the sum of the rows (not the paper's: a
            region that matches two of the question's words outscores one
            that matches either; the zero padding rows add nothing).

    Call args:
        word_vectors: [batch, T, N] word embeddings V.
        attention_embedding: [batch, L, N] region attention embedding A.
        evidence_embedding: [batch, L, N] region evidence embedding E.
        word_mask: [batch, T] bool, True on real words.

    Returns:
        (s₁ [batch, N], a₁ [batch, L] in float32).

    Examples:
    >>> hop = WordGuidedHop(question_length=5)
    >>> s, a = hop(np.ones((2, 5, 8), "float32"), np.ones((2, 49, 8), "float32"),
    ...            np.ones((2, 49, 8), "float32"), np.ones((2, 5), bool))
    >>> s.shape, a.shape
    (TensorShape([2, 8]), TensorShape([2, 49]))
    """

    def __init__(self, question_length, word_pooling="max", **kwargs):
        super().__init__(**kwargs)
        if word_pooling not in WORD_POOLINGS:
            raise ValueError(f"word_pooling must be one of {', '.join(WORD_POOLINGS)}; got {word_pooling!r}")
        self.question_length = question_length
        self.word_pooling = word_pooling

    def call(self, word_vectors, attention_embedding, evidence_embedding, word_mask):
        correlation = ops.matmul(word_vectors, ops.transpose(attention_embedding, (0, 2, 1)))
        real_rows = word_mask[:, :, None]
        if self.word_pooling == "sum":
            # The padding rows are zero: they add nothing to the sum.
            scores = masked_sum(correlation, real_rows, axis=1)
        else:
            # The padding rows are zero: they join the pooling as one zero score.
            has_padding = ops.sum(ops.cast(word_mask, "int32"), axis=1) < self.question_length
            if self.word_pooling == "max":
                scores = masked_max(correlation, real_rows, axis=1)
                padded = ops.maximum(scores, ops.zeros_like(scores))
            else:
                scores = masked_logsumexp(correlation, real_rows, axis=1)
                padded = ops.logaddexp(scores, ops.zeros_like(scores))
            scores = ops.where(has_padding[:, None], padded, scores)
        weights = attention_weights(scores)
        return attention_read(weights, evidence_embedding), weights

    def get_config(self):
        config = super().get_config()
        config.update({"question_length": self.question_length, "word_pooling": self.word_pooling})
        return config

    def compute_output_spec(self, word_vectors, attention_embedding, evidence_embedding, word_mask):
        batch, regions, units = evidence_embedding.shape
        return (
            keras.KerasTensor((batch, units), dtype=self.compute_dtype),
            keras.KerasTensor((batch, regions), dtype="float32"),
        )


@keras.saving.register_keras_serializable(package="vqa_tf")
class QuestionGuidedHop(keras.layers.Layer):
    """Hop k ≥ 2: the whole-question memory scores regions and reads new evidence.

    a_k = softmax over regions of (E_{k−1}·O_{k−1}); s_k = a_k·E_k, where
    E_{k−1} is the evidence embedding the previous hop read and E_k a new one.

    Call args:
        query: [batch, N] the memory O_{k−1} (= s₁ + Q after hop 1).
        attention_embedding: [batch, L, N] the previous evidence embedding.
        evidence_embedding: [batch, L, N] this hop's evidence embedding.

    Returns:
        (s_k [batch, N], a_k [batch, L] in float32).

    Examples:
    >>> hop = QuestionGuidedHop()
    >>> s, a = hop(np.ones((2, 8), "float32"), np.ones((2, 49, 8), "float32"),
    ...            np.ones((2, 49, 8), "float32"))
    >>> s.shape, a.shape
    (TensorShape([2, 8]), TensorShape([2, 49]))
    """

    def call(self, query, attention_embedding, evidence_embedding):
        scores = ops.squeeze(ops.matmul(attention_embedding, query[:, :, None]), -1)
        weights = attention_weights(scores)
        return attention_read(weights, evidence_embedding), weights

    def compute_output_spec(self, query, attention_embedding, evidence_embedding):
        batch, regions, units = evidence_embedding.shape
        return (
            keras.KerasTensor((batch, units), dtype=self.compute_dtype),
            keras.KerasTensor((batch, regions), dtype="float32"),
        )
