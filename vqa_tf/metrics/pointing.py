"""Attention pointing accuracy: does the highest-weight region fall on the evidence object?"""

import numpy as np


def points_at(attention_map, mask):
    """True if the argmax region of `attention_map` [h, w] overlaps `mask` [H, W].

    Region (i, j) covers pixel rows i·H/h … (i+1)·H/h and the matching
    columns; it counts as inside the object if any mask pixel lies in it.

    Example:
    >>> mask = np.zeros((8, 8), bool); mask[0:2, 6:8] = True
    >>> points_at(np.array([[0.1, 0.6], [0.2, 0.1]]), mask)
    True
    """
    h, w = attention_map.shape
    i, j = np.unravel_index(int(np.argmax(attention_map)), (h, w))
    rows, cols = mask.shape[0] // h, mask.shape[1] // w
    return bool(mask[i * rows : (i + 1) * rows, j * cols : (j + 1) * cols].any())


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

    Example:
    >>> mask = np.zeros((4, 4), bool); mask[:2, :2] = True
    >>> maps = np.array([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.0, 1.0], [0.0, 0.0]]]])
    >>> pointing_accuracy(maps, [mask, mask], ["a", "a"])
    {'a': [0.5], 'overall': [0.5]}
    """
    hits = {}
    for maps, mask, group in zip(attention, masks, groups):
        if mask is None:
            continue
        row = [points_at(hop, mask) for hop in maps]
        hits.setdefault(group, []).append(row)
        hits.setdefault("overall", []).append(row)
    return {group: np.mean(rows, axis=0).tolist() for group, rows in sorted(hits.items(), key=lambda kv: kv[0] == "overall")}
