"""Readers and writers for VQA JSON, DAQUAR text and Karpathy caption JSON, on small real-format files."""

import json
from pathlib import Path

import pytest
from fixture_files import (
    karpathy_image,
    vqa_annotations,
    vqa_questions,
    write_bytes,
    write_image,
    write_json,
    write_text,
    write_truncated_image,
)

from vqa_tf.data.caption_reader import read_karpathy_json, write_karpathy_json
from vqa_tf.data.daquar_reader import read_daquar, write_daquar
from vqa_tf.data.errors import DataError
from vqa_tf.data.examples import CaptionExample, VQAExample
from vqa_tf.data.image_files import verify_image_file
from vqa_tf.data.vqa_reader import read_vqa, write_vqa_json


def assert_data_error(read, *parts):
    """`read()` raises a DataError whose message contains every one of `parts`."""
    with pytest.raises(DataError) as caught:
        read()
    for part in parts:
        assert part in str(caught.value), f"{part!r} not in {str(caught.value)!r}"


# --- image files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a.png", "a.jpg"])
def test_verify_image_file_accepts_png_and_jpeg(tmp_path, name):
    verify_image_file(write_image(tmp_path / name), "question_id 1 in q.json")


def test_verify_image_file_missing(tmp_path):
    path = str(tmp_path / "none.png")
    assert_data_error(
        lambda: verify_image_file(path, "question_id 42 in q.json"),
        f"missing image file {path} for question_id 42 in q.json",
    )


def test_verify_image_file_directory_is_missing(tmp_path):
    assert_data_error(lambda: verify_image_file(str(tmp_path), "image 0"), f"missing image file {tmp_path}")


@pytest.mark.parametrize("name", ["a.png", "a.jpg"])
def test_verify_image_file_truncated(tmp_path, name):
    path = write_truncated_image(tmp_path / name)
    with pytest.raises(DataError, match=r"corrupt image file .* for image 3 in c\.json: \w") as caught:
        verify_image_file(path, "image 3 in c.json")
    assert path in str(caught.value) and "Op:" not in str(caught.value)


def test_verify_image_file_not_an_image(tmp_path):
    path = write_text(tmp_path / "a.png", "<html>not found</html>")
    assert_data_error(
        lambda: verify_image_file(path, "image 3"), f"corrupt image file {path} for image 3: not a JPEG or PNG file"
    )


# --- VQA -----------------------------------------------------------------------------------------

PATTERN = "COCO_train2014_{image_id:012d}.jpg"
TEN = ("red",) * 6 + ("dark red",) * 3 + ("maroon",)


@pytest.fixture
def vqa(tmp_path):
    """Official-format question and annotation files and their images; returns a `read` function."""
    write_image(tmp_path / "images" / PATTERN.format(image_id=9))
    write_image(tmp_path / "images" / PATTERN.format(image_id=25))
    files = {
        "questions": vqa_questions(
            (90, 9, "What color is the bus?"), (91, 9, "Is it raining?"), (250, 25, "How many cars?")
        ),
        "annotations": vqa_annotations((90, 9, TEN), (91, 9, ("no",) * 10), (250, 25, ("2",) * 9 + ("3",))),
    }

    def read(check_images=True, annotated=True, **edits):
        """Reads the files after `edits` (file name → function editing its JSON in place)."""
        for name, edit in edits.items():
            edit(files[name])
        paths = {name: write_json(tmp_path / f"{name}.json", value) for name, value in files.items()}
        return read_vqa(
            paths["questions"],
            str(tmp_path / "images" / PATTERN),
            paths["annotations"] if annotated else None,
            check_images=check_images,
        )

    read.dir = tmp_path
    read.questions, read.annotations = str(tmp_path / "questions.json"), str(tmp_path / "annotations.json")
    return read


def test_reads_official_vqa_files(vqa):
    examples = vqa()
    assert [e.question_id for e in examples] == [90, 91, 250]
    assert examples[0] == VQAExample(
        question_id=90,
        image_id=9,
        image_path=str(vqa.dir / "images" / "COCO_train2014_000000000009.jpg"),
        question="What color is the bus?",
        answers=TEN,
        answer_type="other",
        question_type="what color is",
    )
    assert examples[2].answers == ("2",) * 9 + ("3",)


def test_reads_vqa_questions_without_annotations(vqa):
    examples = vqa(annotated=False)
    assert [e.question_id for e in examples] == [90, 91, 250]
    assert {(e.answers, e.answer_type, e.question_type) for e in examples} == {((), "", "")}


