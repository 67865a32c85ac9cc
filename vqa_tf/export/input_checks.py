"""Graph-side checks of serving inputs: each failure is an InvalidArgumentError whose message names the problem.

The request limits of an export (`ServingLimits`) are built into its
signatures and recorded in the SavedModel as `assets/serving_limits.json`.
"""

import dataclasses
import json
import posixpath
import tempfile

import tensorflow as tf

MAX_TEXT_CHARS = 1000
MAX_BATCH_ROWS = 256
MAX_IMAGE_PIXELS = 4096 * 4096  # 16.8 megapixels, 48 MiB decoded; a 12-megapixel photo passes
LIMITS_FILE = "serving_limits.json"


@dataclasses.dataclass(frozen=True)
class ServingLimits:
    """Request limits an export builds into its signatures (the `vqa-export` flags of the same names).

    * `max_batch_rows`: rows per call, on every endpoint. TF Serving's
      batching merges requests into one call, so keep its `max_batch_size`
      at most this (32 in serving/config/batching_parameters.txt).
    * `max_image_pixels`: height × width an image's header may declare; a
      decoded image takes 3 bytes per pixel, up to 10 images at once.

    Examples:
    >>> ServingLimits(max_batch_rows=8)
    ServingLimits(max_batch_rows=8, max_image_pixels=16777216)
    >>> ServingLimits(max_batch_rows=0)
    Traceback (most recent call last):
    ...
    ValueError: max_batch_rows must be a positive integer, not 0
    """

    max_batch_rows: int = MAX_BATCH_ROWS
    max_image_pixels: int = MAX_IMAGE_PIXELS

    def __post_init__(self):
        for name, value in dataclasses.asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")

    def checked_rows(self, inputs):
        """The dict of tensors `inputs` after checking none has more than max_batch_rows rows."""
        checks = [
            tf.debugging.assert_less_equal(
                tf.shape(tensor)[0],
                self.max_batch_rows,
                message=f"a request has more {name} rows than max_batch_rows={self.max_batch_rows}",
            )
            for name, tensor in inputs.items()
        ]
        with tf.control_dependencies(checks):
            return {name: tf.identity(tensor) for name, tensor in inputs.items()}

    def write(self, directory):
        """Writes `<directory>/serving_limits.json` (these limits and MAX_TEXT_CHARS); returns its path."""
        path = posixpath.join(directory, LIMITS_FILE)
        with tf.io.gfile.GFile(path, "w") as f:
            json.dump({**dataclasses.asdict(self), "max_text_chars": MAX_TEXT_CHARS}, f, indent=2)
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
