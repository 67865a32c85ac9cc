"""Bidirectional ranking loss for image-text matching (m-DAN)."""

from keras import ops


def bidirectional_ranking_loss(similarity, margin=100.0, hardest_negative=False, image_ids=None):
    """Per-example hinge loss with in-batch negatives, in both directions.

    For the aligned pair (i, i) of a similarity matrix S[i, j] = S(image_i,
    caption_j), the loss is Σ_j max(0, margin − S_ii + S_ij) over captions j
    of other images (negatives for image i) plus Σ_j max(0, margin − S_ii +
    S_ji) over images j other than image i (negatives for caption i), as in
    the m-DAN paper. A pair whose image is the same as pair i's (another
    caption of the same image, as Flickr30K and COCO have five) is a positive
    and never counts as a negative. With `hardest_negative` (VSE++, later
    than DAN), each sum keeps only its largest term.

    Args:
        similarity: [batch, batch] scores; row = image, column = caption.
        margin: the hinge margin (100 in the m-DAN paper, whose scores are
            unnormalised dot products).
        hardest_negative: keep the hardest negative instead of the sum.
        image_ids: [batch] the image of each pair; None if every pair has
            its own image.

    Returns:
        [batch] per-example losses, ready for `tf.nn.compute_average_loss`.

    Example:
    >>> s = np.array([[5.0, 4.0, 1.0], [4.5, 5.0, 1.0], [0.0, 0.0, 3.0]], "float32")
    >>> bidirectional_ranking_loss(s, margin=2.0).numpy().tolist()
    [2.5, 2.5, 0.0]
    >>> bidirectional_ranking_loss(s, margin=2.0, image_ids=np.array([7, 7, 8])).numpy().tolist()
    [0.0, 0.0, 0.0]
    """
    positive = ops.diagonal(similarity)
    if image_ids is None:
        is_negative = 1.0 - ops.eye(ops.shape(similarity)[0], dtype=similarity.dtype)
    else:
        is_negative = ops.cast(ops.not_equal(image_ids[:, None], image_ids[None, :]), similarity.dtype)
    caption_hinge = ops.relu(margin - positive[:, None] + similarity) * is_negative
    image_hinge = ops.relu(margin - positive[None, :] + similarity) * is_negative
    if hardest_negative:
        return ops.max(caption_hinge, axis=1) + ops.max(image_hinge, axis=0)
    return ops.sum(caption_hinge, axis=1) + ops.sum(image_hinge, axis=0)
