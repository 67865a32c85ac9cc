"""Word and answer vocabularies, stored as plain text files (one entry per line), at any gfile path."""

import collections

from vqa_tf.utils.files import read_text, write_text

PAD_TOKEN = "[PAD]"
OOV_TOKEN = "[UNK]"
PAD_ID = 0
OOV_ID = 1


def _write_lines(path, lines):
    for line in lines:
        if "\n" in line or not line:
            raise ValueError(f"vocabulary entries must be non-empty single lines; got {line!r}")
    write_text(path, "".join(line + "\n" for line in lines))


def _read_lines(path):
    return read_text(path).splitlines()


def _most_common(counts, min_count, max_size):
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = [word for word, count in ranked if count >= min_count]
    return kept if max_size is None else kept[:max_size]


class Vocabulary:
    """Word → id, with id 0 for padding and id 1 for out-of-vocabulary words.

    Examples:
    >>> vocab = Vocabulary.build([["red", "square"], ["red", "circle"]], min_count=2)
    >>> vocab.tokens
    ['[PAD]', '[UNK]', 'red']
    >>> vocab.id("red"), vocab.id("circle")
    (2, 1)
    """

    def __init__(self, tokens):
        if tokens[:2] != [PAD_TOKEN, OOV_TOKEN]:
            raise ValueError(f"a vocabulary starts with {PAD_TOKEN!r}, {OOV_TOKEN!r}; got {tokens[:2]}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary entries must be unique")
        self.tokens = list(tokens)
        self._ids = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, tokenized_texts, min_count=1, max_size=None):
        """Words seen at least `min_count` times, most frequent first (ties alphabetical)."""
        counts = collections.Counter(word for words in tokenized_texts for word in words)
        return cls([PAD_TOKEN, OOV_TOKEN] + _most_common(counts, min_count, max_size))

    @classmethod
    def load(cls, path):
        return cls(_read_lines(path))

    def save(self, path):
        _write_lines(path, self.tokens)

    def id(self, token):
        return self._ids.get(token, OOV_ID)

    def __len__(self):
        return len(self.tokens)


class AnswerVocabulary:
    """The `top_k` most frequent answers as classes 0..k−1.

    Examples:
    >>> answers = AnswerVocabulary.build(["yes", "no", "yes", "no", "yes", "2"], top_k=2)
    >>> answers.answers, answers.index("no"), answers.index("2")
    (['yes', 'no'], 1, None)
    """

    def __init__(self, answers):
        if len(set(answers)) != len(answers):
            raise ValueError("answers must be unique")
        self.answers = list(answers)
        self._index = {answer: i for i, answer in enumerate(self.answers)}

    @classmethod
    def build(cls, answers, top_k):
        return cls(_most_common(collections.Counter(answers), 1, top_k))

    @classmethod
    def load(cls, path):
        return cls(_read_lines(path))

    def save(self, path):
        _write_lines(path, self.answers)

    def index(self, answer):
        """The class of `answer`, or None if it is not among the kept answers."""
        return self._index.get(answer)

    def __len__(self):
        return len(self.answers)
