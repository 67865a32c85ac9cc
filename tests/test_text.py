"""Tokenizer and vocabularies."""

import numpy as np
import pytest
import tensorflow as tf

from vqa_tf.text import AnswerVocabulary, QuestionTokenizer, Vocabulary, words_of


@pytest.fixture
def vocabulary_path(tmp_path):
    questions = [
        "Is there a red square?",
        "Is the red square above the blue circle?",
        "Is there a BLUE circle on the left?",
    ]
    vocabulary = Vocabulary.build(words_of(questions), min_count=2)
    path = tmp_path / "vocab.txt"
    vocabulary.save(path)
    return str(path)


def test_vocabulary_keeps_words_by_count_and_reserves_pad_and_oov(vocabulary_path):
    vocabulary = Vocabulary.load(vocabulary_path)
    # counts: is 3, the 3; a, blue, circle, red, square, there 2; above, on, left 1
    assert vocabulary.tokens == ["[PAD]", "[UNK]", "is", "the", "a", "blue", "circle", "red", "square", "there"]
    assert vocabulary.id("above") == 1


def test_vocabulary_file_is_plain_text(vocabulary_path):
    with open(vocabulary_path, encoding="utf-8") as f:
        assert f.read().splitlines()[:3] == ["[PAD]", "[UNK]", "is"]


def test_answer_vocabulary_top_k_round_trip(tmp_path):
    answers = AnswerVocabulary.build(["yes"] * 5 + ["no"] * 4 + ["2"] * 3 + ["red"], top_k=3)
    path = tmp_path / "answers.txt"
    answers.save(path)
    loaded = AnswerVocabulary.load(path)
    assert loaded.answers == ["yes", "no", "2"]
    assert loaded.index("2") == 2 and loaded.index("red") is None


def test_tokenizer_lowercases_splits_punctuation_pads_and_truncates(vocabulary_path):
    tokenizer = QuestionTokenizer(vocabulary_path, max_length=6)
    ids = tokenizer(tf.constant(["Is THE red,square   above?", "is there the red square is the blue circle"]))
    # is=2 the=3 red=7 square=8 there=9 above=OOV(1)
    assert ids.numpy().tolist() == [[2, 3, 7, 8, 1, 0], [2, 9, 3, 7, 8, 2]]
    assert ids.dtype == tf.int32


def test_tokenizer_gives_the_same_ids_in_tf_data_and_in_a_graph(vocabulary_path):
    tokenizer = QuestionTokenizer(vocabulary_path, max_length=8)
    questions = ["Is there a red square?", "What's LEFT of the blue circle?", "é circle"]
    from_data = np.concatenate(
        [b.numpy() for b in tf.data.Dataset.from_tensor_slices(questions).map(tokenizer).batch(2)]
    )
    graph = tf.function(tokenizer, input_signature=[tf.TensorSpec([None], tf.string)])
    np.testing.assert_array_equal(from_data, graph(tf.constant(questions)).numpy())
    assert from_data.shape == (3, 8)


@pytest.mark.parametrize("question", ["", "   ", "?!?"])
def test_tokenizer_rejects_a_question_without_words(vocabulary_path, question):
    tokenizer = QuestionTokenizer(vocabulary_path, max_length=4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="a question has no words"):
        tokenizer(tf.constant(["is there", question]))


def test_tokenizer_survives_config_round_trip(vocabulary_path):
    tokenizer = QuestionTokenizer(vocabulary_path, max_length=5)
    clone = QuestionTokenizer.from_config(tokenizer.get_config())
    questions = tf.constant(["is the blue circle there"])
    np.testing.assert_array_equal(clone(questions).numpy(), tokenizer(questions).numpy())
