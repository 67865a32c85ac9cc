"""Writes the synthetic sets to disk in the formats of the real readers.

VQA questions go to the official VQA question/annotation JSON pair (ten
copies of the one answer, so the official accuracy applies unchanged; the
task name as answer type and the question's form (affirmative, negated or
open) as question type; an "evidence_mask" PNG per answerable question,
see `read_named_object_masks`), captions to the Karpathy split JSON.
`read_vqa` and `read_karpathy_json` read them back like any real data set.
"""

import os

import numpy as np
import tensorflow as tf

from vqa_tf.data.caption_reader import write_karpathy_json
from vqa_tf.data.examples import CaptionExample, VQAExample
from vqa_tf.data.synthetic import SpatialShapesCaptions, SpatialShapesVQA
from vqa_tf.data.vqa_reader import write_vqa_json

ANSWER_COPIES = 10


def _write_png(path, pixels):
    tf.io.gfile.makedirs(os.path.dirname(path))
    tf.io.write_file(path, tf.io.encode_png(pixels))


def read_evidence_mask(path):
    """The boolean [S, S] evidence mask a written split stores at `path`; None for None (no object)."""
    if path is None:
        return None
    return _read_mask_values(path) > 0


def read_named_object_masks(path):
    """[boolean [S, S] mask per object the question names, in the order it names them]; [] for None.

    An evidence mask PNG marks each named object with its own nonzero value,
    in ascending order of mention ("is the red square above the blue
    circle?": the square's value is below the circle's). A 0/255 mask is one
    object, or several named together (the shapes a count counts).

    Examples:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "mask.png")
    >>> write_evidence_mask(path, np.array([[0, 2], [1, 0]], np.uint8))
    >>> [m.astype(int).tolist() for m in read_named_object_masks(path)]
    [[[0, 0], [1, 0]], [[0, 1], [0, 0]]]
    """
    if path is None:
        return []
    values = _read_mask_values(path)
    return [values == value for value in np.unique(values[values > 0])]


def write_evidence_mask(path, labels):
    """Writes `labels` (uint8 [S, S], k on the k-th named object) as an evidence mask PNG, each k scaled by
    255 // the largest (a one-object mask is 0/255)."""
    scale = 255 // max(int(labels.max()), 1)
    _write_png(path, (labels.astype(np.uint8) * scale)[..., None])


def _read_mask_values(path):
    return tf.io.decode_png(tf.io.read_file(path)).numpy()[..., 0]


def vqa_paths(directory, split):
    """(questions JSON, annotations JSON, image path pattern) of a written split."""
    return (
        os.path.join(directory, f"{split}_questions.json"),
        os.path.join(directory, f"{split}_annotations.json"),
        os.path.join(directory, "images", split, "{image_id:06d}.png"),
    )


def write_synthetic_vqa(directory, split, count, seed, image_size=64, **options):
    """Writes samples 0..count−1 of `SpatialShapesVQA(seed, image_size, **options)`; returns their `VQAExample`s.

    Examples:
    >>> import tempfile
    >>> examples = write_synthetic_vqa(tempfile.mkdtemp(), "val", count=4, seed=1)
    >>> [(e.answer_type, e.question_type, e.answers[0]) for e in examples]  # doctest: +NORMALIZE_WHITESPACE
    [('presence', 'affirmative', 'yes'), ('absolute_position', 'affirmative', 'yes'),
     ('relative_position', 'negated', 'yes'), ('attribute', 'affirmative', 'yes')]
    """
    questions_path, annotations_path, pattern = vqa_paths(directory, split)
    examples = []
    for sample in SpatialShapesVQA(seed, image_size, **options).samples(count):
        image_path = pattern.format(image_id=sample.index)
        _write_png(image_path, sample.image)
        mask_path = None
        if sample.evidence_mask.any():
            mask_path = os.path.join(directory, "masks", split, f"{sample.index:06d}.png")
            write_evidence_mask(mask_path, sample.evidence_labels)
        examples.append(
            VQAExample(
                question_id=sample.index,
                image_id=sample.index,
                image_path=image_path,
                question=sample.question,
                answers=(sample.answer,) * ANSWER_COPIES,
                answer_type=sample.task,
                question_type=sample.form,
                evidence_mask_path=mask_path,
            )
        )
    write_vqa_json(examples, questions_path, annotations_path)
    return examples


def captions_path(directory):
    return os.path.join(directory, "captions.json")


def write_synthetic_captions(directory, splits, seed, image_size=64, background="mixed"):
    """Writes caption splits, e.g. `splits={"train": 10000, "test": 1000}`, to one Karpathy JSON.

    Every split draws from its own seed (`seed` + its position in `splits`).
    A training image has two captions, the fact and its converse, so that a
    batch can hold two captions of one image, as with COCO's or Flickr30K's
    five. Evaluation splits (all but "train") are galleries: one caption per
    image, unique within the split, so each caption has exactly one right
    image. Returns the examples.
    """
    examples = []
    for offset, (split, count) in enumerate(splits.items()):
        data = SpatialShapesCaptions(seed + offset, image_size, background)
        for sample in data.samples(count) if split == "train" else data.gallery(count):
            image_id = len(examples)
            image_path = os.path.join(directory, "images", f"captions_{split}", f"{image_id:06d}.png")
            _write_png(image_path, sample.image)
            captions = sample.captions if split == "train" else (sample.caption,)
            examples.append(CaptionExample(image_id, image_path, captions, split))
    write_karpathy_json(examples, captions_path(directory), directory, dataset="synthetic_shapes")
    return examples