def test_vqa_round_trip_with_evidence_masks(tmp_path):
    examples = [
        VQAExample(
            0,
            5,
            str(tmp_path / "img" / "5.png"),
            "is there a square on the top?",
            ("yes",),
            "absolute_position",
            "is there",
            str(tmp_path / "data" / "masks" / "0.png"),
        ),
        VQAExample(1, 6, str(tmp_path / "img" / "6.png"), "what is left of the circle?", ("square",)),
    ]
    for path in [e.image_path for e in examples] + [examples[0].evidence_mask_path]:
        write_image(Path(path))
    questions, annotations = tmp_path / "data" / "q.json", tmp_path / "data" / "a.json"
    write_vqa_json(examples, str(questions), str(annotations))
    assert json.loads(annotations.read_text())["annotations"][0]["evidence_mask"] == "masks/0.png"
    assert read_vqa(str(questions), str(tmp_path / "img" / "{image_id}.png"), str(annotations)) == examples


def test_vqa_writer_annotation_fields(tmp_path):
    answers = ("blue", "red", "red", "blue", "green")
    example = VQAExample(3, 4, "4.jpg", "what color?", answers, "other", "what color")
    write_vqa_json([example], str(tmp_path / "q.json"), str(tmp_path / "a.json"))
    annotation = json.loads((tmp_path / "a.json").read_text())["annotations"][0]
    assert annotation["multiple_choice_answer"] == "blue"  # the first of the tie
    assert annotation["answers"][4] == {"answer": "green", "answer_confidence": "yes", "answer_id": 5}
    assert set(json.loads((tmp_path / "q.json").read_text())) == {
        "info",
        "task_type",
        "data_type",
        "data_subtype",
        "license",
        "questions",
    }


def test_vqa_writer_refuses_to_annotate_an_unanswered_example(tmp_path):
    with pytest.raises(ValueError, match="question_id 3 has no answers"):
        write_vqa_json([VQAExample(3, 4, "4.jpg", "what?")], str(tmp_path / "q.json"), str(tmp_path / "a.json"))
    assert not (tmp_path / "q.json").exists()


def test_vqa_malformed_json(vqa):
    write_text(vqa.dir / "bad.json", '{\n  "questions": [\n    {"image_id": 1,, "question": "what?"}\n')
    path = str(vqa.dir / "bad.json")
    assert_data_error(lambda: read_vqa(path, PATTERN), f"malformed JSON in {path}: line 3 column 20")


def test_vqa_missing_question_file(vqa):
    path = str(vqa.dir / "none.json")
    assert_data_error(lambda: read_vqa(path, PATTERN), f"missing file {path}")


def test_vqa_missing_top_level_key(vqa):
    assert_data_error(
        lambda: vqa(questions=lambda q: q.pop("questions")), f"{vqa.questions} (top level): missing field 'questions'"
    )


def test_vqa_missing_annotations_key(vqa):
    assert_data_error(
        lambda: vqa(annotations=lambda a: a.pop("annotations")),
        f"{vqa.annotations} (top level): missing field 'annotations'",
    )


def test_vqa_question_missing_field(vqa):
    assert_data_error(
        lambda: vqa(questions=lambda q: q["questions"][1].pop("question")),
        f"question 1 (question_id 91) in {vqa.questions}: missing field 'question'",
    )


def test_vqa_question_id_of_wrong_type(vqa):
    def edit(questions):
        questions["questions"][2]["question_id"] = "250"

    assert_data_error(
        lambda: vqa(questions=edit),
        f"question 2 in {vqa.questions}: field 'question_id' should be an integer, got '250'",
    )


def test_vqa_question_record_not_an_object(vqa):
    assert_data_error(
        lambda: vqa(questions=lambda q: q["questions"].append("Is it?")),
        f"question 3 in {vqa.questions}: should be an object",
    )


@pytest.mark.parametrize("text", ["", "  \t"])
def test_vqa_empty_question(vqa, text):
    def edit(questions):
        questions["questions"][0]["question"] = text

    assert_data_error(lambda: vqa(questions=edit), f"question 0 (question_id 90) in {vqa.questions}: empty question")


def test_vqa_duplicate_question_id(vqa):
    def edit(questions):
        questions["questions"][2]["question_id"] = 90

    assert_data_error(
        lambda: vqa(questions=edit, check_images=False),
        f"question 2 (question_id 90) in {vqa.questions}: duplicate question_id",
    )


