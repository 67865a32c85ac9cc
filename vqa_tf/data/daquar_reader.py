"""Reader and writer for DAQUAR's plain-text question-answer files.

A file (qa.894.raw.train.txt, ...) alternates lines: a question that names its
image at the end ("what is on the desk in the image3 ?"), then its answer, a
word or a comma-separated list ("book, scissor, papers").
"""

import os
import re

import tensorflow as tf

from vqa_tf.data.errors import DataError
from vqa_tf.data.examples import VQAExample
from vqa_tf.data.image_files import verify_image_files

_IMAGE_REFERENCE = re.compile(r"\s*\bin the image(\d+)(?=\s*\?$)")


def read_daquar(qa_path, images_dir, image_pattern="image{image_id}.png", check_images=True):
    """Reads a DAQUAR question-answer file.

    Each question loses its " in the imageN" reference (keeping the "?") and
    becomes `VQAExample(question_id=<index of the pair>, image_id=N,
    image_path=<images_dir>/<image_pattern with N>, answers=(<answer line>,))`;
    a list answer stays one string.

    Args:
        qa_path: the text file.
        images_dir: the folder of the NYU-Depth images.
        image_pattern: the file name of an `image_id`, as a `str.format` pattern.
        check_images: decode every image once with `verify_image_file`; pass
            False to leave bad images to the input pipeline.

    Raises:
        DataError: a missing or non-UTF-8 file, an odd number of lines (a
            question without answer), an empty question or answer, a question
            without its "in the imageN ?" ending, a missing or corrupt image.
            The message names the file, the question index and the line.

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "qa.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("what is on the desk in the image3 ?\\nbook, scissor\\n")
    >>> read_daquar(path, "/nyu", check_images=False)
    [VQAExample(question_id=0, image_id=3, image_path='/nyu/image3.png',
                question='what is on the desk ?', answers=('book, scissor',), answer_type='',
                question_type='', evidence_mask_path=None)]
    """
    lines = _read_lines(qa_path)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) % 2:
        raise DataError(
            f"question {len(lines) // 2} (line {len(lines)}) in {qa_path}: no answer line after the question"
        )
    examples = []
    for index in range(len(lines) // 2):
        where = f"question {index} (line {2 * index + 1}) in {qa_path}"
        line, answer = lines[2 * index].strip(), lines[2 * index + 1].strip()
        if not line:
            raise DataError(f"{where}: empty question")
        match = _IMAGE_REFERENCE.search(line)
        if match is None:
            raise DataError(f"{where}: the question does not end with 'in the imageN ?' naming its image")
        question = line[: match.start()] + line[match.end() :]
        if not question.rstrip("?").strip():
            raise DataError(f"{where}: empty question")
        if not answer:
            raise DataError(f"{where}: empty answer on line {2 * index + 2}")
        image_id = int(match.group(1))
        image_path = os.path.join(images_dir, image_pattern.format(image_id=image_id))
        examples.append(VQAExample(index, image_id, image_path, question, answers=(answer,)))
    if check_images:
        verify_image_files((e.image_path, f"question {e.question_id} in {qa_path}") for e in examples)
    return examples


def write_daquar(examples, qa_path):
    """Writes `VQAExample`s as a DAQUAR question-answer file.

    Each question gets " in the image<image_id>" before its final "?". The
    question ids and image paths are not stored: `read_daquar` numbers the
    questions 0, 1, ... and rebuilds the paths from its pattern, so a round
    trip gives back equal examples when the examples follow both. Parent
    directories are created.

    Raises:
        ValueError: a question that does not end with "?", an example without
            exactly one answer, or a line break inside a question or answer.

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "qa.txt")
    >>> write_daquar([VQAExample(0, 5, "image5.png", "what is it ?", ("chair, table",))], path)
    >>> print(open(path).read())
    what is it in the image5 ?
    chair, table
    """
    lines = []
    for e in examples:
        question = e.question.strip()
        one_line = all(len(text.splitlines()) == 1 for text in (question, *e.answers))
        if not question.endswith("?") or len(e.answers) != 1 or not one_line:
            raise ValueError(
                f"question_id {e.question_id}: DAQUAR needs a one-line question ending in '?' and "
                f"one one-line answer, got {question!r} and {e.answers!r}"
            )
        body = question[:-1].rstrip()
        lines += [f"{body} in the image{e.image_id}{question[len(body) :]}", e.answers[0]]
    folder = os.path.dirname(qa_path)
    if folder:
        tf.io.gfile.makedirs(folder)
    with tf.io.gfile.GFile(qa_path, "w") as file:
        file.write("".join(line + "\n" for line in lines))


def _read_lines(path):
    if not tf.io.gfile.exists(path):
        raise DataError(f"missing file {path}")
    with tf.io.gfile.GFile(path, "rb") as file:
        data = file.read()
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text: {error.reason} at byte {error.start}") from None
