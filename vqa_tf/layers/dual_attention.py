"""Attention steps of Dual Attention Networks (Nam, Ha & Kim, 2017).

Each step k has its own weights. Every linear map carries a bias (the paper
omits biases from its equations for brevity), except the scoring vectors w_vh
and w_uh, whose bias a softmax would cancel. The linear maps are `Dense`
sublayers made in `build()`; their initializers and regularizer are
constructor arguments (glorot-uniform kernels and zero biases by default, the
paper giving none), and the kernel regularizer applies to the scoring vector
too.
"""

import keras
from keras import ops

from vqa_tf.layers.attention_read import attention_read, attention_weights
from vqa_tf.layers.masking import masked_mean
from vqa_tf.layers.weight_arguments import initializer_for_weight, regularizer_for_weight, serialize_argument


class _AttentionLayer(keras.layers.Layer):
    """Holds the size, initializers and regularizer every DAN attention layer takes, and its `Dense` maps."""

    def __init__(
        self,
        hidden_dim,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer

    def _dense(self, name, input_shape):
        """A built `tanh(Dense(hidden_dim))` map of inputs of `input_shape`."""
        dense = keras.layers.Dense(
            self.hidden_dim,
            activation="tanh",
            kernel_initializer=initializer_for_weight(self.kernel_initializer),
            bias_initializer=initializer_for_weight(self.bias_initializer),
            kernel_regularizer=regularizer_for_weight(self.kernel_regularizer),
            dtype=self.dtype_policy,
            name=name,
        )
        dense.build(tuple(input_shape))
        return dense

    def _score_vector(self):
        return self.add_weight(
            name="score_vector",
            shape=(self.hidden_dim,),
            initializer=initializer_for_weight(self.kernel_initializer),
            regularizer=regularizer_for_weight(self.kernel_regularizer),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "kernel_initializer": serialize_argument(self.kernel_initializer),
                "bias_initializer": serialize_argument(self.bias_initializer),
                "kernel_regularizer": serialize_argument(self.kernel_regularizer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="vqa_tf")
class VisualAttentionStart(_AttentionLayer):
    """v⁽⁰⁾ = tanh(P⁽⁰⁾ · mean_n v_n) over region features [batch, L, C].

    Args:
        hidden_dim: size d of the visual context vector.
        kernel_initializer, bias_initializer: initializers of P⁽⁰⁾.
        kernel_regularizer: regularizer of P⁽⁰⁾'s kernel, or None.

    Examples:
    >>> VisualAttentionStart(hidden_dim=8)(np.ones((2, 196, 16), "float32")).shape
    TensorShape([2, 8])
    """

    def build(self, regions_shape):
        self.projection_dense = self._dense("projection", regions_shape)

    def call(self, regions):
        return self.projection_dense(ops.mean(regions, axis=1))

    def compute_output_shape(self, regions_shape):
        return (regions_shape[0], self.hidden_dim)


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
class VisualAttentionStep(_AttentionLayer):
    """One visual attention step guided by a memory vector.

    h_n = tanh(W_v v_n) ⊙ tanh(W_vm m); α = softmax_n(w_vh·h_n);
    v⁽ᵏ⁾ = tanh(P⁽ᵏ⁾ Σ_n α_n v_n). P⁽ᵏ⁾ is applied once, to the attended sum.

    Args:
        hidden_dim: size d of the attention space and of v⁽ᵏ⁾.
        kernel_initializer: initializer of W_v, W_vm, w_vh and P⁽ᵏ⁾.
        bias_initializer: initializer of their biases.
        kernel_regularizer: regularizer of the same kernels, or None.

    Call args:
        regions: [batch, L, C] region features.
        memory: [batch, d] memory vector m.

    Returns:
        (v⁽ᵏ⁾ [batch, d], α [batch, L] in float32).

    Examples:
    >>> step = VisualAttentionStep(hidden_dim=8)
    >>> v, alpha = step(np.ones((2, 196, 16), "float32"), np.ones((2, 8), "float32"))
    >>> v.shape, alpha.shape
    (TensorShape([2, 8]), TensorShape([2, 196]))
    """

    def build(self, regions_shape, memory_shape):
        self.region_dense = self._dense("region", regions_shape)
        self.memory_dense = self._dense("memory", memory_shape)
        self.score_vector = self._score_vector()
        self.projection_dense = self._dense("projection", regions_shape)

    def call(self, regions, memory):
        joint = self.region_dense(regions) * self.memory_dense(memory)[:, None, :]
        weights = attention_weights(ops.matmul(joint, ops.cast(self.score_vector, joint.dtype)))
        return self.projection_dense(attention_read(weights, regions)), weights

    def compute_output_spec(self, regions, memory):
        batch, num_regions = regions.shape[0], regions.shape[1]
        return (
            keras.KerasTensor((batch, self.hidden_dim), dtype=self.compute_dtype),
            keras.KerasTensor((batch, num_regions), dtype="float32"),
        )


@keras.saving.register_keras_serializable(package="vqa_tf")
class TextualAttentionStep(_AttentionLayer):
    """One textual attention step guided by a memory vector.

    h_t = tanh(W_u u_t) ⊙ tanh(W_um m); β = softmax over real words of
    (w_uh·h_t); u⁽ᵏ⁾ = Σ_t β_t u_t. Padded words get exactly zero weight.

    Args:
        hidden_dim: size d of the attention space.
        kernel_initializer: initializer of W_u, W_um and w_uh.
        bias_initializer: initializer of their biases.
        kernel_regularizer: regularizer of the same kernels, or None.

    Call args:
        words: [batch, T, D] encoded words u_t.
        memory: [batch, d'] memory vector m.
        word_mask: [batch, T] bool, True on real words.

    Returns:
        (u⁽ᵏ⁾ [batch, D], β [batch, T] in float32).

    Examples:
    >>> step = TextualAttentionStep(hidden_dim=8)
    >>> u, beta = step(np.ones((2, 5, 8), "float32"), np.ones((2, 8), "float32"),
    ...                np.array([[1, 1, 1, 0, 0]] * 2, bool))
    >>> tuple(round(float(b), 3) for b in beta[0])
    (0.333, 0.333, 0.333, 0.0, 0.0)
    """

    def build(self, words_shape, memory_shape, word_mask_shape=None):
        self.word_dense = self._dense("word", words_shape)
        self.memory_dense = self._dense("memory", memory_shape)
        self.score_vector = self._score_vector()

    def call(self, words, memory, word_mask):
        joint = self.word_dense(words) * self.memory_dense(memory)[:, None, :]
        weights = attention_weights(ops.matmul(joint, ops.cast(self.score_vector, joint.dtype)), word_mask)
        return attention_read(weights, words), weights

    def compute_output_spec(self, words, memory, word_mask):
        batch, length, width = words.shape
        return (
            keras.KerasTensor((batch, width), dtype=self.compute_dtype),
            keras.KerasTensor((batch, length), dtype="float32"),
        )
