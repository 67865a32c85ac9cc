"""Masked reductions shared by the attention layers.

Rows whose mask has no True entry (an all-padding question) give all-zero
softmax weights and a zero max or logsumexp, so they never produce NaN.
"""

from keras import ops


def _large_negative(dtype):
    # float16 overflows at -1e9; -6e4 still underflows exp() to exactly zero.
    return -6.0e4 if str(dtype) == "float16" else -1.0e9


def masked_softmax(logits, mask, axis=-1):
    """Softmax of `logits` over `axis`, restricted to positions where `mask`."""
    mask = ops.cast(mask, "bool")
    filled = ops.where(mask, logits, _large_negative(logits.dtype))
    weights = ops.softmax(filled, axis=axis)
    return ops.where(mask, weights, ops.zeros_like(weights))


def masked_max(values, mask, axis):
    """Max of `values` over `axis` among positions where `mask`; 0 if none."""
    mask = ops.cast(mask, "bool")
    filled = ops.where(mask, values, _large_negative(values.dtype))
    maximum = ops.max(filled, axis=axis)
    return ops.where(ops.any(mask, axis=axis), maximum, ops.zeros_like(maximum))


def masked_logsumexp(values, mask, axis):
    """log Σ exp(`values`) over `axis` among positions where `mask`; 0 if none."""
    mask = ops.cast(mask, "bool")
    filled = ops.where(mask, values, _large_negative(values.dtype))
    total = ops.logsumexp(filled, axis=axis)
    return ops.where(ops.any(mask, axis=axis), total, ops.zeros_like(total))


def masked_sum(values, mask, axis):
    """Sum of `values` over `axis` among positions where `mask`; 0 if none."""
    mask = ops.cast(mask, "bool")
    return ops.sum(ops.where(mask, values, ops.zeros_like(values)), axis=axis)


def masked_mean(values, mask, axis):
    """Mean of `values` [..., T, D] over `axis` among positions where `mask` [..., T]."""
    weights = ops.cast(mask, values.dtype)[..., None]
    total = ops.sum(values * weights, axis=axis)
    count = ops.maximum(ops.sum(weights, axis=axis), 1.0)
    return total / count
