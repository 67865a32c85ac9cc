"""Graph-side checks of serving inputs: each failure is an InvalidArgumentError whose message names the problem."""

import tensorflow as tf

MAX_TEXT_CHARS = 1000


def checked_text(text, name):
    """`text` [B] after checking every string is at most MAX_TEXT_CHARS long and valid UTF-8.

    (Tokenization rejects a string with no words.)
    """
    too_long = tf.debugging.assert_less_equal(
        tf.strings.length(text), MAX_TEXT_CHARS,
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
