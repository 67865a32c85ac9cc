"""Graph-side checks of serving inputs: each failure is an InvalidArgumentError whose message names the problem.

The request limits of an export (`ServingLimits`) are built into its
signatures and recorded in the SavedModel as `assets/serving_limits.json`.
"""

import dataclasses
import json
import posixpath
import tempfile

import tensorflow as tf

from vqa_tf.vision import header_size

MAX_TEXT_CHARS = 1000
MAX_BATCH_ROWS = 256
MAX_IMAGE_PIXELS = 4096 * 4096  # 16.8 megapixels, 48 MiB decoded; a 12-megapixel photo passes
# The decode budget of one call. Decoding costs from a few ns of CPU per declared pixel (a flat PNG) to about
# 30 (a progressive JPEG of noise), and a progressive JPEG's refinement scans about 30 ns per byte, so both
# bound it: the costliest calls within every default limit take under 1 s of CPU (benchmarks/decode_budget.py).
MAX_REQUEST_PIXELS = 3 * MAX_IMAGE_PIXELS // 2
MAX_REQUEST_IMAGE_BYTES = 16 << 20
# Each scan of a progressive JPEG passes over every block of the image again, and a scan can be a dozen
# bytes, so a small file of thousands of scans costs seconds whatever its size; libjpeg's own progressive
# scripts use 10 and optimised encoders a few more.
MAX_JPEG_SCANS = 32
_START_OF_SCAN = b"\xff\xda"  # a marker: entropy-coded data stuffs every 0xFF byte with 0x00
LIMITS_FILE = "serving_limits.json"


@dataclasses.dataclass(frozen=True)
class ServingLimits:
    """Request limits an export builds into its signatures (the `vqa-export` flags of the same names).

    * `max_batch_rows`: rows per call, on every endpoint. TF Serving's
      batching merges requests into one call, so keep its `max_batch_size`
      at most this (32 in serving/config/batching_parameters.txt).
    * `max_image_pixels`: height × width an image's header may declare; a
      decoded image takes 3 bytes per pixel, up to 10 images at once.
    * `max_request_pixels`: the pixels the headers of one call's images
      declare in all, the call's decoding budget.
    * `max_request_image_bytes`: the bytes of one call's images in all.

    With TF Serving's batching a call is a merged batch of requests: a batch
    over a limit fails as a whole there (the local server then runs its
    requests one by one, so only the one over the limit fails).

    Examples:
    >>> ServingLimits(max_batch_rows=8)
    ServingLimits(max_batch_rows=8, max_image_pixels=16777216, max_request_pixels=25165824, \
max_request_image_bytes=16777216)
    >>> ServingLimits(max_batch_rows=0)
    Traceback (most recent call last):
    ...
    ValueError: max_batch_rows must be a positive integer, not 0
    """

    max_batch_rows: int = MAX_BATCH_ROWS
    max_image_pixels: int = MAX_IMAGE_PIXELS
    max_request_pixels: int = MAX_REQUEST_PIXELS
    max_request_image_bytes: int = MAX_REQUEST_IMAGE_BYTES

    def __post_init__(self):
        for name, value in dataclasses.asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if self.max_request_pixels < self.max_image_pixels:
            raise ValueError(
                f"max_request_pixels={self.max_request_pixels} must be at least "
                f"max_image_pixels={self.max_image_pixels}: a call of one largest image would fail"
            )

    def checked_rows(self, inputs):
        """The dict of tensors `inputs` after checking each has at least one and at most max_batch_rows rows."""
        checks = []
        for name, tensor in inputs.items():
            rows = tf.shape(tensor)[0]
            checks.append(tf.debugging.Assert(rows > 0, ["the request has no rows"]))
            checks.append(
                tf.debugging.assert_less_equal(
                    rows,
                    self.max_batch_rows,
                    message=f"a request has more {name} rows than max_batch_rows={self.max_batch_rows}",
                )
            )
        with tf.control_dependencies(checks):
            return {name: tf.identity(tensor) for name, tensor in inputs.items()}

    def checked_images(self, image):
        """Encoded images tf.string [B] after checking the call's decode budget, before a pixel is decoded:
        their bytes in all (`max_request_image_bytes`), each JPEG's scans (`MAX_JPEG_SCANS`), each header's
        pixels (`max_image_pixels`), and the pixels the headers declare in all (`max_request_pixels`). A
        refusal names the limit and the value.

        Examples:
        >>> png = tf.io.encode_png(tf.zeros([4, 6, 3], tf.uint8))
        >>> ServingLimits(max_image_pixels=24, max_request_pixels=40).checked_images(tf.stack([png, png]))
        Traceback (most recent call last):
        ...
        tensorflow.python.framework.errors_impl.InvalidArgumentError: ...declare 48 pixels in all...
        """
        total_bytes = tf.reduce_sum(tf.cast(tf.strings.length(image), tf.int64))
        limit = self.max_request_image_bytes
        within_bytes = _assert_at_most(
            total_bytes,
            limit,
            f"the images of the request hold {{}} bytes in all, more than max_request_image_bytes={limit}",
        )
        with tf.control_dependencies([within_bytes]):
            is_jpeg = tf.equal(tf.strings.substr(image, 0, 3), b"\xff\xd8\xff")
            scans = tf.strings.split(image, sep=_START_OF_SCAN).row_lengths() - 1
            most_scans = tf.reduce_max(tf.where(is_jpeg, scans, 0))
        within_scans = _assert_at_most(
            most_scans, MAX_JPEG_SCANS, f"a JPEG has {{}} scans, more than max_jpeg_scans={MAX_JPEG_SCANS}"
        )
        with tf.control_dependencies([within_scans]):
            sizes = tf.map_fn(header_size, image, fn_output_signature=tf.TensorSpec([2], tf.int64))
        # Each side clamped first: the product of two 32-bit PNG fields can overflow int64.
        pixels = tf.reduce_prod(tf.minimum(sizes, 2**31), axis=1)
        within_image = tf.debugging.assert_less_equal(
            pixels,
            tf.constant(self.max_image_pixels, tf.int64),
            message=f"an image is larger than max_image_pixels={self.max_image_pixels} pixels by its header "
            "(height, width)",
        )
        with tf.control_dependencies([within_image]):  # each at most max_image_pixels: the sum cannot overflow
            limit = self.max_request_pixels
            within_request = _assert_at_most(
                tf.reduce_sum(pixels),
                limit,
                f"the images of the request declare {{}} pixels in all (height × width summed over its rows), "
                f"more than max_request_pixels={limit}",
            )
        with tf.control_dependencies([within_request]):
            return tf.identity(image)

    def write(self, directory):
        """Writes `<directory>/serving_limits.json` (these limits, MAX_JPEG_SCANS and MAX_TEXT_CHARS); returns its
        path."""
        path = posixpath.join(directory, LIMITS_FILE)
        fixed = {"max_jpeg_scans": MAX_JPEG_SCANS, "max_text_chars": MAX_TEXT_CHARS}
        with tf.io.gfile.GFile(path, "w") as f:
            json.dump({**dataclasses.asdict(self), **fixed}, f, indent=2)
        return path