def test_vqa_question_without_annotation(vqa):
    assert_data_error(
        lambda: vqa(annotations=lambda a: a["annotations"].pop(1)),
        f"question 1 (question_id 91) in {vqa.questions}: no annotation in {vqa.annotations}",
    )


def test_vqa_annotation_without_question(vqa):
    assert_data_error(
        lambda: vqa(questions=lambda q: q["questions"].pop(2)),
        f"annotation 2 (question_id 250) in {vqa.annotations}: no question with this question_id in {vqa.questions}",
    )


def test_vqa_annotation_for_another_image(vqa):
    def edit(annotations):
        annotations["annotations"][1]["image_id"] = 25

    assert_data_error(
        lambda: vqa(annotations=edit),
        f"annotation 1 (question_id 91) in {vqa.annotations}: image_id 25 differs from the question's 9",
    )


def test_vqa_annotation_missing_field(vqa):
    assert_data_error(
        lambda: vqa(annotations=lambda a: a["annotations"][0].pop("answer_type")),
        f"annotation 0 (question_id 90) in {vqa.annotations}: missing field 'answer_type'",
    )


def test_vqa_annotation_without_answers(vqa):
    def edit(annotations):
        annotations["annotations"][0]["answers"] = []

    assert_data_error(lambda: vqa(annotations=edit), f"annotation 0 (question_id 90) in {vqa.annotations}: no answers")


def test_vqa_answer_of_wrong_type(vqa):
    def edit(annotations):
        annotations["annotations"][2]["answers"][9]["answer"] = 3

    assert_data_error(
        lambda: vqa(annotations=edit),
        f"answer 9 of annotation 2 (question_id 250) in {vqa.annotations}: field 'answer' should be a string, got 3",
    )


def test_vqa_missing_image(vqa):
    path = vqa.dir / "images" / PATTERN.format(image_id=25)
    path.unlink()
    assert_data_error(vqa, f"missing image file {path} for question_id 250 in {vqa.questions}")
    assert len(vqa(check_images=False)) == 3


def test_vqa_corrupt_image(vqa):
    path = write_truncated_image(vqa.dir / "images" / PATTERN.format(image_id=9))
    assert_data_error(vqa, f"corrupt image file {path} for question_id 90 in {vqa.questions}: ")


def test_vqa_missing_evidence_mask(vqa):
    def edit(annotations):
        annotations["annotations"][1]["evidence_mask"] = "masks/91.png"

    assert_data_error(
        lambda: vqa(annotations=edit),
        f"missing image file {vqa.dir / 'masks' / '91.png'} for the evidence mask of "
        f"question_id 91 in {vqa.annotations}",
    )


# --- DAQUAR --------------------------------------------------------------------------------------

DAQUAR_TEXT = (
    "what is on the right side of the black telephone and on the left side of the red chair in the image3 ?\n"
    "desk\n"
    "what is on the floor on the right side of the image10 behind the door frame in the image10 ?\n"
    "garbage_bin\n"
    "what is on the desk in the image3 ?\n"
    "book, scissor, papers, tape_dispenser\n"
)


@pytest.fixture
def daquar(tmp_path):
    """Writes `text` as a DAQUAR file next to images 3 and 10; returns a `read(text, **kwargs)` function."""
    write_image(tmp_path / "nyu" / "image3.png")
    write_image(tmp_path / "nyu" / "image10.png")

    def read(text=DAQUAR_TEXT, **kwargs):
        return read_daquar(write_text(tmp_path / "qa.txt", text), str(tmp_path / "nyu"), **kwargs)

    read.path = str(tmp_path / "qa.txt")
    read.images = tmp_path / "nyu"
    return read


def test_reads_daquar(daquar):
    examples = daquar(DAQUAR_TEXT.replace("\n", "\r\n") + "\n")  # Windows line ends and a trailing blank line
    assert examples[1] == VQAExample(
        question_id=1,
        image_id=10,
        image_path=str(daquar.images / "image10.png"),
        question="what is on the floor on the right side of the image10 behind the door frame ?",
        answers=("garbage_bin",),
    )
    assert [e.question for e in examples][::2] == [
        "what is on the right side of the black telephone and on the left side of the red chair ?",
        "what is on the desk ?",
    ]
    assert examples[2].answers == ("book, scissor, papers, tape_dispenser",)
    assert [e.image_id for e in examples] == [3, 10, 3]


def test_daquar_image_pattern(daquar):
    examples = daquar(image_pattern="{image_id:04d}.jpg", check_images=False)
    assert examples[0].image_path == str(daquar.images / "0003.jpg")


