"""Attention steps of Dual Attention Networks (Nam, Ha & Kim, 2017).

Each step k has its own weights. Every linear map carries a bias (the paper
omits biases from its equations for brevity), except the scoring vectors w_vh
and w_uh, whose bias a softmax would cancel.
"""

import keras
from keras import ops

from vqa_tf.layers.attention_read import attention_read
from vqa_tf.layers.masking import masked_mean, masked_softmax


def _dense_weights(layer, name, input_dim, units):
    kernel = layer.add_weight(name=f"{name}_kernel", shape=(input_dim, units), initializer="glorot_uniform")
    bias = layer.add_weight(name=f"{name}_bias", shape=(units,), initializer="zeros")
    return kernel, bias


@keras.saving.register_keras_serializable(package="vqa_tf")
class VisualAttentionStart(keras.layers.Layer):
    """v⁽⁰⁾ = tanh(P⁽⁰⁾ · mean_n v_n) over region features [batch, L, C].

    Args:
        hidden_dim: size d of the visual context vector.

    Examples:
    >>> VisualAttentionStart(hidden_dim=8)(np.ones((2, 196, 16), "float32")).shape
    TensorShape([2, 8])
    """

    def __init__(self, hidden_dim, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim

    def build(self, regions_shape):
        self.projection_kernel, self.projection_bias = _dense_weights(
            self, "projection", regions_shape[-1], self.hidden_dim
        )

    def call(self, regions):
        pooled = ops.mean(regions, axis=1)
        return ops.tanh(ops.matmul(pooled, self.projection_kernel) + self.projection_bias)

    def compute_output_shape(self, regions_shape):
        return (regions_shape[0], self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim})
        return config


@keras.saving.register_keras_serializable(package="vqa_tf")
class TextualAttentionStart(keras.layers.Layer):
    """u⁽⁰⁾ = mean over real words of u_t.

    Call args:
        words: [batch, T, D] encoded words.
        word_mask: [batch, T] bool, True on real words.

    Examples:
    >>> TextualAttentionStart()(np.ones((2, 5, 8), "float32"), np.ones((2, 5), bool)).shape
    TensorShape([2, 8])
    """

    def call(self, words, word_mask):
        return masked_mean(words, word_mask, axis=1)

    def compute_output_shape(self, words_shape, word_mask_shape):
        return (words_shape[0], words_shape[-1])


@keras.saving.register_keras_serializable(package="vqa_tf")
class VisualAttentionStep(keras.layers.Layer):
    """One visual attention step guided by a memory vector.

    h_n = tanh(W_v v_n) ⊙ tanh(W_vm m); α = softmax_n(w_vh·h_n);
    v⁽ᵏ⁾ = tanh(P⁽ᵏ⁾ Σ_n α_n v_n). P⁽ᵏ⁾ is applied once, to the attended sum.

    Args:
        hidden_dim: size d of the attention space and of v⁽ᵏ⁾.

    Call args:
        regions: [batch, L, C] region features.
        memory: [batch, d] memory vector m.

    Returns:
        (v⁽ᵏ⁾ [batch, d], α [batch, L]).

    Examples:
    >>> step = VisualAttentionStep(hidden_dim=8)
    >>> v, alpha = step(np.ones((2, 196, 16), "float32"), np.ones((2, 8), "float32"))
    >>> v.shape, alpha.shape
    (TensorShape([2, 8]), TensorShape([2, 196]))
    """

    def __init__(self, hidden_dim, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim

    def build(self, regions_shape, memory_shape):
        feature_dim = regions_shape[-1]
        self.region_kernel, self.region_bias = _dense_weights(self, "region", feature_dim, self.hidden_dim)
        self.memory_kernel, self.memory_bias = _dense_weights(self, "memory", memory_shape[-1], self.hidden_dim)
        self.score_vector = self.add_weight(name="score_vector", shape=(self.hidden_dim,), initializer="glorot_uniform")
        self.projection_kernel, self.projection_bias = _dense_weights(self, "projection", feature_dim, self.hidden_dim)

    def call(self, regions, memory):
        region_part = ops.tanh(ops.matmul(regions, self.region_kernel) + self.region_bias)
        memory_part = ops.tanh(ops.matmul(memory, self.memory_kernel) + self.memory_bias)
        joint = region_part * memory_part[:, None, :]
        weights = ops.softmax(ops.matmul(joint, self.score_vector), axis=-1)
        attended = attention_read(weights, regions)
        context = ops.tanh(ops.matmul(attended, self.projection_kernel) + self.projection_bias)
        return context, weights

    def compute_output_spec(self, regions, memory):
        batch, num_regions = regions.shape[0], regions.shape[1]
        dtype = self.compute_dtype
        return (
            keras.KerasTensor((batch, self.hidden_dim), dtype=dtype),
            keras.KerasTensor((batch, num_regions), dtype=dtype),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim})
        return config


@keras.saving.register_keras_serializable(package="vqa_tf")
class TextualAttentionStep(keras.layers.Layer):
    """One textual attention step guided by a memory vector.

    h_t = tanh(W_u u_t) ⊙ tanh(W_um m); β = softmax over real words of
    (w_uh·h_t); u⁽ᵏ⁾ = Σ_t β_t u_t. Padded words get exactly zero weight.

    Args:
        hidden_dim: size d of the attention space.

    Call args:
        words: [batch, T, D] encoded words u_t.
        memory: [batch, d'] memory vector m.
        word_mask: [batch, T] bool, True on real words.

    Returns:
        (u⁽ᵏ⁾ [batch, D], β [batch, T]).

    Examples:
    >>> step = TextualAttentionStep(hidden_dim=8)
    >>> u, beta = step(np.ones((2, 5, 8), "float32"), np.ones((2, 8), "float32"),
    ...                np.array([[1, 1, 1, 0, 0]] * 2, bool))
    >>> [round(float(b), 3) for b in beta[0]]
    [0.333, 0.333, 0.333, 0.0, 0.0]
    """

    def __init__(self, hidden_dim, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim

    def build(self, words_shape, memory_shape, word_mask_shape=None):
        self.word_kernel, self.word_bias = _dense_weights(self, "word", words_shape[-1], self.hidden_dim)
        self.memory_kernel, self.memory_bias = _dense_weights(self, "memory", memory_shape[-1], self.hidden_dim)
        self.score_vector = self.add_weight(name="score_vector", shape=(self.hidden_dim,), initializer="glorot_uniform")

    def call(self, words, memory, word_mask):
        word_part = ops.tanh(ops.matmul(words, self.word_kernel) + self.word_bias)
        memory_part = ops.tanh(ops.matmul(memory, self.memory_kernel) + self.memory_bias)
        scores = ops.matmul(word_part * memory_part[:, None, :], self.score_vector)
        weights = masked_softmax(scores, word_mask, axis=-1)
        return attention_read(weights, words), weights

    def compute_output_spec(self, words, memory, word_mask):
        batch, length, width = words.shape
        dtype = self.compute_dtype
        return (
            keras.KerasTensor((batch, width), dtype=dtype),
            keras.KerasTensor((batch, length), dtype=dtype),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim})
        return config
