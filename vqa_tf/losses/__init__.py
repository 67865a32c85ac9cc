from vqa_tf.losses.ranking import bidirectional_ranking_loss

__all__ = ["bidirectional_ranking_loss"]
