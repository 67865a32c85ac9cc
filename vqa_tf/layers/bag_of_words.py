"""Question vectors as (optionally position-weighted) bags of word vectors."""

import keras
import tensorflow as tf
from keras import ops

from vqa_tf.layers.weight_arguments import initializer_for_weight, serialize_argument


@keras.saving.register_keras_serializable(package="vqa_tf")
class BagOfWords(keras.layers.Layer):
    """Q = Σ_j w_j v_j (+ b_Q) over the real words of a question.

    With `max_length` set, w_j is one learned scalar per word position, as in
    SMem-VQA's question vector, and questions may be at most `max_length`
    tokens long. Without it, w_j = 1: the plain bag of words of iBOWIMG.

    Args:
        max_length: number of learned position weights, or None for none.
        use_bias: whether to add a learned bias b_Q.
        position_weights_initializer: initializer of the position weights
            (a name, config or instance).
        bias_initializer: initializer of b_Q.

    Call args:
        word_vectors: [batch, T, N].
        word_mask: [batch, T] bool, True on real words.

    Examples:
    >>> layer = BagOfWords(max_length=25, use_bias=True)
    >>> layer(np.ones((2, 6, 8), "float32"), np.ones((2, 6), bool)).shape
    TensorShape([2, 8])
    """

    def __init__(
        self, max_length=None, use_bias=False, position_weights_initializer="ones", bias_initializer="zeros", **kwargs
    ):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.use_bias = use_bias
        self.position_weights_initializer = position_weights_initializer
        self.bias_initializer = bias_initializer

    def build(self, word_vectors_shape, word_mask_shape=None):
        if self.max_length is not None:
            self.position_weights = self.add_weight(
                name="position_weights",
                shape=(self.max_length,),
                initializer=initializer_for_weight(self.position_weights_initializer),
            )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(word_vectors_shape[-1],), initializer=initializer_for_weight(self.bias_initializer)
            )

    def call(self, word_vectors, word_mask):
        weights = ops.cast(word_mask, word_vectors.dtype)
        if self.max_length is not None:
            weights = weights * self._position_weights_for(ops.shape(word_vectors)[1])
        question = ops.sum(word_vectors * weights[..., None], axis=1)
        if self.use_bias:
            question = question + self.bias
        return question

    def _position_weights_for(self, length):
        message = f"the question has more token positions than max_length={self.max_length}"
        if isinstance(length, int):
            if length > self.max_length:
                raise ValueError(f"{message}: got {length}.")
            return self.position_weights[:length]
        with tf.control_dependencies([tf.debugging.assert_less_equal(length, self.max_length, message=message)]):
            return self.position_weights[:length]

    def compute_output_shape(self, word_vectors_shape, word_mask_shape=None):
        return (word_vectors_shape[0], word_vectors_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_length": self.max_length,
                "use_bias": self.use_bias,
                "position_weights_initializer": serialize_argument(self.position_weights_initializer),
                "bias_initializer": serialize_argument(self.bias_initializer),
            }
        )
        return config
