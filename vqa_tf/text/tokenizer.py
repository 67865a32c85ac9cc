"""In-graph question tokenizer built on tensorflow-text."""

import keras
import tensorflow as tf
import tensorflow_text as tf_text

from vqa_tf.text.vocabulary import OOV_ID, PAD_ID

# Whitespace, punctuation and symbols separate words; the separators are dropped.
_SEPARATORS = r"[\s\p{P}\p{S}]+"


def split_words(texts):
    """Case-folded words of each string: tf.string [batch] → RaggedTensor [batch, None].

    Examples:
    >>> split_words(tf.constant(["Is the RED square, on the left?"])).to_list()
    [[b'is', b'the', b'red', b'square', b'on', b'the', b'left']]
    """
    return tf_text.regex_split(tf_text.case_fold_utf8(texts), _SEPARATORS, "")


@keras.saving.register_keras_serializable(package="vqa_tf")
class QuestionTokenizer(keras.layers.Layer):
    """Strings → token ids [..., max_length], padded with 0 and truncated.

    Lowercases (Unicode case folding), splits at whitespace and punctuation,
    keeps the first `max_length` words and looks them up in a vocabulary file
    written by `Vocabulary.save` (unknown words → 1). Uses only TensorFlow and
    TensorFlow Text ops, so the same layer runs in `tf.data`, in a
    `tf.function` and in an exported SavedModel served by TF Serving. A string
    with no word raises `InvalidArgumentError`.

    Args:
        vocabulary_path: the vocabulary text file.
        max_length: number of token positions T.

    Examples:
    >>> import os, tempfile
    >>> from vqa_tf.text import Vocabulary
    >>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    >>> Vocabulary(["[PAD]", "[UNK]", "is", "red"]).save(path)
    >>> tokenizer = QuestionTokenizer(path, max_length=5)
    >>> tokenizer(tf.constant(["Is it RED?"])).numpy().tolist()
    [[2, 1, 3, 0, 0]]
    """

    def __init__(self, vocabulary_path, max_length, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_path = vocabulary_path
        self.max_length = max_length
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                vocabulary_path,
                tf.string,
                tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64,
                tf.lookup.TextFileIndex.LINE_NUMBER,
            ),
            default_value=OOV_ID,
        )
        self.built = True  # no weights: the table is ready once it exists

    def call(self, questions):
        questions = tf.convert_to_tensor(questions, tf.string)
        scalar = questions.shape.rank == 0
        words = split_words(questions[None] if scalar else questions)
        has_words = tf.debugging.assert_positive(
            words.row_lengths(), message="a question has no words (empty or only punctuation)"
        )
        with tf.control_dependencies([has_words]):
            words = words[:, : self.max_length]
        ids = tf.ragged.map_flat_values(self.table.lookup, words)
        ids = ids.to_tensor(default_value=PAD_ID, shape=[None, self.max_length])
        ids = tf.cast(ids, tf.int32)
        return ids[0] if scalar else ids

    def compute_output_spec(self, questions):
        return keras.KerasTensor(tuple(questions.shape) + (self.max_length,), dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update({"vocabulary_path": self.vocabulary_path, "max_length": self.max_length})
        return config


def words_of(texts, batch_size=4096):
    """`split_words` run eagerly over Python strings: the words a vocabulary is built from.

    Examples:
    >>> words_of(["What's on the LEFT?"])
    [['what', 's', 'on', 'the', 'left']]
    """
    texts = list(texts)
    words = []
    for start in range(0, len(texts), batch_size):
        batch = split_words(tf.constant(texts[start : start + batch_size], tf.string))
        words.extend([[w.decode("utf-8") for w in row] for row in batch.to_list()])
    return words
