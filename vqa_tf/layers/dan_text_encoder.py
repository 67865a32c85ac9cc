"""DAN's question/caption encoder: word embedding → bidirectional LSTM."""

import keras
import tensorflow as tf

from vqa_tf.layers.weight_arguments import initializer_for_weight, regularizer_for_weight, serialize_argument
from vqa_tf.layers.word_embedding import WordEmbedding


@keras.saving.register_keras_serializable(package="vqa_tf")
class DanTextEncoder(keras.layers.Layer):
    """u_t = h_t^f + h_t^b: a bidirectional LSTM whose two directions are summed.

    Padding is masked: the backward LSTM starts at each question's last real
    word, and padded positions output zeros.

    Args:
        vocab_size: number of token ids, padding id included.
        embedding_dim: word embedding size (512 in the paper).
        hidden_dim: LSTM state size per direction (512 in the paper).
        padding_id: the id that marks padding.
        embeddings_initializer: initializer of the word embeddings.
        kernel_initializer: initializer of the LSTMs' input kernels.
        recurrent_initializer: initializer of the LSTMs' recurrent kernels.
        kernel_regularizer: regularizer of the word embeddings and of both
            LSTM kernels, or None.

    Returns:
        (u [batch, T, hidden_dim], word_mask [batch, T] bool).

    Examples:
    >>> encoder = DanTextEncoder(vocab_size=100, embedding_dim=16, hidden_dim=8)
    >>> u, word_mask = encoder(np.array([[4, 7, 9, 0]]))
    >>> u.shape
    TensorShape([1, 4, 8])
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim=512,
        hidden_dim=512,
        padding_id=0,
        embeddings_initializer="random_uniform",
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.padding_id = padding_id
        self.embeddings_initializer = embeddings_initializer
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.kernel_regularizer = kernel_regularizer

    def build(self, token_ids_shape):
        self.word_embedding = WordEmbedding(
            self.vocab_size,
            self.embedding_dim,
            self.padding_id,
            embeddings_initializer=self.embeddings_initializer,
            embeddings_regularizer=self.kernel_regularizer,
            dtype=self.dtype_policy,
            name="word_embedding",
        )
        lstm = keras.layers.LSTM(
            self.hidden_dim,
            return_sequences=True,
            kernel_initializer=initializer_for_weight(self.kernel_initializer),
            recurrent_initializer=initializer_for_weight(self.recurrent_initializer),
            kernel_regularizer=regularizer_for_weight(self.kernel_regularizer),
            recurrent_regularizer=regularizer_for_weight(self.kernel_regularizer),
            dtype=self.dtype_policy,
        )
        self.lstm = keras.layers.Bidirectional(
            lstm, merge_mode="sum", dtype=self.dtype_policy, name="bidirectional_lstm"
        )
        self.word_embedding.build(token_ids_shape)
        self.lstm.build(tuple(token_ids_shape) + (self.embedding_dim,))

    def call(self, token_ids, training=None):
        vectors, word_mask = self.word_embedding(token_ids)
        encoded = self.lstm(vectors, mask=word_mask, training=training)
        # The mask travels explicitly as the second output; drop the implicit
        # Keras mask the LSTM attached so that downstream layers see one mask.
        return tf.identity(encoded), word_mask

    def compute_output_spec(self, token_ids, training=None):
        shape = tuple(token_ids.shape)
        return (
            keras.KerasTensor(shape + (self.hidden_dim,), dtype=self.compute_dtype),
            keras.KerasTensor(shape, dtype="bool"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim,
                "padding_id": self.padding_id,
                "embeddings_initializer": serialize_argument(self.embeddings_initializer),
                "kernel_initializer": serialize_argument(self.kernel_initializer),
                "recurrent_initializer": serialize_argument(self.recurrent_initializer),
                "kernel_regularizer": serialize_argument(self.kernel_regularizer),
            }
        )
        return config
