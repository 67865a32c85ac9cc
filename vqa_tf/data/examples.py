"""The records every reader and the synthetic generator produce."""

import collections
import dataclasses


def most_common_answer(answers):
    """The answer given most often; of tied answers, the one given first.

    Examples:
    >>> most_common_answer(["2", "two", "3", "two", "2"])
    '2'
    """
    return collections.Counter(answers).most_common(1)[0][0]


@dataclasses.dataclass(frozen=True)
class VQAExample:
    """One question about one image.

    Attributes:
        question_id: unique id of the question in its data set.
        image_id: id of the image the question is about.
        image_path: path of the encoded image file (JPEG or PNG).
        question: the question as written.
        answers: the human answers (ten per question in VQA, one in DAQUAR
            and the synthetic set); empty for unannotated test questions.
        answer_type: VQA's "yes/no", "number" or "other"; the task name in
            the synthetic set; "" where the data set has none.
        question_type: VQA's question-type prefix ("what color is"); "" if none.
        evidence_mask_path: PNG mask of the object the answer depends on
            (synthetic set only), or None.
    """

    question_id: int
    image_id: int
    image_path: str
    question: str
    answers: tuple = ()
    answer_type: str = ""
    question_type: str = ""
    evidence_mask_path: str | None = None

    @property
    def majority_answer(self):
        """The most common human answer (the training target), or None if unannotated."""
        return most_common_answer(self.answers) if self.answers else None


@dataclasses.dataclass(frozen=True)
class CaptionExample:
    """One image with its captions (five in Flickr30K and MS-COCO).

    Attributes:
        image_id: id of the image in its data set.
        image_path: path of the encoded image file.
        captions: the raw caption strings.
        split: "train", "val", "test" or "restval".
    """

    image_id: int
    image_path: str
    captions: tuple
    split: str = ""
