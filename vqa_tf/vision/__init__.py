"""CNN backbones and image decoding for grid features."""

from vqa_tf.vision.backbones import BACKBONES, BackboneSpec, CaffePreprocessing, build_backbone, grid_shape
from vqa_tf.vision.image_ops import decode_image, header_size, load_image, load_images, resize_image

__all__ = [
    "BACKBONES",
    "BackboneSpec",
    "CaffePreprocessing",
    "build_backbone",
    "grid_shape",
    "header_size",
    "decode_image",
    "load_image",
    "load_images",
    "resize_image",
]
