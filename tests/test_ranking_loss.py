import numpy as np
import pytest

import numpy_reference as ref
from vqa_tf.losses import bidirectional_ranking_loss


@pytest.mark.parametrize("hardest_negative", [True, False])
def test_ranking_loss_matches_reference(rng, hardest_negative):
    similarity = rng.normal(scale=3.0, size=(6, 6)).astype("float32")
    actual = np.asarray(bidirectional_ranking_loss(similarity, margin=2.0, hardest_negative=hardest_negative))
    np.testing.assert_allclose(actual, ref.ranking_loss(similarity.astype(np.float64), 2.0, hardest_negative), rtol=1e-5, atol=1e-5)


def test_ranking_loss_hand_worked():
    # Margin 2. Pair 0 (positive 5): caption negative S[0,1] = 4 gives 2 − 5 + 4 = 1;
    # image negative S[1,0] = 1 gives 2 − 5 + 1 < 0, so 0. Pair 1 (positive 3): caption
    # negative S[1,0] = 1 gives 0; image negative S[0,1] = 4 gives 2 − 3 + 4 = 3.
    similarity = np.array([[5.0, 4.0], [1.0, 3.0]], "float32")
    np.testing.assert_allclose(np.asarray(bidirectional_ranking_loss(similarity, margin=2.0)), [1.0, 3.0])