class LimitsAsset(tf.Module):
    """`serving_limits.json` of a `ServingLimits`, carried by a lookup table over its lines: an ExportArchive
    tracking it writes the file to the SavedModel's `assets/` (Keras' archive keeps the tracked objects'
    resources, not bare `tf.saved_model.Asset`s).

    Examples:

        archive.track(LimitsAsset(ServingLimits(max_batch_rows=32)))
    """

    def __init__(self, limits):
        super().__init__()
        self._scratch = tempfile.TemporaryDirectory()  # removed with this object, once the archive is written
        self.lines = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                limits.write(self._scratch.name),
                tf.string,
                tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64,
                tf.lookup.TextFileIndex.LINE_NUMBER,
            ),
            default_value=-1,
        )


def _assert_at_most(value, limit, message):
    """An Assert that `value` (int64 scalar) ≤ `limit`, its message `message` with the value in its `{}`."""
    return tf.debugging.Assert(value <= limit, [tf.strings.format(message, [value])])


def checked_text(text, name):
    """`text` [B] after checking every string is at most MAX_TEXT_CHARS long and valid UTF-8.

    (Tokenization rejects a string with no words.)
    """
    too_long = tf.debugging.assert_less_equal(
        tf.strings.length(text),
        MAX_TEXT_CHARS,
        message=f"a {name} is longer than {MAX_TEXT_CHARS} characters",
    )
    with tf.control_dependencies([too_long]):
        cleaned = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace")
    # Assert with the message alone: echoing the invalid bytes would break the error message itself.
    valid = tf.debugging.Assert(tf.reduce_all(tf.equal(cleaned, text)), [f"a {name} is not valid UTF-8"])
    with tf.control_dependencies([valid]):
        return tf.identity(text)


def same_batch(a, b, names):
    """(a, b) after checking they share their first dimension."""
    same = tf.debugging.assert_equal(
        tf.shape(a)[0], tf.shape(b)[0], message=f"{names[0]} and {names[1]} must have the same batch size"
    )
    with tf.control_dependencies([same]):
        return tf.identity(a), tf.identity(b)
