import numpy as np
import pytest

from vqa_tf.metrics import image_to_text_ranks, rank_metrics, retrieval_metrics, text_to_image_ranks

# 3 images with 2 captions each; row = image, column = caption.
CAPTION_TO_IMAGE = [0, 0, 1, 1, 2, 2]
SIMILARITY = np.array(
    [
        [0.9, 0.2, 0.5, 0.1, 0.3, 0.0],
        [0.8, 0.7, 0.6, 0.75, 0.1, 0.2],
        [0.4, 0.95, 0.9, 0.85, 0.3, 0.2],
    ]
)


def test_image_to_text_ranks_by_best_own_caption():
    # Image 0: own best 0.9, no other caption above → 1.
    # Image 1: own best 0.75 (caption 3); caption 0 (0.8) is above → 2.
    # Image 2: own best 0.3 (caption 4); captions 0-3 (0.4, 0.95, 0.9, 0.85) are above → 5.
    assert image_to_text_ranks(SIMILARITY, CAPTION_TO_IMAGE).tolist() == [1, 2, 5]


def test_text_to_image_ranks_count_ties_against_the_model():
    # Columns: caption 0 → image 0 first (1); caption 1 (0.2 vs 0.7, 0.95) → 3;
    # caption 2 (0.6 vs 0.9) → 2; caption 3 (0.75 vs 0.85) → 2;
    # caption 4 ties image 0 at 0.3 → 2; caption 5 ties image 1 at 0.2 → 2.
    assert text_to_image_ranks(SIMILARITY, CAPTION_TO_IMAGE).tolist() == [1, 3, 2, 2, 2, 2]


def test_constant_scores_rank_last():
    similarity = np.ones((3, 3))
    assert image_to_text_ranks(similarity, [0, 1, 2]).tolist() == [3, 3, 3]
    assert text_to_image_ranks(similarity, [0, 1, 2]).tolist() == [3, 3, 3]


def test_retrieval_metrics_both_directions():
    result = retrieval_metrics(SIMILARITY, CAPTION_TO_IMAGE, ks=(1, 2, 5))
    assert result["image_to_text"] == pytest.approx({"r@1": 1 / 3, "r@2": 2 / 3, "r@5": 1.0, "median_rank": 2.0})
    assert result["text_to_image"] == pytest.approx({"r@1": 1 / 6, "r@2": 5 / 6, "r@5": 1.0, "median_rank": 2.0})


def test_rank_metrics_recall_and_median():
    ranks = [1, 4, 6, 10, 11, 30]
    assert rank_metrics(ranks) == pytest.approx({"r@1": 1 / 6, "r@5": 2 / 6, "r@10": 4 / 6, "median_rank": 8.0})
    assert rank_metrics([3, 1, 2])["median_rank"] == 2.0
    assert rank_metrics([1, 2])["median_rank"] == 1.0  # median 1.5, rounded down
    with pytest.raises(ValueError, match="no ranks"):
        rank_metrics([])


def test_ranks_match_sorting(rng):
    # Without ties, a rank is the position of the first correct item in a descending sort.
    caption_to_image = np.repeat(np.arange(8), 5)
    similarity = rng.normal(size=(8, 40))
    order = np.argsort(-similarity, axis=1)
    expected_i2t = [1 + np.flatnonzero(caption_to_image[order[i]] == i)[0] for i in range(8)]
    expected_t2i = [1 + np.flatnonzero(np.argsort(-similarity[:, j]) == caption_to_image[j])[0] for j in range(40)]
    assert image_to_text_ranks(similarity, caption_to_image).tolist() == expected_i2t
    assert text_to_image_ranks(similarity, caption_to_image).tolist() == expected_t2i


@pytest.mark.parametrize(
    "similarity, caption_to_image, message",
    [
        (np.zeros((2, 3, 1)), [0, 0, 1], "must be \\[num_images, num_captions\\]"),
        (np.zeros((2, 3)), [0, 1], "one image index per caption"),
        (np.zeros((2, 3)), [0, 1, 2], "integer image indices in \\[0, 2\\)"),
        (np.zeros((2, 3)), [0.0, 1.0, 1.0], "integer image indices"),
        (np.zeros((3, 3)), [0, 0, 1], "images \\[2\\] have no caption"),
        (np.full((2, 2), np.nan), [0, 1], "NaN"),
    ],
)
def test_bad_input(similarity, caption_to_image, message):
    with pytest.raises(ValueError, match=message):
        image_to_text_ranks(similarity, caption_to_image)
