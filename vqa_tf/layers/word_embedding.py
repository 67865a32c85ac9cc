"""Word embedding with a padding id that embeds to zero and a range check."""

import keras
import tensorflow as tf
from keras import ops

from vqa_tf.layers.weight_arguments import initializer_for_weight, regularizer_for_weight, serialize_argument


@keras.saving.register_keras_serializable(package="vqa_tf")
class WordEmbedding(keras.layers.Layer):
    """Embeds token ids; padding ids embed to zero and are reported in a mask.

    Ids outside `[0, vocab_size)` raise `InvalidArgumentError` naming the
    vocabulary size, instead of the silent zeros some devices return.

    Args:
        vocab_size: number of token ids, padding id included.
        embedding_dim: size of each word vector.
        padding_id: the id that marks padding.
        embeddings_initializer: initializer of the table (a name, config or
            instance); uniform in ±0.05 by default.
        embeddings_regularizer: regularizer of the table, or None.

    Examples:
    >>> layer = WordEmbedding(vocab_size=10, embedding_dim=4)
    >>> vectors, word_mask = layer(np.array([[3, 5, 0, 0]]))
    >>> vectors.shape, word_mask.numpy().tolist()
    (TensorShape([1, 4, 4]), [[True, True, False, False]])
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim,
        padding_id=0,
        embeddings_initializer="random_uniform",
        embeddings_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0 <= padding_id < vocab_size:
            raise ValueError(f"padding_id={padding_id} must lie in [0, vocab_size={vocab_size}).")
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.padding_id = padding_id
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = embeddings_regularizer

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.vocab_size, self.embedding_dim),
            initializer=initializer_for_weight(self.embeddings_initializer),
            regularizer=regularizer_for_weight(self.embeddings_regularizer),
        )

    def call(self, token_ids):
        token_ids = ops.cast(token_ids, "int32")
        checks = [
            tf.debugging.assert_non_negative(token_ids, message="token_ids must be non-negative"),
            tf.debugging.assert_less(
                token_ids,
                self.vocab_size,
                message=f"token_ids must be smaller than vocab_size={self.vocab_size}",
            ),
        ]
        with tf.control_dependencies(checks):
            vectors = ops.take(self.embeddings, token_ids, axis=0)
        word_mask = ops.not_equal(token_ids, self.padding_id)
        vectors = vectors * ops.cast(word_mask, vectors.dtype)[..., None]
        return vectors, word_mask

    def compute_output_spec(self, token_ids):
        shape = tuple(token_ids.shape)
        return (
            keras.KerasTensor(shape + (self.embedding_dim,), dtype=self.compute_dtype),
            keras.KerasTensor(shape, dtype="bool"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "embedding_dim": self.embedding_dim,
                "padding_id": self.padding_id,
                "embeddings_initializer": serialize_argument(self.embeddings_initializer),
                "embeddings_regularizer": serialize_argument(self.embeddings_regularizer),
            }
        )
        return config
