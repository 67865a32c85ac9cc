"""Bidirectional ranking loss for image-text matching (m-DAN)."""

import tensorflow as tf
from keras import ops

NEGATIVES = ("sampled", "all", "hardest")


def bidirectional_ranking_loss(similarity, margin=100.0, negatives="sampled", image_ids=None, seed=None):
    """Per-example hinge loss with in-batch negatives, in both directions.

    For the aligned pair (i, i) of a similarity matrix S[i, j] = S(image_i,
    caption_j), each negative caption j (of another image) costs
    max(0, margin − S_ii + S_ij) and each negative image j costs
    max(0, margin − S_ii + S_ji). A pair whose image is the same as pair i's
    (another caption of the same image, as Flickr30K and COCO have five) is a
    positive and never counts as a negative. `negatives` says which of them
    count:

    * "sampled": one negative caption and one negative image drawn at random
      per pair, the quadruplets (v, u, v⁻, u⁻) the m-DAN paper trains on;
    * "all": the sum over every negative in the batch (a later convention);
    * "hardest": the largest term of each sum (VSE++, later than DAN).

    A pair with no negative in the batch costs nothing.

    Args:
        similarity: [batch, batch] scores; row = image, column = caption.
        margin: the hinge margin (100 in the m-DAN paper, whose scores are
            unnormalised dot products).
        negatives: "sampled", "all" or "hardest".
        image_ids: [batch] the image of each pair; None if every pair has
            its own image.
        seed: the op seed of the draw for "sampled" (with the global seed,
            which `keras.utils.set_random_seed` sets, it fixes the draws).

    Returns:
        [batch] per-example losses, ready for `tf.nn.compute_average_loss`.

    Examples:
    >>> s = np.array([[5.0, 4.0, 1.0], [4.5, 5.0, 1.0], [0.0, 0.0, 3.0]], "float32")
    >>> bidirectional_ranking_loss(s, margin=2.0, negatives="all").numpy().tolist()
    [2.5, 2.5, 0.0]
    >>> bidirectional_ranking_loss(s, margin=2.0, negatives="all", image_ids=np.array([7, 7, 8])).numpy().tolist()
    [0.0, 0.0, 0.0]
    """
    if negatives not in NEGATIVES:
        raise ValueError(f"negatives must be one of {', '.join(NEGATIVES)}; got {negatives!r}")
    positive = ops.diagonal(similarity)
    if image_ids is None:
        is_negative = 1.0 - ops.eye(ops.shape(similarity)[0], dtype=similarity.dtype)
    else:
        is_negative = ops.cast(ops.not_equal(image_ids[:, None], image_ids[None, :]), similarity.dtype)
    caption_hinge = ops.relu(margin - positive[:, None] + similarity) * is_negative
    image_hinge = ops.transpose(ops.relu(margin - positive[None, :] + similarity) * is_negative)
    if negatives == "all":
        return ops.sum(caption_hinge, axis=1) + ops.sum(image_hinge, axis=1)
    if negatives == "hardest":
        return ops.max(caption_hinge, axis=1) + ops.max(image_hinge, axis=1)
    return _one_drawn(caption_hinge, is_negative, seed) + _one_drawn(image_hinge, ops.transpose(is_negative), seed)


def _one_drawn(hinge, is_negative, seed):
    """Per row, the hinge of one negative drawn uniformly from the row's negatives (0 if it has none)."""
    noise = tf.random.uniform(tf.shape(hinge), minval=1.0, maxval=2.0, dtype=hinge.dtype, seed=seed)
    chosen = ops.argmax(noise * is_negative, axis=1)
    return ops.take_along_axis(hinge, chosen[:, None], axis=1)[:, 0]
