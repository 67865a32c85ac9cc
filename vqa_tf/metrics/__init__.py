"""Evaluation measures: VQA accuracy, DAQUAR's WUPS, Recall@K / median rank, attention against the evidence."""

from vqa_tf.metrics.pointing import (
    attention_entropy,
    evidence_cells,
    evidence_weight,
    pointing_accuracy,
    points_at,
    same_argmax_share,
)
from vqa_tf.metrics.retrieval import image_to_text_ranks, rank_metrics, retrieval_metrics, text_to_image_ranks
from vqa_tf.metrics.vqa_accuracy import evaluate_vqa, normalize_answer, vqa_accuracy
from vqa_tf.metrics.wups import WordNet, evaluate_wups, load_wordnet, word_wups, wups_score

__all__ = [
    "attention_entropy",
    "evidence_cells",
    "evidence_weight",
    "pointing_accuracy",
    "points_at",
    "same_argmax_share",
    "image_to_text_ranks",
    "rank_metrics",
    "retrieval_metrics",
    "text_to_image_ranks",
    "evaluate_vqa",
    "normalize_answer",
    "vqa_accuracy",
    "WordNet",
    "evaluate_wups",
    "load_wordnet",
    "word_wups",
    "wups_score",
]
