"""WUPS against hand-worked values. These tests need WordNet 3.0 (`apt-get install wordnet-base`): without
it they skip, naming the package, and fail under CI (`system_packages`)."""

import pytest
from system_packages import require_wordnet

from vqa_tf.data.examples import VQAExample
from vqa_tf.metrics import evaluate_wups, load_wordnet, word_wups, wups_score
from vqa_tf.metrics.wups import WORDNET_DIR_ENV

DOG, CAT, WOLF = 2084071, 2121620, 2114100  # dog.n.01, cat.n.01, wolf.n.01: offsets in WordNet 3.0's data.noun

# Hypernym chains in WordNet 3.0 (the longest path above carnivore.n.01 has 11 edges):
#   dog.n.01 → canine.n.02 → carnivore.n.01;  wolf.n.01 → canine.n.02
#   cat.n.01 → feline.n.01 → carnivore.n.01
#   carnivore.n.01 → placental → mammal → vertebrate → chordate → animal → organism
#                  → living_thing → whole → object → physical_entity → entity.n.01
# Wu-Palmer (NLTK's convention) = 2·D / (d_a + d_b + 2·D), D = edges from the subsumer to the root + 1:
#   dog, cat:  subsumer carnivore, D = 12, d = 2 and 2:  24 / 28 = 6/7   ≈ 0.857 (below 0.9)
#   dog, wolf: subsumer canine,    D = 13, d = 1 and 1:  26 / 28 = 13/14 ≈ 0.929 (above 0.9)
DOG_CAT = 6 / 7
DOG_WOLF = 13 / 14


@pytest.fixture(scope="module")
def wordnet():
    require_wordnet()
    return load_wordnet()


def test_synsets_follow_sense_order_and_lemmatize(wordnet):
    assert wordnet.synsets("dog")[0] == DOG
    assert wordnet.synsets("cat")[0] == CAT
    assert wordnet.synsets("Dogs") == wordnet.synsets("dog")  # lowercased, suffix rule "s" → ""
    assert wordnet.synsets("geese") == wordnet.synsets("goose")  # noun.exc
    assert wordnet.synsets("xqzzy") == []


def test_wu_palmer_from_hypernym_depths(wordnet):
    assert wordnet.wup_similarity(DOG, CAT) == pytest.approx(DOG_CAT)
    assert wordnet.wup_similarity(DOG, WOLF) == pytest.approx(DOG_WOLF)
    # NLTK picks the subsumer with the longest *shortest* path to the root. dog.n.01's shortest
    # path runs through domestic_animal.n.01 (8 edges), canine.n.02's has 12, so even dog vs
    # itself is subsumed by canine: 26 / 28. WUPS scores identical words 1 before asking WordNet.
    assert wordnet.wup_similarity(DOG, DOG) == pytest.approx(DOG_WOLF)
    assert wordnet.wup_similarity(CAT, CAT) == 1.0
    # The best pair of senses is the animal one.
    assert wordnet.word_similarity("dog", "cat") == pytest.approx(DOG_CAT)
    assert wordnet.word_similarity("dog", "wolf") == pytest.approx(DOG_WOLF)
    assert wordnet.word_similarity("dog", "xqzzy") == 0.0


def test_threshold_scales_low_similarities_by_a_tenth(wordnet):
    assert word_wups("dog", "cat", 0.9) == pytest.approx(0.1 * DOG_CAT)
    assert word_wups("dog", "cat", 0.0) == pytest.approx(DOG_CAT)
    assert word_wups("dog", "cat", DOG_CAT) == pytest.approx(DOG_CAT)  # at the threshold: kept
    assert word_wups("dog", "wolf", 0.9) == pytest.approx(DOG_WOLF)


def test_identical_words_score_one(wordnet):
    assert word_wups("xqzzy", "xqzzy", 0.9) == 1.0
    assert word_wups("dog", "dog", 0.9) == 1.0
    assert word_wups("xqzzy", "chair", 0.0) == 0.0


def test_answer_sets(wordnet):
    # Same set, any order or spacing.
    assert wups_score("chair, table", "table,chair", 0.9) == 1.0
    assert wups_score("book, book", "book", 0.9) == 1.0
    # {dog, cat} vs {dog}: predicted side 1 · s(cat, dog); true side max(1, s) = 1.
    assert wups_score("dog, cat", "dog", 0.9) == pytest.approx(0.1 * DOG_CAT)
    assert wups_score("dog, cat", "dog", 0.0) == pytest.approx(DOG_CAT)
    # {wolf, cat} vs {dog}: predicted side s(wolf, dog) · s(cat, dog) = 13/14 · 6/70 at 0.9;
    # true side max(13/14, 6/70) = 13/14; the minimum is the product.
    assert wups_score("wolf, cat", "dog", 0.9) == pytest.approx(DOG_WOLF * 0.1 * DOG_CAT)
    assert wups_score("wolf, cat", "dog", 0.0) == pytest.approx(DOG_WOLF * DOG_CAT)
    # A missed item: {dog} vs {dog, xqzzy}: on the true side xqzzy scores s(xqzzy, dog) = 0.
    assert wups_score("dog", "dog, xqzzy", 0.0) == 0.0


def test_evaluate_wups_averages_over_questions(wordnet):
    examples = [
        VQAExample(1, 0, "a.png", "what is this?", ("dog",)),
        VQAExample(2, 0, "a.png", "what is that?", ("wolf",)),
        VQAExample(3, 0, "a.png", "what is there?", ("chair, table",)),
    ]
    result = evaluate_wups({1: "cat", 2: "dog", 3: "table, chair", 4: "ignored"}, examples)
    assert result["wups@0.9"] == pytest.approx((0.1 * DOG_CAT + DOG_WOLF + 1.0) / 3)
    assert result["wups@0.0"] == pytest.approx((DOG_CAT + DOG_WOLF + 1.0) / 3)
    assert result["num_questions"] == 3
    with pytest.raises(ValueError, match="have no prediction"):
        evaluate_wups({}, examples)
    with pytest.raises(ValueError, match="DAQUAR has one"):
        evaluate_wups({1: "dog"}, [VQAExample(1, 0, "a.png", "q?", ("dog", "cat"))])


def test_a_missing_wordnet_is_named_with_the_package_that_installs_it(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError) as error:
        load_wordnet(str(tmp_path))
    assert str(tmp_path) in str(error.value) and "apt-get install wordnet-base" in str(error.value)
    monkeypatch.setenv(WORDNET_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="index.noun"):
        load_wordnet()
    with pytest.raises(FileNotFoundError):
        word_wups("dog", "cat", 0.9)


def test_wordnet_location_is_configurable(monkeypatch, wordnet):
    monkeypatch.setenv(WORDNET_DIR_ENV, wordnet.directory)
    assert load_wordnet() is wordnet  # read once per directory
