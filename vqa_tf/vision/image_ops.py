"""Image decoding and resizing in TensorFlow ops (graph-safe, servable)."""

import tensorflow as tf


def decode_image(image_bytes):
    """Encoded JPEG/PNG/GIF/BMP bytes (scalar tf.string) → uint8 [H, W, 3].

    Corrupt bytes raise `InvalidArgumentError` from the decoder.

    Example:
    >>> png = tf.io.encode_png(tf.zeros([4, 6, 3], tf.uint8))
    >>> decode_image(png).shape
    TensorShape([4, 6, 3])
    """
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def resize_image(image, image_size):
    """uint8 [H, W, 3] → float32 [image_size, image_size, 3] in [0, 255] (bilinear)."""
    resized = tf.image.resize(tf.cast(image, tf.float32), [image_size, image_size])
    return tf.clip_by_value(resized, 0.0, 255.0)


def load_image(image_bytes, image_size):
    """`resize_image(decode_image(image_bytes), image_size)`."""
    return resize_image(decode_image(image_bytes), image_size)


def load_images(image_bytes, image_size):
    """A batch of encoded images tf.string [batch] → float32 [batch, size, size, 3].

    Example:
    >>> png = tf.io.encode_png(tf.zeros([4, 6, 3], tf.uint8))
    >>> load_images(tf.stack([png, png]), 8).shape
    TensorShape([2, 8, 8, 3])
    """
    return tf.map_fn(
        lambda b: load_image(b, image_size),
        image_bytes,
        fn_output_signature=tf.TensorSpec([image_size, image_size, 3], tf.float32),
    )
