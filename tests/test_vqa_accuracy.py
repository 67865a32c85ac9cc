import pytest

from vqa_tf.data.examples import VQAExample
from vqa_tf.metrics import evaluate_vqa, normalize_answer, vqa_accuracy


# With 10 humans of whom m give the predicted answer, the official score averages
# min(1, matches among the other 9 / 3) over the 10 humans left out in turn:
# a matching human leaves m − 1 matches, a non-matching one leaves m.
#   m = 1: (1·min(1, 0/3) + 9·min(1, 1/3)) / 10 = 3/10         = 0.3
#   m = 2: (2·min(1, 1/3) + 8·min(1, 2/3)) / 10 = (2/3 + 16/3) / 10 = 0.6
#   m = 3: (3·min(1, 2/3) + 7·min(1, 3/3)) / 10 = (2 + 7) / 10    = 0.9
#   m = 4: (4·min(1, 3/3) + 6·1) / 10                            = 1.0
@pytest.mark.parametrize("matches, expected", [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (7, 1.0), (10, 1.0)])
def test_leave_one_out_averaging(matches, expected):
    humans = ["blue"] * matches + ["green"] * (10 - matches)
    assert vqa_accuracy("blue", humans) == pytest.approx(expected)


def test_other_numbers_of_humans():
    # 3 humans, all matching: each left-out subset holds 2 matches → 2/3.
    assert vqa_accuracy("cat", ["cat"] * 3) == pytest.approx(2 / 3)
    # 1 reference answer (DAQUAR, synthetic set): leave-one-out would always give 0,
    # so it is exact match of both answers normalized.
    assert vqa_accuracy("Two", ["2"]) == 1.0
    assert vqa_accuracy("two", ["two"]) == 1.0
    assert vqa_accuracy("cat", ["cats"]) == 0.0
    with pytest.raises(ValueError, match="no human answers"):
        vqa_accuracy("cat", [])


@pytest.mark.parametrize(
    "raw, normalized",
    [
        # case and whitespace
        ("YES", "yes"),
        ("  no \n", "no"),
        ("red\tcar", "red car"),
        # periods go unless a digit follows
        ("yes.", "yes"),
        ("mr. smith", "mr smith"),
        ("3.5", "3.5"),
        ("3.5.", "3.5"),
        # a digit-comma-digit group makes every mark vanish
        ("1,000", "1000"),
        ("2,000-3,000", "20003000"),
        ("1,000 (about)", "1000 about"),
        # otherwise a mark vanishes if a space touches it anywhere in the text, else becomes a space
        ("red, white", "red white"),
        ("red,white", "red white"),
        ("t-shirt", "t shirt"),
        ("e-mail - yes", "email yes"),
        ("what?!", "what"),
        ("@home", "home"),
        # not in the official list: the colon and the apostrophe
        ("10:30", "10:30"),
        ("don't", "don't"),
        # number words up to ten, and "none"
        ("two", "2"),
        ("Ten dogs", "10 dogs"),
        ("none", "0"),
        ("twenty", "twenty"),
        # articles
        ("a dog", "dog"),
        ("The Cat", "cat"),
        ("an apple", "apple"),
        ("the", ""),
        # contractions (looked up after lowercasing, so the map's "Im" never matches)
        ("dont", "don't"),
        ("isnt", "isn't"),
        ("youre right", "you're right"),
        ("Im", "im"),
        ("the two cats arent", "2 cats aren't"),
    ],
)
def test_normalize_answer(raw, normalized):
    assert normalize_answer(raw) == normalized


def test_prediction_is_normalized_before_matching():
    humans = ["2"] * 3 + ["3"] * 7
    assert vqa_accuracy("Two.", humans) == pytest.approx(0.9)
    assert vqa_accuracy("the  3", humans) == pytest.approx(1.0)


def test_human_answers_get_the_punctuation_step_only_when_they_disagree():
    # Disagreeing humans: "t-shirt" → "t shirt", which the normalized prediction matches 3 times.
    assert vqa_accuracy("t-shirt", ["t-shirt"] * 3 + ["shirt"] * 7) == pytest.approx(0.9)
    # Unanimous humans are compared as written, as the official scorer does.
    assert vqa_accuracy("t-shirt", ["t-shirt"] * 10) == 0.0
    assert vqa_accuracy("t shirt", ["t shirt"] * 10) == 1.0


def _example(question_id, answers, answer_type="", question_type=""):
    return VQAExample(question_id, 0, "image.jpg", "question?", tuple(answers), answer_type, question_type)


def test_evaluate_vqa_overall_and_per_type():
    examples = [
        _example(1, ["yes"] * 10, "yes/no", "is the"),
        _example(2, ["no"] * 8 + ["yes"] * 2, "yes/no", "is the"),
        _example(3, ["2"] * 3 + ["3"] * 7, "number", "how many"),
        _example(4, ["red"] * 10, "other", "what color is"),
    ]
    predictions = {1: "yes", 2: "yes", 3: "two", 4: "blue", 99: "ignored"}
    result = evaluate_vqa(predictions, examples)
    assert result["per_question"] == pytest.approx({1: 1.0, 2: 0.6, 3: 0.9, 4: 0.0})
    assert result["overall"] == pytest.approx((1.0 + 0.6 + 0.9 + 0.0) / 4)
    assert result["per_answer_type"] == pytest.approx({"yes/no": 0.8, "number": 0.9, "other": 0.0})
    assert result["per_question_type"] == pytest.approx({"is the": 0.8, "how many": 0.9, "what color is": 0.0})
    assert result["num_questions"] == 4
    assert "per_group" not in result


def test_evaluate_vqa_groups_by_caller_key_and_skips_empty_fields():
    examples = [_example(1, ["yes"] * 10, "presence"), _example(2, ["no"] * 10, "position"), _example(3, ["no"] * 10)]

    def parity(example):
        return "even" if example.question_id % 2 == 0 else "odd"

    result = evaluate_vqa({1: "yes", 2: "yes", 3: "no"}, examples, group_by=parity)
    assert result["per_answer_type"] == {"presence": 1.0, "position": 0.0}
    assert result["per_question_type"] == {}
    assert result["per_group"] == {"odd": 1.0, "even": 0.0}


def test_evaluate_vqa_errors():
    with pytest.raises(ValueError, match=r"1 question\(s\) have no prediction, e.g. question ids \[2\]"):
        evaluate_vqa({1: "yes"}, [_example(1, ["yes"] * 10), _example(2, ["no"] * 10)])
    with pytest.raises(ValueError, match="question 1 has no human answers"):
        evaluate_vqa({1: "yes"}, [_example(1, [])])
    with pytest.raises(ValueError, match="no examples"):
        evaluate_vqa({}, [])
