"""Drops chosen words from a question's word mask."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vqa_tf")
class WordFilter(keras.layers.Layer):
    """The word mask with the positions of `skip_token_ids` set to False.

    Args:
        skip_token_ids: the token ids to drop.

    Call args:
        token_ids: [batch, T] int token ids.
        word_mask: [batch, T] bool, True on real words.

    Returns:
        [batch, T] bool: `word_mask` and not one of `skip_token_ids`.

    Examples:
    >>> mask = WordFilter([3, 4])(np.array([[3, 5, 4, 0]]), np.array([[True, True, True, False]]))
    >>> mask.numpy().tolist()
    [[False, True, False, False]]
    """

    def __init__(self, skip_token_ids, **kwargs):
        super().__init__(**kwargs)
        self.skip_token_ids = [int(i) for i in skip_token_ids]

    def call(self, token_ids, word_mask):
        token_ids = ops.cast(token_ids, "int32")
        skipped = ops.any(ops.equal(token_ids[..., None], ops.array(self.skip_token_ids, "int32")), axis=-1)
        return ops.logical_and(word_mask, ops.logical_not(skipped))

    def get_config(self):
        config = super().get_config()
        config.update({"skip_token_ids": self.skip_token_ids})
        return config

    def compute_output_spec(self, token_ids, word_mask):
        return keras.KerasTensor(word_mask.shape, dtype="bool")
