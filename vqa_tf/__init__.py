"""vqa_tf: Spatial Memory Networks and Dual Attention Networks in Keras 3 / TensorFlow."""

from vqa_tf import layers, losses, models, text, vision

__version__ = "0.1.0"
