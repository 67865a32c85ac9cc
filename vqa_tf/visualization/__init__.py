"""Figures of what the models look at."""

from vqa_tf.visualization.attention import render_attention_figure

__all__ = ["render_attention_figure"]
