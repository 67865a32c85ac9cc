"""Image decoding and resizing in TensorFlow ops (graph-safe, servable), bounded in memory.

Only JPEG and PNG are read, as the data checks (`vqa_tf.data.image_files`)
and the export's signatures have it; other bytes fail with "an image is neither JPEG
nor PNG". An image's size is read from its header before any pixel is
decoded (`header_size`: `tf.image.extract_jpeg_shape` for JPEG, the IHDR
chunk a PNG opens with, width and height big-endian at bytes 16..24, for
PNG), so a caller can refuse a small file declaring 15000×15000 pixels before
anything is allocated for it (the exported signatures do:
`vqa_tf.export.input_checks.checked_images`). libjpeg and libpng allocate and
fill exactly the size in the header they read (the same fields), and the
decoded shape is checked against it, so a forged header cannot decode to more.

The uint8 image is resized straight to float32 at the model's size
(`ResizeBilinear` reads uint8 and interpolates per output pixel; the result
equals resizing a float32 copy bit for bit), so no float32 copy of the
full-size image exists. Training, feature extraction and every exported
signature load images with `load_image`.
"""

import tensorflow as tf

_PNG, _JPEG = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"


def _png_size(header):
    """[height, width] int64 of a 24-byte PNG header (unsigned 32-bit big-endian fields)."""
    fields = tf.io.decode_raw(tf.strings.substr(header, 16, 8), tf.int32, little_endian=False)
    return tf.bitwise.bitwise_and(tf.cast(tf.reverse(fields, [0]), tf.int64), 0xFFFFFFFF)


def header_size(image_bytes):
    """int64 [height, width] that encoded JPEG or PNG bytes declare in their header, without decoding a pixel.

    Other bytes, a PNG not opening with its IHDR chunk and a JPEG header that
    does not parse raise `InvalidArgumentError`.

    Examples:
    >>> png = tf.io.encode_png(tf.zeros([4, 6, 3], tf.uint8))
    >>> header_size(png).numpy().tolist()
    [4, 6]
    """
    header = tf.strings.substr(image_bytes + b"\0" * 24, 0, 24)  # padded: a short input fails the checks, not substr
    is_png = tf.logical_and(
        tf.equal(tf.strings.substr(header, 0, 8), _PNG), tf.equal(tf.strings.substr(header, 12, 4), b"IHDR")
    )
    is_jpeg = tf.equal(tf.strings.substr(header, 0, 3), _JPEG)
    known = tf.debugging.Assert(
        tf.logical_or(is_png, is_jpeg),
        ["an image is neither JPEG nor PNG (or a PNG does not open with its IHDR chunk)"],
    )
    with tf.control_dependencies([known]):
        return tf.cond(
            is_png, lambda: _png_size(header), lambda: tf.cast(tf.image.extract_jpeg_shape(image_bytes)[:2], tf.int64)
        )


def decode_image(image_bytes):
    """Encoded JPEG or PNG bytes (scalar tf.string) → uint8 [H, W, 3].

    Corrupt or truncated bytes, and an image decoding to another size than its
    header declares, raise `InvalidArgumentError`.

    Examples:
    >>> png = tf.io.encode_png(tf.zeros([4, 6, 3], tf.uint8))
    >>> decode_image(png).shape
    TensorShape([4, 6, 3])
    """
    size = header_size(image_bytes)
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    as_declared = tf.debugging.assert_equal(
        tf.shape(image, out_type=tf.int64)[:2],
        size,
        message="an image decodes to another size than its header declares",
    )
    with tf.control_dependencies([as_declared]):
        image = tf.identity(image)
    image.set_shape([None, None, 3])
    return image


def resize_image(image, image_size):
    """uint8 [H, W, 3] → float32 [image_size, image_size, 3] in [0, 255] (bilinear, read from the uint8 pixels)."""
    return tf.clip_by_value(tf.image.resize(image, [image_size, image_size]), 0.0, 255.0)


def load_image(image_bytes, image_size):
    """`resize_image(decode_image(image_bytes), image_size)`."""
    return resize_image(decode_image(image_bytes), image_size)


def load_images(image_bytes, image_size):
    """A batch of encoded images tf.string [batch] → float32 [batch, size, size, 3].

    In a graph, map_fn decodes up to 10 images at once, so a batch holds at
    most 10 full-size uint8 images.

    Examples:
    >>> png = tf.io.encode_png(tf.zeros([4, 6, 3], tf.uint8))
    >>> load_images(tf.stack([png, png]), 8).shape
    TensorShape([2, 8, 8, 3])
    """
    return tf.map_fn(
        lambda b: load_image(b, image_size),
        image_bytes,
        fn_output_signature=tf.TensorSpec([image_size, image_size, 3], tf.float32),
    )
