"""The weights every attention layer scores with and the read it ends with."""

from keras import ops

from vqa_tf.layers.masking import masked_softmax


def attention_weights(scores, mask=None):
    """Softmax of `scores` [B, N] over N, in float32, restricted to `mask` [B, N] where given.

    Under mixed precision the scores arrive in bfloat16; the softmax runs in
    float32 so that small weights keep their precision.

    Examples:
    >>> np.asarray(attention_weights(np.zeros((1, 4), "float32"), np.array([[True, True, False, False]]))).tolist()
    [[0.5, 0.5, 0.0, 0.0]]
    """
    scores = ops.cast(scores, "float32")
    return ops.softmax(scores, axis=-1) if mask is None else masked_softmax(scores, mask, axis=-1)


def attention_read(weights, values):
    """Σ_n weights_n · values_n for weights [B, N] and values [B, N, D] → [B, D], in the values' dtype.

    Examples:
    >>> weights, values = np.array([[0.25, 0.75]], "float32"), np.array([[[4.0, 0.0], [0.0, 4.0]]], "float32")
    >>> np.asarray(attention_read(weights, values)).tolist()
    [[1.0, 3.0]]
    """
    weights = ops.cast(weights, values.dtype)
    return ops.squeeze(ops.matmul(weights[:, None, :], values), axis=1)
