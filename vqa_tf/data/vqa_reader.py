"""Reader and writer for the VQA v1/v2 question and annotation JSON files.

The official files: questions `{"info", "task_type", "data_type", "data_subtype",
"license", "questions": [{"image_id", "question", "question_id"}]}` and
annotations `{"annotations": [{"question_id", "image_id", "question_type",
"answer_type", "multiple_choice_answer", "answers": [{"answer",
"answer_confidence", "answer_id"}]}]}`. The synthetic set adds an
"evidence_mask" field to an annotation: a PNG path relative to the annotation
file's directory, nonzero on the objects the answer rests on (one value per
object the question names, ascending in the order it names them:
`vqa_tf.data.synthetic_files.read_named_object_masks`).
"""

import dataclasses
import os
import string

from vqa_tf.data.errors import DataError
from vqa_tf.data.examples import VQAExample
from vqa_tf.data.image_files import verify_image_files
from vqa_tf.data.json_files import get_field, read_json, write_json


def read_vqa(questions_path, image_pattern, annotations_path=None, check_images=True):
    """Reads a VQA question file and, if given, its annotation file.

    Args:
        questions_path: the question JSON file.
        image_pattern: the image path of an `image_id`, as a `str.format`
            pattern such as "/data/coco/train2014/COCO_train2014_{image_id:012d}.jpg".
        annotations_path: the annotation JSON file; None for unannotated
            questions (test-dev, test-std), which get empty `answers`.
        check_images: decode every image (and evidence mask) once with
            `verify_image_file`. That reads the whole image set, which takes a
            while on VQA's 200k COCO images: pass False to leave bad images to
            the input pipeline.

    Returns:
        A list of `VQAExample`, in question-file order. Only the fields the
        examples hold are required: "answer_confidence", "answer_id" and
        "multiple_choice_answer" may be absent.

    Raises:
        DataError: a missing or malformed file, a record with a missing or
            mistyped field, an empty question, a duplicate question_id, a
            question without annotation or an annotation without question (when
            annotations are given), an annotation with no answers or another
            image_id than its question's, a missing or corrupt image file. The
            message names the file and the record.

    Examples:
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> example = VQAExample(question_id=7, image_id=3, image_path="img/3.png",
    ...                      question="is it red?", answers=("yes", "no", "yes"))
    >>> write_vqa_json([example], os.path.join(folder, "q.json"), os.path.join(folder, "a.json"))
    >>> read_vqa(os.path.join(folder, "q.json"), "img/{image_id}.png",
    ...          os.path.join(folder, "a.json"), check_images=False) == [example]
    True
    """
    _check_pattern(image_pattern)
    examples = {}
    for index, record in enumerate(_records(questions_path, "questions")):
        where = f"question {index} in {questions_path}"
        question_id = get_field(record, "question_id", int, where)
        where = f"question {index} (question_id {question_id}) in {questions_path}"
        if question_id in examples:
            raise DataError(f"{where}: duplicate question_id")
        image_id = get_field(record, "image_id", int, where)
        question = get_field(record, "question", str, where)
        if not question.strip():
            raise DataError(f"{where}: empty question")
        image_path = image_pattern.format(image_id=image_id)
        examples[question_id] = VQAExample(question_id, image_id, image_path, question)
    if annotations_path is not None:
        examples = _annotate(examples, questions_path, annotations_path)
    if check_images:
        verify_image_files(_image_files(examples.values(), questions_path, annotations_path))
    return list(examples.values())


def _check_pattern(image_pattern):
    """Raises DataError unless `image_pattern` is a `str.format` pattern whose one field is {image_id}."""
    try:
        fields = sorted({name for _, name, _, _ in string.Formatter().parse(image_pattern) if name is not None})
    except ValueError as error:
        fields = [f"unparsable: {error}"]
    if fields != ["image_id"]:
        example = image_pattern.rstrip("/") + "/COCO_train2014_{image_id:012d}.jpg"
        raise DataError(
            f"the image path pattern {image_pattern!r} must name each image through one {{image_id}} field "
            f"(a str.format pattern; its fields: {', '.join(fields) or 'none'}); for the COCO images of a "
            f"directory, give {example!r}"
        )


