"""Vocabularies and the in-graph question tokenizer."""

from vqa_tf.text.tokenizer import QuestionTokenizer, split_words, words_of
from vqa_tf.text.vocabulary import OOV_ID, PAD_ID, AnswerVocabulary, Vocabulary

__all__ = ["AnswerVocabulary", "OOV_ID", "PAD_ID", "QuestionTokenizer", "Vocabulary", "split_words", "words_of"]
