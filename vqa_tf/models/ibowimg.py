"""iBOWIMG: the bag-of-words + pooled-image baseline (Zhou et al., 2015)."""

import keras

from vqa_tf.layers import AttentionMaps, BagOfWords, MeanRegionPool, WordEmbedding
from vqa_tf.models.multimodal_model import (
    IMAGE_FEATURES,
    TOKEN_IDS,
    MultimodalModel,
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
        **kwargs,
    ):
        inputs = grid_text_inputs(grid_height, grid_width, feature_dim)
        regions = grid_regions(inputs[IMAGE_FEATURES])
        image, weights = MeanRegionPool(name="image_pool")(regions)
        words, word_mask = WordEmbedding(vocab_size, embedding_dim, padding_id, name="word_embedding")(
            inputs[TOKEN_IDS]
        )
        question = BagOfWords(name="bag_of_words")(words, word_mask)
        joint = keras.layers.Concatenate(name="joint")([question, image])
        joint = keras.layers.Dropout(dropout, name="classifier_dropout")(joint)
        logits = keras.layers.Dense(num_answers, name="answer_logits")(joint)
        attention = AttentionMaps(grid_height, grid_width, name="attention_maps")([weights])
        super().__init__(inputs=inputs, outputs={"logits": logits, "attention": attention}, **kwargs)
        self.keep_arguments(locals())
