"""Attention against the objects an answer rests on: pointing, weight on the evidence, entropy, question dependence.

A grid cell (i, j) of an [h, w] attention map covers pixel rows i·H/h …
(i+1)·H/h of an [H, W] image and the matching columns; it counts as on the
evidence if any pixel of the evidence mask lies in it.
"""

import numpy as np


def evidence_cells(mask, grid_shape):
    """Boolean [h, w]: the cells of a `grid_shape` grid that touch `mask` [H, W].

    Examples:
    >>> mask = np.zeros((8, 8), bool); mask[0:2, 6:8] = True
    >>> evidence_cells(mask, (2, 2)).tolist()
    [[False, True], [False, False]]
    """
    h, w = grid_shape
    rows, cols = mask.shape[0] // h, mask.shape[1] // w
    return mask[: h * rows, : w * cols].reshape(h, rows, w, cols).any(axis=(1, 3))


def points_at(attention_map, mask):
    """True if the argmax region of `attention_map` [h, w] overlaps `mask` [H, W].

    Examples:
    >>> mask = np.zeros((8, 8), bool); mask[0:2, 6:8] = True
    >>> points_at(np.array([[0.1, 0.6], [0.2, 0.1]]), mask)
    True
    """
    cells = evidence_cells(mask, attention_map.shape)
    return bool(cells.flat[int(np.argmax(attention_map))])


def _per_group(rows, groups):
    """{group: mean of its rows per column} plus "overall"; groups without rows are absent."""
    grouped = {}
    for row, group in zip(rows, groups):
        if row is None:
            continue
        grouped.setdefault(group, []).append(row)
        grouped.setdefault("overall", []).append(row)
    return {g: np.mean(r, axis=0).tolist() for g, r in sorted(grouped.items(), key=lambda kv: kv[0] == "overall")}


def pointing_accuracy(attention, masks, groups):
    """Per group and per hop, the share of questions whose attention points at their mask.

    Args:
        attention: [N, hops, h, w] attention maps.
        masks: N boolean masks [H, W], or None where the answer rests on no
            object (such questions are left out).
        groups: N group names (e.g. the synthetic task).

    Returns:
        {group: [accuracy of hop 1, hop 2, …]} plus "overall"; groups with no
        scorable question are absent.

    Examples:
    >>> mask = np.zeros((4, 4), bool); mask[:2, :2] = True
    >>> maps = np.array([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.0, 1.0], [0.0, 0.0]]]])
    >>> pointing_accuracy(maps, [mask, mask], ["a", "a"])
    {'a': [0.5], 'overall': [0.5]}
    """
    rows = [None if mask is None else [points_at(hop, mask) for hop in maps] for maps, mask in zip(attention, masks)]
    return _per_group(rows, groups)


def evidence_weight(attention, masks, groups):
    """Per group and per hop, the mean attention weight on the cells that touch the question's mask.

    Arguments as `pointing_accuracy`'s; a uniform map scores the share of
    cells on the evidence, a map wholly on it 1.

    Examples:
    >>> mask = np.zeros((4, 4), bool); mask[:2, :2] = True
    >>> maps = np.array([[[[0.7, 0.1], [0.1, 0.1]]]])
    >>> evidence_weight(maps, [mask], ["a"])
    {'a': [0.7], 'overall': [0.7]}
    """
    rows = [
        None if mask is None else [float(hop[evidence_cells(mask, hop.shape)].sum()) for hop in maps]
        for maps, mask in zip(attention, masks)
    ]
    return _per_group(rows, groups)


def attention_entropy(attention, groups):
    """Per group and per hop, the mean entropy (nats) of the attention maps; ln(h·w) for uniform maps.

    Examples:
    >>> maps = np.array([[[[0.25, 0.25], [0.25, 0.25]], [[1.0, 0.0], [0.0, 0.0]]]])
    >>> tuple(round(e, 4) for e in attention_entropy(maps, ["a"])["a"])
    (1.3863, 0.0)
    """
    flat = np.asarray(attention, np.float64).reshape(len(attention), np.shape(attention)[1], -1)
    entropy = -np.sum(np.where(flat > 0, flat * np.log(np.where(flat > 0, flat, 1.0)), 0.0), axis=-1)
    return _per_group(list(entropy), groups)


def same_argmax_share(attention, other_attention, groups):
    """Per group and per hop, the share of images whose argmax cell is the same under two questions.

    `attention` and `other_attention` are [N, hops, h, w] maps of the same N
    images, each asked another question: a hop whose map ignores the
    question scores 1.

    Examples:
    >>> a = np.array([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.0, 1.0], [0.0, 0.0]]]])
    >>> b = np.array([[[[1.0, 0.0], [0.0, 0.0]]], [[[1.0, 0.0], [0.0, 0.0]]]])
    >>> same_argmax_share(a, b, ["x", "x"])
    {'x': [0.5], 'overall': [0.5]}
    """
    first = np.asarray(attention).reshape(len(attention), np.shape(attention)[1], -1).argmax(-1)
    second = np.asarray(other_attention).reshape(len(other_attention), np.shape(other_attention)[1], -1).argmax(-1)
    return _per_group(list(first == second), groups)