def test_daquar_round_trip(tmp_path):
    images = tmp_path / "nyu"
    examples = [
        VQAExample(0, 7, str(images / "image7.png"), "how many chairs are there ?", ("3",)),
        VQAExample(1, 2, str(images / "image2.png"), "what colour is the sofa?", ("red, white",)),
    ]
    for e in examples:
        write_image(Path(e.image_path))
    path = str(tmp_path / "out" / "qa.txt")
    write_daquar(examples, path)
    assert read_daquar(path, str(images)) == examples


@pytest.mark.parametrize(
    "example",
    [
        VQAExample(0, 1, "image1.png", "what is it", ("cup",)),
        VQAExample(0, 1, "image1.png", "what is it ?", ("cup", "mug")),
        VQAExample(0, 1, "image1.png", "what is it ?", ("cup\nmug",)),
    ],
)
def test_daquar_writer_refuses_what_the_format_cannot_hold(tmp_path, example):
    with pytest.raises(ValueError, match="question_id 0: DAQUAR needs"):
        write_daquar([example], str(tmp_path / "qa.txt"))


def test_daquar_odd_number_of_lines(daquar):
    assert_data_error(
        lambda: daquar(DAQUAR_TEXT + "how many chairs are there in the image3 ?\n"),
        f"question 3 (line 7) in {daquar.path}: no answer line after the question",
    )


def test_daquar_empty_answer(daquar):
    assert_data_error(
        lambda: daquar(DAQUAR_TEXT.replace("desk\n", "  \n")),
        f"question 0 (line 1) in {daquar.path}: empty answer on line 2",
    )


def test_daquar_question_without_image(daquar):
    assert_data_error(
        lambda: daquar(DAQUAR_TEXT.replace(" in the image3 ?\nbook", " ?\nbook")),
        f"question 2 (line 5) in {daquar.path}: the question does not end with 'in the imageN ?'",
    )


@pytest.mark.parametrize("question", ["", "in the image3 ?"])
def test_daquar_empty_question(daquar, question):
    assert_data_error(
        lambda: daquar(DAQUAR_TEXT + f"{question}\nchair\n"), f"question 3 (line 7) in {daquar.path}: empty question"
    )


def test_daquar_not_utf8(daquar):
    path = write_bytes(daquar.images.parent / "qa.txt", b"what is \xff in the image3 ?\nchair\n")
    assert_data_error(lambda: read_daquar(path, str(daquar.images)), f"{path} is not UTF-8 text")


def test_daquar_missing_file(daquar):
    assert_data_error(lambda: read_daquar("/no/qa.txt", str(daquar.images)), "missing file /no/qa.txt")


def test_daquar_missing_image(daquar):
    (daquar.images / "image10.png").unlink()
    assert_data_error(daquar, f"missing image file {daquar.images / 'image10.png'} for question 1 in {daquar.path}")


def test_daquar_corrupt_image(daquar):
    path = write_truncated_image(daquar.images / "image3.png")
    assert_data_error(daquar, f"corrupt image file {path} for question 0 in {daquar.path}: ")


# --- Karpathy caption JSON -----------------------------------------------------------------------


@pytest.fixture
def karpathy(tmp_path):
    """A Flickr30K-style split file over three images; returns `read(edit=None, **kwargs)`."""
    root = tmp_path / "flickr30k-images"
    images = [
        karpathy_image(0, "1000092795.jpg", ["Two young guys with shaggy hair.", "Two friends."], "train"),
        karpathy_image(1, "10002456.jpg", ["Several men in hard hats."], "test"),
        karpathy_image(2, "1000268201.jpg", ["A child in a pink dress.", "A little girl climbing."], "val"),
    ]
    for image in images:
        write_image(root / image["filename"])

    def read(edit=None, **kwargs):
        value = {"dataset": "flickr30k", "images": images}
        if edit is not None:
            edit(value)
        return read_karpathy_json(write_json(tmp_path / "dataset_flickr30k.json", value), str(root), **kwargs)

    read.path = str(tmp_path / "dataset_flickr30k.json")
    read.root = root
    return read


def test_reads_flickr30k_split(karpathy):
    examples = karpathy()
    assert examples[0] == CaptionExample(
        0, str(karpathy.root / "1000092795.jpg"), ("Two young guys with shaggy hair.", "Two friends."), "train"
    )
    assert [e.split for e in examples] == ["train", "test", "val"]
    assert [e.image_id for e in karpathy(splits="test")] == [1]
    assert [e.image_id for e in karpathy(splits=("train", "val"))] == [0, 2]


