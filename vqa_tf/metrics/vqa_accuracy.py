"""Open-ended VQA accuracy, scored as the official VQA evaluation (vqaEval.py) scores it.

All figures are fractions in [0, 1]; the official scorer prints 100 times them,
rounded to two decimals (58.24 is 0.5824 here).
"""

import collections
import re

# Marks that become a space, or vanish when a space touches one or when the
# text holds a digit-comma-digit group such as "1,000". Periods have their own
# rule. The apostrophe and the colon are not marks here, as in the official list.
_PUNCTUATION = (
    ";",
    "/",
    "[",
    "]",
    '"',
    "{",
    "}",
    "(",
    ")",
    "=",
    "+",
    "\\",
    "_",
    "-",
    ">",
    "<",
    "@",
    "`",
    ",",
    "?",
    "!",
)
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
# A period goes unless a digit follows it ("3.5" keeps it). The official code
# passes re.UNICODE (32) where `count` goes, so it strips at most 32 periods.
_PERIOD = re.compile(r"\.(?!\d)")
_MAX_PERIODS_STRIPPED = 32

_NUMBER_WORDS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_ARTICLES = frozenset({"a", "an", "the"})
# The official contraction map, entry for entry. Words are lowercased before
# the lookup, so its capitalised keys ("Im", "Ive", "Id've", "I'dve") never
# match; "somebody'd" really does map to "somebodyd".
_CONTRACTIONS = {
    "aint": "ain't",
    "arent": "aren't",
    "cant": "can't",
    "couldve": "could've",
    "couldnt": "couldn't",
    "couldn'tve": "couldn't've",
    "couldnt've": "couldn't've",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "dont": "don't",
    "hadnt": "hadn't",
    "hadnt've": "hadn't've",
    "hadn'tve": "hadn't've",
    "hasnt": "hasn't",
    "havent": "haven't",
    "hed": "he'd",
    "hed've": "he'd've",
    "he'dve": "he'd've",
    "hes": "he's",
    "howd": "how'd",
    "howll": "how'll",
    "hows": "how's",
    "Id've": "I'd've",
    "I'dve": "I'd've",
    "Im": "I'm",
    "Ive": "I've",
    "isnt": "isn't",
    "itd": "it'd",
    "itd've": "it'd've",
    "it'dve": "it'd've",
    "itll": "it'll",
    "let's": "let's",
    "maam": "ma'am",
    "mightnt": "mightn't",
    "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've",
    "mightve": "might've",
    "mustnt": "mustn't",
    "mustve": "must've",
    "neednt": "needn't",
    "notve": "not've",
    "oclock": "o'clock",
    "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at",
    "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at",
    "shant": "shan't",
    "shed've": "she'd've",
    "she'dve": "she'd've",
    "she's": "she's",
    "shouldve": "should've",
    "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll",
    "somebodys": "somebody's",
    "someoned": "someone'd",
    "someoned've": "someone'd've",
    "someone'dve": "someone'd've",
    "someonell": "someone'll",
    "someones": "someone's",
    "somethingd": "something'd",
    "somethingd've": "something'd've",
    "something'dve": "something'd've",
    "somethingll": "something'll",
    "thats": "that's",
    "thered": "there'd",
    "thered've": "there'd've",
    "there'dve": "there'd've",
    "therere": "there're",
    "theres": "there's",
    "theyd": "they'd",
    "theyd've": "they'd've",
    "they'dve": "they'd've",
    "theyll": "they'll",
    "theyre": "they're",
    "theyve": "they've",
    "twas": "'twas",
    "wasnt": "wasn't",
    "wed've": "we'd've",
    "we'dve": "we'd've",
    "weve": "we've",
    "werent": "weren't",
    "whatll": "what'll",
    "whatre": "what're",
    "whats": "what's",
    "whatve": "what've",
    "whens": "when's",
    "whered": "where'd",
    "wheres": "where's",
    "whereve": "where've",
    "whod": "who'd",
    "whod've": "who'd've",
    "who'dve": "who'd've",
    "wholl": "who'll",
    "whos": "who's",
    "whove": "who've",
    "whyll": "why'll",
    "whyre": "why're",
    "whys": "why's",
    "wont": "won't",
    "wouldve": "would've",
    "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've",
    "yall": "y'all",
    "yall'll": "y'all'll",
    "y'allll": "y'all'll",
    "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've",
    "youd": "you'd",
    "youd've": "you'd've",
    "you'dve": "you'd've",
    "youll": "you'll",
    "youre": "you're",
    "youve": "you've",
}


def _strip_punctuation(text):
    """The official punctuation step: each mark is decided on the whole input."""
    remove = _DIGIT_COMMA_DIGIT.search(text) is not None
    out = text
    for mark in _PUNCTUATION:
        touches_space = f"{mark} " in text or f" {mark}" in text
        out = out.replace(mark, "" if remove or touches_space else " ")
    return _PERIOD.sub("", out, count=_MAX_PERIODS_STRIPPED)


