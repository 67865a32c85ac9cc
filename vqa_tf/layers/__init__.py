"""Keras layers of SMem-VQA, DAN and iBOWIMG, all registered under `vqa_tf>`."""

from vqa_tf.layers.attention_maps import AttentionMaps, MeanRegionPool
from vqa_tf.layers.bag_of_words import BagOfWords
from vqa_tf.layers.dan_text_encoder import DanTextEncoder
from vqa_tf.layers.dropout import Dropout
from vqa_tf.layers.dual_attention import (
    TextualAttentionStart,
    TextualAttentionStep,
    VisualAttentionStart,
    VisualAttentionStep,
)
from vqa_tf.layers.region_embedding import RegionEmbedding
from vqa_tf.layers.spatial_memory import QuestionGuidedHop, WordGuidedHop
from vqa_tf.layers.word_embedding import WordEmbedding
from vqa_tf.layers.word_filter import WordFilter

__all__ = [
    "AttentionMaps",
    "BagOfWords",
    "DanTextEncoder",
    "Dropout",
    "MeanRegionPool",
    "QuestionGuidedHop",
    "RegionEmbedding",
    "TextualAttentionStart",
    "TextualAttentionStep",
    "VisualAttentionStart",
    "VisualAttentionStep",
    "WordEmbedding",
    "WordFilter",
    "WordGuidedHop",
]