def write_vqa_json(examples, questions_path, annotations_path=None):
    """Writes `VQAExample`s as a VQA question file and, if given, an annotation file.

    The image paths are not stored: `read_vqa` rebuilds them from its
    `image_pattern`, so a round trip gives back equal examples when the paths
    follow the pattern. In the annotations, the answers get answer_id 1..n and
    answer_confidence "yes", multiple_choice_answer is the most common answer
    (the first of a tie), and an evidence mask path is written relative to the
    annotation file's directory (paths under that directory read back
    unchanged). Parent directories are created.

    Raises:
        ValueError: annotations requested for an example with no answers.

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "q.json")
    >>> write_vqa_json([VQAExample(1, 2, "2.png", "what shape?")], path)
    >>> read_json(path)["questions"]
    [{'image_id': 2, 'question': 'what shape?', 'question_id': 1}]
    """
    examples = list(examples)
    if annotations_path is not None:  # before writing anything: it raises on a bad example
        annotations = [_annotation(e, os.path.dirname(annotations_path)) for e in examples]
    header = {"info": {}, "data_type": "", "data_subtype": "", "license": {}}
    questions = [{"image_id": e.image_id, "question": e.question, "question_id": e.question_id} for e in examples]
    write_json({**header, "task_type": "Open-Ended", "questions": questions}, questions_path)
    if annotations_path is not None:
        write_json({**header, "annotations": annotations}, annotations_path)


def _records(path, key):
    return get_field(read_json(path), key, list, f"{path} (top level)")


def _annotate(examples, questions_path, annotations_path):
    """`examples` (question_id → VQAExample) with the annotations' fields filled in."""
    folder = os.path.dirname(annotations_path)
    annotated = {}
    for index, record in enumerate(_records(annotations_path, "annotations")):
        where = f"annotation {index} in {annotations_path}"
        question_id = get_field(record, "question_id", int, where)
        where = f"annotation {index} (question_id {question_id}) in {annotations_path}"
        if question_id not in examples:
            raise DataError(f"{where}: no question with this question_id in {questions_path}")
        if question_id in annotated:
            raise DataError(f"{where}: duplicate annotation")
        image_id = get_field(record, "image_id", int, where)
        if image_id != examples[question_id].image_id:
            raise DataError(
                f"{where}: image_id {image_id} differs from the question's {examples[question_id].image_id}"
            )
        answers = get_field(record, "answers", list, where)
        if not answers:
            raise DataError(f"{where}: no answers")
        mask = get_field(record, "evidence_mask", str, where) if "evidence_mask" in record else None
        annotated[question_id] = dataclasses.replace(
            examples[question_id],
            answers=tuple(get_field(a, "answer", str, f"answer {i} of {where}") for i, a in enumerate(answers)),
            answer_type=get_field(record, "answer_type", str, where),
            question_type=get_field(record, "question_type", str, where),
            evidence_mask_path=None if mask is None else os.path.join(folder, mask),
        )
    for index, question_id in enumerate(examples):
        if question_id not in annotated:
            raise DataError(
                f"question {index} (question_id {question_id}) in {questions_path}: no annotation in {annotations_path}"
            )
    return {question_id: annotated[question_id] for question_id in examples}


def _annotation(example, folder):
    if not example.answers:
        raise ValueError(f"question_id {example.question_id} has no answers to annotate")
    annotation = {
        "question_id": example.question_id,
        "image_id": example.image_id,
        "question_type": example.question_type,
        "answer_type": example.answer_type,
        "multiple_choice_answer": example.majority_answer,
        "answers": [
            {"answer": answer, "answer_confidence": "yes", "answer_id": i}
            for i, answer in enumerate(example.answers, start=1)
        ],
    }
    if example.evidence_mask_path is not None:
        annotation["evidence_mask"] = os.path.relpath(example.evidence_mask_path, folder or ".")
    return annotation


def _image_files(examples, questions_path, annotations_path):
    """(path, record) pairs of every image and evidence mask, for `verify_image_files`."""
    for e in examples:
        yield e.image_path, f"question_id {e.question_id} in {questions_path}"
        if e.evidence_mask_path is not None:
            record = f"the evidence mask of question_id {e.question_id} in {annotations_path}"
            yield e.evidence_mask_path, record
