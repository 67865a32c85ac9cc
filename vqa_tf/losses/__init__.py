from vqa_tf.losses.attention import evidence_attention_loss
from vqa_tf.losses.ranking import bidirectional_ranking_loss

__all__ = ["bidirectional_ranking_loss", "evidence_attention_loss"]