def test_reads_coco_split_with_cocoid_and_filepath(tmp_path):
    image = karpathy_image(
        0, "COCO_val2014_000000391895.jpg", ["A man riding a bike."], "restval", filepath="val2014", cocoid=391895
    )
    write_image(tmp_path / "coco" / "val2014" / image["filename"])
    path = write_json(tmp_path / "dataset_coco.json", {"dataset": "coco", "images": [image]})
    assert read_karpathy_json(path, str(tmp_path / "coco")) == [
        CaptionExample(
            391895, str(tmp_path / "coco" / "val2014" / image["filename"]), ("A man riding a bike.",), "restval"
        )
    ]


def test_karpathy_round_trip(tmp_path):
    root = tmp_path / "images"
    examples = [
        CaptionExample(3, str(root / "3.png"), ("A red square above a circle.", "A square."), "train"),
        CaptionExample(8, str(root / "sub" / "8.jpg"), ("Nothing left of the triangle.",), "test"),
    ]
    for e in examples:
        write_image(Path(e.image_path))
    path = str(tmp_path / "out" / "captions.json")
    write_karpathy_json(examples, path, str(root))
    written = json.loads(open(path).read())["images"]
    assert [w["sentids"] for w in written] == [[0, 1], [2]] and written[1]["filepath"] == "sub"
    assert read_karpathy_json(path, str(root)) == examples


def test_karpathy_writer_refuses_images_outside_the_root(tmp_path):
    with pytest.raises(ValueError, match="image_id 3: /elsewhere/3.png is not under"):
        write_karpathy_json(
            [CaptionExample(3, "/elsewhere/3.png", ("A cat.",))], str(tmp_path / "c.json"), str(tmp_path)
        )


def test_karpathy_malformed_json(karpathy):
    path = write_text(karpathy.root.parent / "bad.json", '{"images": [\n{"filename": "a.jpg" "imgid": 0}]}')
    assert_data_error(
        lambda: read_karpathy_json(path, str(karpathy.root)),
        f"malformed JSON in {path}: line 2 column 22: Expecting ','",
    )


def test_karpathy_missing_top_level_key(karpathy):
    assert_data_error(
        lambda: karpathy(lambda v: v.pop("images")), f"{karpathy.path} (top level): missing field 'images'"
    )


def test_karpathy_image_missing_field(karpathy):
    assert_data_error(
        lambda: karpathy(lambda v: v["images"][1].pop("filename")),
        f"image 1 (imgid 1) in {karpathy.path}: missing field 'filename'",
    )


def test_karpathy_split_of_wrong_type(karpathy):
    def edit(value):
        value["images"][2]["split"] = ["val"]

    assert_data_error(
        lambda: karpathy(edit), f"image 2 (imgid 2) in {karpathy.path}: field 'split' should be a string, got ['val']"
    )


def test_karpathy_sentence_missing_raw(karpathy):
    assert_data_error(
        lambda: karpathy(lambda v: v["images"][0]["sentences"][1].pop("raw")),
        f"sentence 1 of image 0 (imgid 0) in {karpathy.path}: missing field 'raw'",
    )


def test_karpathy_image_without_captions(karpathy):
    def edit(value):
        value["images"][1]["sentences"] = []

    assert_data_error(lambda: karpathy(edit, splits="train"), f"image 1 (imgid 1) in {karpathy.path}: no captions")


def test_karpathy_empty_caption(karpathy):
    def edit(value):
        value["images"][2]["sentences"][0]["raw"] = " "

    assert_data_error(lambda: karpathy(edit), f"sentence 0 of image 2 (imgid 2) in {karpathy.path}: empty caption")


def test_karpathy_duplicate_image_id(karpathy):
    def edit(value):
        value["images"][2]["imgid"] = 0

    assert_data_error(lambda: karpathy(edit), f"image 2 (imgid 0) in {karpathy.path}: duplicate image id 0")


def test_karpathy_missing_image(karpathy):
    path = karpathy.root / "10002456.jpg"
    path.unlink()
    assert_data_error(karpathy, f"missing image file {path} for image_id 1 in {karpathy.path}")
    assert [e.image_id for e in karpathy(splits="train")] == [0]  # only kept images are checked


def test_karpathy_corrupt_image(karpathy):
    path = write_truncated_image(karpathy.root / "1000268201.jpg")
    assert_data_error(karpathy, f"corrupt image file {path} for image_id 2 in {karpathy.path}: ")
