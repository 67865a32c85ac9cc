"""The read every attention layer ends with: the attention-weighted sum of its values."""

from keras import ops


def attention_read(weights, values):
    """Σ_n weights_n · values_n for weights [B, N] and values [B, N, D] → [B, D].

    Examples:
    >>> weights, values = np.array([[0.25, 0.75]], "float32"), np.array([[[4.0, 0.0], [0.0, 4.0]]], "float32")
    >>> np.asarray(attention_read(weights, values)).tolist()
    [[1.0, 3.0]]
    """
    return ops.squeeze(ops.matmul(weights[:, None, :], values), axis=1)
