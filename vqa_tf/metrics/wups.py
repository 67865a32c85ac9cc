"""WUPS, the DAQUAR answer-set measure (Malinowski & Fritz, NIPS 2014), on a local WordNet.

WordNet 3.0 is read from its database files (index.noun, data.noun, noun.exc),
found in `wordnet_dir`, else $VQA_TF_WORDNET_DIR, else /usr/share/wordnet,
where Debian's `wordnet-base` package installs them. Nothing is downloaded.
Senses, lemmatization and Wu-Palmer similarity follow NLTK 3.10's WordNet
reader (the authors' WUPS script calls NLTK), without depending on NLTK.
"""

import collections
import functools
import os

DEFAULT_WORDNET_DIR = "/usr/share/wordnet"
WORDNET_DIR_ENV = "VQA_TF_WORDNET_DIR"
_FILES = ("index.noun", "data.noun", "noun.exc")
# NLTK's noun suffix rules, applied once when a word is not in noun.exc.
_NOUN_SUFFIXES = (
    ("s", ""),
    ("ses", "s"),
    ("ves", "f"),
    ("xes", "x"),
    ("zes", "z"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("men", "man"),
    ("ies", "y"),
)
_HYPERNYM_POINTERS = frozenset({"@", "@i"})  # hypernym and instance hypernym


class WordNet:
    """The noun hierarchy of a WordNet 3.0 database directory.

    Synsets are named by their byte offset in data.noun, read lazily and
    memoized. Get one with `load_wordnet`, which reads each directory once.

    Examples:
    >>> wordnet = load_wordnet()
    >>> round(wordnet.word_similarity("dog", "cat"), 4)
    0.8571
    """

    def __init__(self, directory):
        missing = [name for name in _FILES if not os.path.isfile(os.path.join(directory, name))]
        if missing:
            raise FileNotFoundError(
                f"no WordNet 3.0 database in {directory!r} (missing {', '.join(missing)}). Install it with "
                f"`apt-get install wordnet-base` (puts it in {DEFAULT_WORDNET_DIR}), or point the "
                f"`wordnet_dir` argument or ${WORDNET_DIR_ENV} at a directory holding those files."
            )
        self.directory = directory
        self._offsets = {}  # lemma -> offsets of its noun senses, in sense order
        with open(os.path.join(directory, "index.noun"), encoding="utf-8") as index:
            for line in index:
                if not line.startswith(" "):  # lines that start with a space are the licence
                    fields = line.split()
                    self._offsets[fields[0]] = tuple(int(offset) for offset in fields[-int(fields[2]) :])
        with open(os.path.join(directory, "noun.exc"), encoding="utf-8") as exceptions:
            self._exceptions = {fields[0]: fields[1:] for fields in map(str.split, exceptions) if fields}
        with open(os.path.join(directory, "data.noun"), "rb") as data:
            self._data = data.read()

    def synsets(self, word):
        """Offsets of the noun senses of `word`, lemmatized as NLTK's `morphy` does."""
        word = word.lower()
        variants = self._exceptions.get(word) or [
            word[: -len(old)] + new for old, new in _NOUN_SUFFIXES if word.endswith(old)
        ]
        lemmas = dict.fromkeys(lemma for lemma in [word, *variants] if lemma in self._offsets)
        return [offset for lemma in lemmas for offset in self._offsets[lemma]]

    @functools.cache
    def _entry(self, offset):
        """(first lemma, hypernym offsets) of a synset, from its data.noun line."""
        fields = self._data[offset : self._data.index(b"\n", offset)].decode("utf-8").split()
        num_words = int(fields[3], 16)
        pointers_at = 4 + 2 * num_words
        pointers = [fields[pointers_at + 1 + 4 * i : pointers_at + 5 + 4 * i] for i in range(int(fields[pointers_at]))]
        hypernyms = tuple(
            int(target)
            for symbol, target, _, source_target in pointers
            if symbol in _HYPERNYM_POINTERS and source_target == "0000"
        )
        return fields[4].lower(), hypernyms

    @functools.cache
    def _name(self, offset):
        """NLTK's synset name ("dog.n.01"), which breaks ties between subsumers."""
        lemma = self._entry(offset)[0]
        return f"{lemma}.n.{self._offsets[lemma].index(offset) + 1:02d}"

    @functools.cache
    def _depth(self, offset, longest):
        """Edges on the longest (or shortest) hypernym path from the synset to the root."""
        hypernyms = self._entry(offset)[1]
        if not hypernyms:
            return 0
        return 1 + (max if longest else min)(self._depth(hypernym, longest) for hypernym in hypernyms)

    @functools.cache
    def _ancestors(self, offset):
        """{synset or hypernym ancestor: fewest edges up to it}, by breadth-first search."""
        distances, queue = {}, collections.deque([(offset, 0)])
        while queue:
            node, distance = queue.popleft()
            if node not in distances:
                distances[node] = distance
                queue.extend((hypernym, distance + 1) for hypernym in self._entry(node)[1])
        return distances

    def _path_length(self, offset_a, offset_b):
        """NLTK's shortest_path_distance: fewest edges through a shared ancestor."""
        up_a, up_b = self._ancestors(offset_a), self._ancestors(offset_b)
        return 0 if offset_a == offset_b else min(up_a[node] + up_b[node] for node in up_a.keys() & up_b.keys())

    def wup_similarity(self, offset_a, offset_b):
        """Wu-Palmer similarity of two noun synsets, as NLTK computes it.

        The subsumer is the shared ancestor with the deepest shortest path to
        the root (ties: `offset_a` itself, else the first by name); with D its
        longest path to the root plus one, and d_a, d_b the path lengths from
        each synset to it, the similarity is 2·D / (d_a + d_b + 2·D). As in
        NLTK, a synset need not score 1 against itself: dog.n.01 gets 13/14,
        its subsumer being canine.n.02, whose shortest root path is longer.
        """
        shared = self._ancestors(offset_a).keys() & self._ancestors(offset_b).keys()
        if not shared:
            return 0.0
        deepest = max(self._depth(node, False) for node in shared)
        subsumers = [node for node in shared if self._depth(node, False) == deepest]
        subsumer = offset_a if offset_a in subsumers else min(subsumers, key=self._name)
        depth = self._depth(subsumer, True) + 1
        return 2.0 * depth / (self._path_length(offset_a, subsumer) + self._path_length(offset_b, subsumer) + 2 * depth)

    def word_similarity(self, word_a, word_b):
        """Highest Wu-Palmer similarity over the noun senses of two words; 0 if either has none."""
        return max((self.wup_similarity(a, b) for a in self.synsets(word_a) for b in self.synsets(word_b)), default=0.0)


@functools.cache
def _load(directory):
    return WordNet(directory)


def load_wordnet(wordnet_dir=None):
    """The `WordNet` in `wordnet_dir` (else $VQA_TF_WORDNET_DIR, else /usr/share/wordnet), read once per directory."""
    directory = wordnet_dir or os.environ.get(WORDNET_DIR_ENV) or DEFAULT_WORDNET_DIR
    return _load(os.path.realpath(directory))


def word_wups(word_a, word_b, threshold, wordnet_dir=None):
    """WUPS similarity of two answer words: 1 if identical, else their Wu-Palmer
    similarity, multiplied by 0.1 when it falls below `threshold`.

    Examples:
    >>> round(word_wups("dog", "cat", 0.9), 4), round(word_wups("dog", "cat", 0.0), 4)
    (0.0857, 0.8571)
    """
    if word_a == word_b:
        return 1.0
    similarity = load_wordnet(wordnet_dir).word_similarity(word_a, word_b)
    return similarity if similarity >= threshold else 0.1 * similarity


def _answer_items(answer):
    """The items of a DAQUAR answer: comma-separated, surrounding spaces stripped."""
    return [item.strip() for item in answer.split(",")]


def wups_score(prediction, truth, threshold, wordnet_dir=None):
    """WUPS of one question: min(Π_a max_t s(a, t), Π_t max_a s(a, t)).

    a runs over the predicted items, t over the true ones, and s is `word_wups`.

    Examples:
    >>> wups_score("chair, table", "table,chair", 0.9)
    1.0
    >>> round(wups_score("dog", "dog, cat", 0.0), 4)
    0.8571
    """
    predicted, true = set(_answer_items(prediction)), set(_answer_items(truth))

    def coverage(items, others):
        product = 1.0
        for item in items:
            product *= max(word_wups(item, other, threshold, wordnet_dir) for other in others)
        return product

    return min(coverage(predicted, true), coverage(true, predicted))


def evaluate_wups(predictions, examples, thresholds=(0.9, 0.0), wordnet_dir=None):
    """Mean WUPS over DAQUAR questions at each threshold.

    Args:
        predictions: {question_id: predicted answer string, e.g. "chair, table"}.
        examples: iterable of `vqa_tf.data.examples.VQAExample`, each with its
            one DAQUAR answer string; every one needs a prediction.
        thresholds: WUPS thresholds (DAQUAR reports 0.9 and 0.0).
        wordnet_dir: WordNet database directory (see `load_wordnet`).

    Returns:
        {"wups@<threshold>": fraction in [0, 1] for each threshold, e.g.
        "wups@0.9", "wups@0.0"; "num_questions": n}.

    Examples:
    >>> from vqa_tf.data.examples import VQAExample
    >>> examples = [VQAExample(1, 5, "i.png", "what is left of the bed?", ("lamp",))]
    >>> evaluate_wups({1: "lamp"}, examples)
    {'wups@0.9': 1.0, 'wups@0.0': 1.0, 'num_questions': 1}
    """
    pairs, missing = [], []
    for example in examples:
        if example.question_id not in predictions:
            missing.append(example.question_id)
        elif len(example.answers) != 1:
            raise ValueError(f"question {example.question_id} has {len(example.answers)} answers; DAQUAR has one")
        else:
            pairs.append((predictions[example.question_id], example.answers[0]))
    if missing:
        raise ValueError(f"{len(missing)} question(s) have no prediction, e.g. question ids {missing[:5]}")
    if not pairs:
        raise ValueError("there are no examples to evaluate")
    result = {
        f"wups@{threshold}": sum(wups_score(p, t, threshold, wordnet_dir) for p, t in pairs) / len(pairs)
        for threshold in thresholds
    }
    result["num_questions"] = len(pairs)
    return result
