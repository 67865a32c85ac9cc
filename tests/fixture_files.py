"""Small data-set files in the real formats, written into a test's tmp_path."""

import json

import numpy as np
import tensorflow as tf


def write_image(path, size=(6, 8)):
    """A real encoded image, PNG or JPEG after the file's suffix; returns `path` as a str."""
    pixels = np.random.default_rng(0).integers(0, 256, size=(*size, 3), dtype=np.uint8)
    encode = tf.io.encode_png if str(path).endswith(".png") else tf.io.encode_jpeg
    return write_bytes(path, encode(pixels).numpy())


def write_truncated_image(path):
    """The first half of a real image of `path`'s format."""
    write_image(path)
    with open(path, "rb") as file:
        data = file.read()
    return write_bytes(path, data[: len(data) // 2])


def write_bytes(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def write_text(path, text):
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, value):
    return write_text(path, json.dumps(value, indent=1))


def vqa_questions(*questions):
    """An official VQA question file holding `questions` as (question_id, image_id, text)."""
    return {
        "info": {"description": "VQA v2"},
        "task_type": "Open-Ended",
        "data_type": "mscoco",
        "data_subtype": "train2014",
        "license": {"name": "CC BY 4.0"},
        "questions": [{"image_id": i, "question": q, "question_id": qid} for qid, i, q in questions],
    }


def vqa_annotations(*annotations):
    """An official VQA annotation file from (question_id, image_id, answers) triples."""
    return {
        "info": {},
        "license": {},
        "data_type": "mscoco",
        "data_subtype": "train2014",
        "annotations": [
            {
                "question_id": qid,
                "image_id": image_id,
                "question_type": "what color is",
                "answer_type": "other",
                "multiple_choice_answer": answers[0] if answers else "",
                "answers": [
                    {"answer": a, "answer_confidence": "yes", "answer_id": n + 1} for n, a in enumerate(answers)
                ],
            }
            for qid, image_id, answers in annotations
        ],
    }


def karpathy_image(imgid, filename, captions, split="test", **extra):
    """One image record of a Karpathy split file; `extra` adds "filepath", "cocoid"."""
    sentids = [10 * imgid + n for n in range(len(captions))]
    sentences = [
        {"raw": raw, "tokens": raw.lower().rstrip(".").split(), "imgid": imgid, "sentid": sentid}
        for raw, sentid in zip(captions, sentids)
    ]
    return dict(filename=filename, imgid=imgid, split=split, sentids=sentids, sentences=sentences, **extra)