def normalize_answer(text):
    """Normalizes an answer the way the official VQA scorer normalizes predictions.

    In order: newlines and tabs become spaces and the ends are stripped;
    punctuation is removed or replaced by a space (removed when a space touches
    the mark or the text holds a group like "1,000"; a period survives only
    before a digit); then the text is lowercased and split on whitespace,
    number words "none", "zero" … "ten" become digits, the articles "a", "an",
    "the" are dropped and contractions written without an apostrophe
    ("dont") get one; the words are joined by single spaces.

    Examples:
    >>> normalize_answer("The two dogs, dont!")
    "2 dogs don't"
    >>> normalize_answer("1,000"), normalize_answer("t-shirt"), normalize_answer("3.5.")
    ('1000', 't shirt', '3.5')
    """
    text = text.replace("\n", " ").replace("\t", " ").strip()
    words = [_NUMBER_WORDS.get(word, word) for word in _strip_punctuation(text).lower().split()]
    return " ".join(_CONTRACTIONS.get(word, word) for word in words if word not in _ARTICLES)


def vqa_accuracy(prediction, human_answers):
    """Official accuracy of one predicted answer against the human answers.

    The prediction is normalized with `normalize_answer`. Human answers are
    taken as released (the official annotation files are already normalized);
    as in the official scorer, they only get the punctuation step, and only
    when the humans disagree. The score is the mean, over each human left out
    in turn, of min(1, matches among the other humans / 3): with ten humans,
    1, 2, 3 and 4+ matches score 0.3, 0.6, 0.9 and 1.0. A single reference
    answer (DAQUAR, the synthetic set) leaves no one to match, so there the
    score is exact match of the two normalized answers instead; the official
    data always has ten.

    Args:
        prediction: the model's answer string.
        human_answers: the human answer strings (ten in VQA).

    Returns:
        A float in [0, 1].

    Examples:
    >>> vqa_accuracy("Two", ["2", "2", "3", "4", "3", "3", "3", "3", "3", "3"])
    0.6
    """
    humans = list(human_answers)
    if not humans:
        raise ValueError("there are no human answers to score the prediction against")
    if len(humans) == 1:
        return float(normalize_answer(prediction) == normalize_answer(humans[0]))
    if len(set(humans)) > 1:
        humans = [_strip_punctuation(answer) for answer in humans]
    predicted = normalize_answer(prediction)
    matches = sum(answer == predicted for answer in humans)
    left_out_scores = [min(1.0, (matches - (answer == predicted)) / 3.0) for answer in humans]
    return sum(left_out_scores) / len(humans)


def _means(grouped_scores):
    return {key: sum(scores) / len(scores) for key, scores in grouped_scores.items()}


def evaluate_vqa(predictions, examples, group_by=None):
    """Official VQA accuracy over a set of questions, overall and per group.

    Args:
        predictions: {question_id: predicted answer string}; ids that no
            example asks about are ignored.
        examples: iterable of `vqa_tf.data.examples.VQAExample`, each with its
            human answers; every one needs a prediction.
        group_by: optional function example -> key; its per-key means are
            returned under "per_group".

    Returns:
        A dict of fractions in [0, 1]: "overall"; "per_answer_type" (VQA's
        "yes/no", "number", "other", or the synthetic set's task names) and
        "per_question_type", both skipping examples whose field is "";
        "per_group" when `group_by` is given; "per_question" {question_id:
        accuracy}; and "num_questions".

    Examples:
    >>> from vqa_tf.data.examples import VQAExample
    >>> examples = [VQAExample(1, 7, "a.jpg", "Is it red?", ("yes",) * 10, "yes/no"),
    ...             VQAExample(2, 7, "a.jpg", "How many?", ("2",) * 3 + ("3",) * 7, "number")]
    >>> result = evaluate_vqa({1: "yes", 2: "two"}, examples)
    >>> result["overall"], result["per_answer_type"]
    (0.95, {'yes/no': 1.0, 'number': 0.9})
    """
    per_question = {}
    grouped = {name: collections.defaultdict(list) for name in ("per_answer_type", "per_question_type", "per_group")}
    missing = []
    for example in examples:
        if example.question_id not in predictions:
            missing.append(example.question_id)
            continue
        if not example.answers:
            raise ValueError(f"question {example.question_id} has no human answers (an unannotated test question?)")
        accuracy = vqa_accuracy(predictions[example.question_id], example.answers)
        per_question[example.question_id] = accuracy
        for name, key in (("per_answer_type", example.answer_type), ("per_question_type", example.question_type)):
            if key:
                grouped[name][key].append(accuracy)
        if group_by is not None:
            grouped["per_group"][group_by(example)].append(accuracy)
    if missing:
        raise ValueError(f"{len(missing)} question(s) have no prediction, e.g. question ids {missing[:5]}")
    if not per_question:
        raise ValueError("there are no examples to evaluate")
    result = {
        "overall": sum(per_question.values()) / len(per_question),
        "per_answer_type": _means(grouped["per_answer_type"]),
        "per_question_type": _means(grouped["per_question_type"]),
        "per_question": per_question,
        "num_questions": len(per_question),
    }
    if group_by is not None:
        result["per_group"] = _means(grouped["per_group"])
    return result
