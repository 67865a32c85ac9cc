"""iBOWIMG: the bag-of-words + pooled-image baseline (Zhou et al., 2015)."""

import keras

from vqa_tf.layers import AttentionMaps, BagOfWords, Dropout, MeanRegionPool, WordEmbedding
from vqa_tf.layers.weight_arguments import serialize_argument
from vqa_tf.models.multimodal_model import (
    IMAGE_FEATURES,
    TOKEN_IDS,
    MultimodalModel,
    answer_logits,
    grid_regions,
    grid_text_inputs,
)


@keras.saving.register_keras_serializable(package="vqa_tf")
class IBowImg(MultimodalModel):
    """Bag of question-word embeddings ⊕ mean-pooled image → one softmax layer.

    It has no spatial information. Its `attention` output is the uniform map
    that mean pooling reads the image with, [batch, 1, grid_height, grid_width].

    Args:
        vocab_size: number of token ids, padding id included.
        num_answers: size of the answer vocabulary.
        grid_height, grid_width, feature_dim: shape of the region grid.
        embedding_dim: size of the word embeddings.
        dropout: dropout before the softmax layer.
        padding_id: the token id that marks padding.
        kernel_regularizer: regularizer of the word embeddings and the
            answer layer's kernel, or None; training sets it from
            `optimizer.weight_decay`.
        dtype: the dtype policy of the layers; the logits and the attention
            map are float32 under every policy.

    The settings the SMem paper compares against are the defaults of
    `vqa_tf.configs.IBowImgConfig`.

    Examples:
    >>> model = IBowImg(vocab_size=100, num_answers=10, grid_height=4, grid_width=4,
    ...                 feature_dim=32, embedding_dim=16)
    >>> out = model({"image_features": np.zeros((2, 4, 4, 32), "float32"),
    ...              "token_ids": np.array([[5, 6, 0], [7, 0, 0]])})
    >>> out["logits"].shape, out["attention"].shape
    (TensorShape([2, 10]), TensorShape([2, 1, 4, 4]))
    """

    def __init__(
        self,
        vocab_size,
        num_answers,
        grid_height,
        grid_width,
        feature_dim,
        embedding_dim,
        dropout=0.0,
        padding_id=0,
        kernel_regularizer=None,
        dtype=None,
        **kwargs,
    ):
        # === Functional Model ===
        inputs = grid_text_inputs(grid_height, grid_width, feature_dim)
        regions = grid_regions(inputs[IMAGE_FEATURES], dtype=dtype)
        image, weights = MeanRegionPool(dtype=dtype, name="image_pool")(regions)
        words, word_mask = WordEmbedding(
            vocab_size,
            embedding_dim,
            padding_id,
            embeddings_regularizer=kernel_regularizer,
            dtype=dtype,
            name="word_embedding",
        )(inputs[TOKEN_IDS])
        question = BagOfWords(dtype=dtype, name="bag_of_words")(words, word_mask)
        joint = keras.layers.Concatenate(dtype=dtype, name="joint")([question, image])
        joint = Dropout(dropout, dtype=dtype, name="classifier_dropout")(joint)
        logits = answer_logits(num_answers, kernel_regularizer)(joint)
        attention = AttentionMaps(grid_height, grid_width, dtype="float32", name="attention_maps")([weights])
        super().__init__(inputs=inputs, outputs={"logits": logits, "attention": attention}, dtype=dtype, **kwargs)

        # === Config ===
        self.vocab_size = vocab_size
        self.num_answers = num_answers
        self.grid_height = grid_height
        self.grid_width = grid_width
        self.feature_dim = feature_dim
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.padding_id = padding_id
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
                "dropout": self.dropout,
                "padding_id": self.padding_id,
                "kernel_regularizer": serialize_argument(self.kernel_regularizer),
            }
        )
        return config
