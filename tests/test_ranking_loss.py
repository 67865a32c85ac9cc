import numpy as np
import numpy_reference as ref
import pytest

from vqa_tf.losses import bidirectional_ranking_loss


@pytest.mark.parametrize("negatives", ["all", "hardest"])
@pytest.mark.parametrize("image_ids", [None, [3, 3, 5, 3, 9, 5]])
def test_ranking_loss_matches_reference(rng, negatives, image_ids):
    similarity = rng.normal(scale=3.0, size=(6, 6)).astype("float32")
    ids = None if image_ids is None else np.array(image_ids)
    actual = np.asarray(bidirectional_ranking_loss(similarity, 2.0, negatives, ids))
    expected = ref.ranking_loss(similarity.astype(np.float64), 2.0, negatives == "hardest", image_ids)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("image_ids", [None, [3, 3, 5, 3, 9, 5]])
def test_the_papers_sampled_negatives_draw_one_negative_caption_and_image_per_pair(rng, image_ids):
    """Each pair's loss is one caption term plus one image term, each of a negative drawn uniformly."""
    similarity = rng.normal(scale=3.0, size=(6, 6)).astype("float64")
    ids = list(range(6)) if image_ids is None else image_ids
    terms = ref.hinge_terms(similarity, 2.0, ids)  # {pair: (caption terms, image terms)} over its negatives
    draws = np.stack(
        [
            np.asarray(
                bidirectional_ranking_loss(
                    similarity.astype("float32"),
                    2.0,
                    "sampled",
                    None if image_ids is None else np.array(image_ids),
                    seed=draw,
                )
            )
            for draw in range(400)
        ]
    )
    for i, (to_captions, to_images) in terms.items():
        possible = {round(a + b, 4) for a in to_captions for b in to_images}
        assert {round(float(x), 4) for x in draws[:, i]} <= possible, i
        # uniform draws: the mean is the mean caption term plus the mean image term
        expected = np.mean(to_captions) + np.mean(to_images)
        spread = np.std([a + b for a in to_captions for b in to_images]) + 1e-9
        assert abs(draws[:, i].mean() - expected) < 4 * spread / np.sqrt(len(draws)) + 1e-4, i


def test_an_unknown_loss_form_is_refused():
    with pytest.raises(ValueError, match="negatives must be one of sampled, all, hardest; got 'some'"):
        bidirectional_ranking_loss(np.eye(2, dtype="float32"), 1.0, "some")


def test_ranking_loss_hand_worked():
    # Margin 2, the paper's summed hinge. Pair 0 (positive 5): caption negative S[0,1] = 4 gives
    # 2 − 5 + 4 = 1; image negative S[1,0] = 1 gives 2 − 5 + 1 < 0, so 0. Pair 1 (positive 3):
    # caption negative S[1,0] = 1 gives 0; image negative S[0,1] = 4 gives 2 − 3 + 4 = 3.
    similarity = np.array([[5.0, 4.0], [1.0, 3.0]], "float32")
    np.testing.assert_allclose(
        np.asarray(bidirectional_ranking_loss(similarity, margin=2.0, negatives="all")), [1.0, 3.0]
    )


def test_other_captions_of_the_same_image_are_never_negatives():
    # Pairs 0 and 1 are two captions of image 7. Scored as a negative, caption 1 (4.5 against
    # image 0) would cost pair 0 a hinge of 2 − 5 + 4.5 = 1.5; as a positive it costs nothing.
    similarity = np.array([[5.0, 4.5, 0.0], [4.5, 5.0, 0.0], [0.0, 0.0, 5.0]], "float32")
    unmasked = np.asarray(bidirectional_ranking_loss(similarity, margin=2.0, negatives="all"))
    masked = np.asarray(
        bidirectional_ranking_loss(similarity, margin=2.0, negatives="all", image_ids=np.array([7, 7, 8]))
    )
    np.testing.assert_allclose(unmasked, [3.0, 3.0, 0.0])
    np.testing.assert_allclose(masked, [0.0, 0.0, 0.0])
