"""Recall@K and median rank for image-text retrieval (Flickr30K, MS-COCO).

Ranks are 1-based. A wrong candidate that ties the correct one is ranked above
it, so a model that scores everything alike gets no credit. Recalls are
fractions in [0, 1] (papers print 100 times them).
"""

import numpy as np


def _check(similarity, caption_to_image):
    similarity = np.asarray(similarity)
    caption_to_image = np.asarray(caption_to_image)
    if similarity.ndim != 2:
        raise ValueError(f"similarity must be [num_images, num_captions], got shape {similarity.shape}")
    if not np.isfinite(similarity).all():
        raise ValueError("similarity holds NaN or infinite scores")
    num_images, num_captions = similarity.shape
    if caption_to_image.shape != (num_captions,):
        raise ValueError(
            f"caption_to_image must have one image index per caption ({num_captions}), "
            f"got shape {caption_to_image.shape}"
        )
    integer = np.issubdtype(caption_to_image.dtype, np.integer)
    if not integer or np.any((caption_to_image < 0) | (caption_to_image >= num_images)):
        raise ValueError(f"caption_to_image must hold integer image indices in [0, {num_images})")
    return similarity, caption_to_image


def image_to_text_ranks(similarity, caption_to_image):
    """Rank, for each image, of its best-ranked own caption among all captions.

    Args:
        similarity: [num_images, num_captions] scores, higher = more similar.
        caption_to_image: [num_captions] index of each caption's image.

    Returns:
        [num_images] int ranks, 1 = first.

    Examples:
    >>> s = np.array([[0.9, 0.1, 0.8], [0.7, 0.6, 0.2]])
    >>> image_to_text_ranks(s, [0, 0, 1]).tolist()
    [1, 3]
    """
    similarity, caption_to_image = _check(similarity, caption_to_image)
    own = caption_to_image[None, :] == np.arange(similarity.shape[0])[:, None]
    if not own.any(axis=1).all():
        raise ValueError(f"images {np.flatnonzero(~own.any(axis=1)).tolist()} have no caption")
    best_own = np.where(own, similarity, -np.inf).max(axis=1)
    return 1 + np.sum(~own & (similarity >= best_own[:, None]), axis=1)


def text_to_image_ranks(similarity, caption_to_image):
    """Rank, for each caption, of its own image among all images.

    Takes the same arguments as `image_to_text_ranks`; returns [num_captions] ranks.

    Examples:
    >>> s = np.array([[0.9, 0.1, 0.8], [0.7, 0.6, 0.2]])
    >>> text_to_image_ranks(s, [0, 0, 1]).tolist()
    [1, 2, 2]
    """
    similarity, caption_to_image = _check(similarity, caption_to_image)
    own_score = similarity[caption_to_image, np.arange(similarity.shape[1])]
    return np.sum(similarity >= own_score[None, :], axis=0)  # counts the own image too


def rank_metrics(ranks, ks=(1, 5, 10)):
    """{"r@k": fraction of ranks ≤ k for each k, "median_rank": median rank, rounded down}.

    Rounding down, floor(median), is the usual convention in retrieval papers.

    Examples:
    >>> rank_metrics([1, 1, 3, 12], ks=(1, 5))
    {'r@1': 0.5, 'r@5': 0.75, 'median_rank': 2.0}
    """
    ranks = np.asarray(ranks)
    if ranks.size == 0:
        raise ValueError("there are no ranks to summarize")
    metrics = {f"r@{k}": float(np.mean(ranks <= k)) for k in ks}
    metrics["median_rank"] = float(np.floor(np.median(ranks)))
    return metrics


def retrieval_metrics(similarity, caption_to_image, ks=(1, 5, 10)):
    """Recall@K and median rank in both directions.

    Args:
        similarity: [num_images, num_captions] scores, higher = more similar.
        caption_to_image: [num_captions] index of each caption's image.
        ks: the K of each Recall@K.

    Returns:
        {"image_to_text": rank_metrics(...), "text_to_image": rank_metrics(...)}.

    Examples:
    >>> s = np.array([[0.9, 0.1, 0.8], [0.7, 0.6, 0.2]])
    >>> retrieval_metrics(s, [0, 0, 1], ks=(1,))
    {'image_to_text': {'r@1': 0.5, 'median_rank': 2.0},
     'text_to_image': {'r@1': 0.3333333333333333, 'median_rank': 2.0}}
    """
    return {
        "image_to_text": rank_metrics(image_to_text_ranks(similarity, caption_to_image), ks),
        "text_to_image": rank_metrics(text_to_image_ranks(similarity, caption_to_image), ks),
    }
