"""The embedded synthetic data: determinism, balance, backgrounds, and masks that agree with the pixels."""

import collections
import dataclasses
import re

import numpy as np
import pytest
import tensorflow as tf

from vqa_tf.data.synthetic import (
    MAJORITY_ANSWER,
    NON_NAMING_WORDS,
    PHRASINGS,
    TASKS,
    YES_NO_TASKS,
    SpatialShapesCaptions,
    SpatialShapesVQA,
)
from vqa_tf.data.synthetic_scenes import BACKGROUNDS, COLORS, MAX_BACKGROUND_SPREAD, POSITIONS, SHAPES, object_mask

SIZE = 64
PER_TASK = 60  # a whole number of turns of every answer cycle: 2 (yes/no), 6 colours, 3 shapes, 4 counts
RELATIONS = {"above", "below", "to the left of", "to the right of"}


@pytest.fixture(scope="module")
def samples():
    return list(SpatialShapesVQA(seed=5).samples(PER_TASK * len(TASKS)))


def test_deterministic_per_seed(samples):
    again = SpatialShapesVQA(seed=5)
    for sample in samples[:20]:
        other = again.sample(sample.index)
        assert other.question == sample.question and other.answer == sample.answer
        np.testing.assert_array_equal(other.image, sample.image)
        np.testing.assert_array_equal(other.evidence_mask, sample.evidence_mask)
    different = SpatialShapesVQA(seed=6).sample(0)
    assert not np.array_equal(different.image, samples[0].image)


def test_answers_balanced_per_task(samples):
    counts = collections.Counter((s.task, s.answer) for s in samples)
    answers = {task: ("yes", "no") for task in YES_NO_TASKS}
    answers.update(color=tuple(COLORS), shape=SHAPES, count=("0", "1", "2", "3"))
    assert counts == {(task, a): PER_TASK // len(options) for task, options in answers.items() for a in options}


def test_the_non_naming_words_are_every_question_word_but_the_fields(samples):
    naming = {*COLORS, *SHAPES, *(f"{shape}s" for shape in SHAPES), *POSITIONS, "above", "below"}
    words = {word for s in samples for word in s.question.rstrip("?").split()}
    assert not naming & set(NON_NAMING_WORDS)
    # "to" comes only from the relations' text ("to the left of"); every other word is a phrasing's
    assert words - naming - {"to"} == set(NON_NAMING_WORDS)
    assert {"is", "there", "what", "not", "no"} <= set(NON_NAMING_WORDS)


def test_yes_no_questions_come_in_every_phrasing_and_both_forms_each_balanced(samples):
    more = list(SpatialShapesVQA(seed=5).samples(300 * len(TASKS)))
    for task in YES_NO_TASKS:
        asked = [s for s in more if s.task == task]
        negated = [s for s in asked if s.form == "negated"]
        assert 0.2 < len(negated) / len(asked) < 0.4, task  # negated_share 0.3
        for form in ("affirmative", "negated"):
            answers = [s.answer == "yes" for s in asked if s.form == form]
            assert 0.35 < np.mean(answers) < 0.65, (task, form)
        # every phrasing is used: each question matches exactly one template of its form
        used = {_template(s) for s in asked}
        assert used == set(PHRASINGS[task]["affirmative"] + PHRASINGS[task]["negated"]), task
    assert {s.form for s in samples if s.task not in YES_NO_TASKS} == {"open"}
    none = SpatialShapesVQA(seed=5, negated_share=0.0).samples(20 * len(TASKS))
    assert {s.form for s in none if s.task in YES_NO_TASKS} == {"affirmative"}
    with pytest.raises(ValueError, match="negated_share must lie in"):
        SpatialShapesVQA(seed=5, negated_share=1.5)


def test_a_skewed_set_answers_each_yes_no_template_with_its_majority_at_the_prior():
    skewed = list(SpatialShapesVQA(seed=5, yes_prior=0.8).samples(600 * len(TASKS)))
    for task in YES_NO_TASKS:
        affirmative = np.mean(
            [s.answer == MAJORITY_ANSWER[task] for s in skewed if s.task == task and s.form == "affirmative"]
        )
        assert abs(affirmative - 0.8) < 0.05, (task, affirmative)
        # a negated question verifies the same skewed statement, so its majority answer is the other one
        negated = np.mean([s.answer != MAJORITY_ANSWER[task] for s in skewed if s.task == task and s.form == "negated"])
        assert abs(negated - 0.8) < 0.08, (task, negated)
    open_answers = collections.Counter(s.answer for s in skewed if s.task == "shape")
    assert set(open_answers.values()) == {200}  # the open-ended questions stay balanced


def _color_pixels(image, color):
    return np.all(image == np.array(COLORS[color], np.uint8), axis=-1)


def test_every_object_pixel_has_its_colour_and_no_background_pixel_an_objects(samples):
    for sample in samples[:120]:
        masks = [object_mask(o, SIZE) for o in sample.objects]
        for obj, mask in zip(sample.objects, masks):
            assert _color_pixels(sample.image, obj.color)[mask].all()
        outside = ~np.any(masks, axis=0) if masks else np.ones((SIZE, SIZE), bool)
        spread = np.ptp(sample.image.astype(int), axis=-1)
        assert spread[outside].max() <= MAX_BACKGROUND_SPREAD
        assert not any(_color_pixels(sample.image, c)[outside].any() for c in COLORS)


def test_backgrounds_are_mixed_by_default_and_can_be_chosen():
    def kind(image):
        if not image.any():
            return "black"
        return "uniform" if (image == image[0, 0]).all() else "varied"

    corners = [SpatialShapesVQA(seed=1).sample(i).image[:4, :4] for i in range(60)]
    assert {kind(c) for c in corners} == {"black", "uniform", "varied"}
    assert all(not SpatialShapesVQA(seed=1, background="black").sample(i).image[:4, :4].any() for i in range(10))
    with pytest.raises(ValueError, match="unknown background 'plaid'; valid: mixed, " + ", ".join(BACKGROUNDS)):
        SpatialShapesVQA(seed=1, background="plaid")
    with pytest.raises(ValueError, match="unknown synthetic tasks \\['size'\\]"):
        SpatialShapesVQA(seed=1, tasks=["presence", "size"])


def _pattern(template):
    """A regular expression with one named group per {field} of a phrasing template."""
    pattern = re.escape(template)
    for field in re.findall(r"\\\{(\w+)\\\}", pattern):
        group = "|".join(sorted(RELATIONS)) if field == "relation" else r"\w+"
        pattern = pattern.replace(f"\\{{{field}\\}}", f"(?P<{field}>{group})", 1)
    return pattern


def _template(sample):
    (template,) = [t for t in PHRASINGS[sample.task][sample.form] if re.fullmatch(_pattern(t), sample.question)]
    return template


def _parse(sample):
    """The question's fields ({color}, {shape}, …) and whether the statement it verifies holds."""
    fields = re.fullmatch(_pattern(_template(sample)), sample.question).groupdict()
    holds = None if sample.form == "open" else (sample.answer == "yes") != (sample.form == "negated")
    return fields, holds


def _rows_cols(mask):
    rows, cols = np.nonzero(mask)
    return rows, cols


def test_evidence_masks_agree_with_the_pixels_and_the_answer(samples):
    """The answer can be read off the pixels inside the stored masks, negated questions included."""
    for s in samples:
        mask, image = s.evidence_mask, s.image
        fields, holds = _parse(s)
        if s.task == "presence":
            color, shape = fields["color"], fields["shape"]
            if not holds:
                assert not mask.any()
                assert (color, shape) not in {(o.color, o.shape) for o in s.objects}
                continue
            assert mask.any() and _color_pixels(image, color)[mask].all()
        elif s.task in ("color", "shape", "count", "attribute"):
            attribute = "color" if s.task == "shape" else "shape"
            asked = fields[attribute]
            chosen = [o for o in s.objects if getattr(o, attribute) == asked]
            union = np.any([object_mask(o, SIZE) for o in chosen], axis=0) if chosen else np.zeros((SIZE, SIZE), bool)
            np.testing.assert_array_equal(union, mask)
            if s.task == "count":
                assert len(chosen) == int(s.answer)
                continue
            (obj,) = chosen  # the question names exactly one object
            if s.task == "attribute":
                assert _color_pixels(image, fields["color"])[mask].all() == holds, s.question
                assert (obj.color == fields["color"]) == holds
                continue
            assert getattr(obj, s.task) == s.answer
            if s.task == "color":
                assert _color_pixels(image, s.answer)[mask].all()
            else:
                assert (object_mask(dataclasses.replace(obj, shape=s.answer), SIZE) == mask).all()
        elif s.task == "absolute_position":
            position = fields["position"]
            assert _color_pixels(image, fields["color"])[mask].all()
            rows, cols = _rows_cols(mask)
            inside = {
                "top": rows.max() < SIZE / 2,
                "bottom": rows.min() >= SIZE / 2,
                "left": cols.max() < SIZE / 2,
                "right": cols.min() >= SIZE / 2,
            }[position]
            assert inside == holds, s.question
        else:
            by_kind = {(o.color, o.shape): object_mask(o, SIZE) for o in s.objects}
            subject = by_kind[(fields["color"], fields["shape"])]
            other = by_kind[(fields["other_color"], fields["other_shape"])]
            np.testing.assert_array_equal(subject | other, mask)
            # the objects in the order the question names them: the subject 1, the other 2
            np.testing.assert_array_equal(s.evidence_labels, subject * 1 + other * 2)
            assert _color_pixels(image, fields["color"])[subject].all()
            assert _color_pixels(image, fields["other_color"])[other].all()
            (sr, sc), (orow, oc) = _rows_cols(subject), _rows_cols(other)
            holds_in_pixels = {
                "above": sr.max() < orow.min(),
                "below": sr.min() > orow.max(),
                "to the left of": sc.max() < oc.min(),
                "to the right of": sc.min() > oc.max(),
            }[fields["relation"]]
            assert holds_in_pixels == holds, s.question


def test_caption_gallery_is_unique_and_its_distractors_are_false():
    data = SpatialShapesCaptions(seed=3)
    gallery = list(data.gallery(200))
    assert len({s.caption for s in gallery}) == 200
    for sample in gallery[:50]:
        assert sample.fact.holds_in(sample.objects) and sample.fact.converse.holds_in(sample.objects)
        subject, relation, other = (
            sample.fact.converse.subject,
            sample.fact.converse.relation,
            sample.fact.converse.other,
        )
        assert (subject, other) == (sample.fact.other, sample.fact.subject) and relation in ("below", "right of")
        distractors = data.distractors(sample, 5)
        assert len(distractors) == 5
        for d in distractors:
            assert not d.holds_in(sample.objects)
            changed = sum(
                a != b
                for a, b in zip(
                    d.subject + (d.relation,) + d.other,
                    sample.fact.subject + (sample.fact.relation,) + sample.fact.other,
                )
            )
            swapped = (d.subject, d.other) == (sample.fact.other, sample.fact.subject)
            assert changed == 1 or swapped, (d.text, sample.caption)


def test_caption_pixels_show_the_relation():
    data = SpatialShapesCaptions(seed=4)
    for sample in data.gallery(30):
        (_, color_a, _), (_, color_b, _) = sample.fact.subject, sample.fact.other
        a, b = _color_pixels(sample.image, color_a), _color_pixels(sample.image, color_b)
        if color_a == color_b:
            continue  # same colour: the pixels alone cannot tell the objects apart
        (ar, ac), (br, bc) = _rows_cols(a), _rows_cols(b)
        if sample.fact.relation == "above":
            assert ar.max() < br.min()
        else:
            assert ac.max() < bc.min()


def test_written_vqa_split_reads_back_with_the_real_reader(tmp_path):
    from vqa_tf.data.synthetic_files import read_named_object_masks, vqa_paths, write_synthetic_vqa
    from vqa_tf.data.vqa_reader import read_vqa

    written = write_synthetic_vqa(str(tmp_path), "val", count=12, seed=2)
    questions, annotations, pattern = vqa_paths(str(tmp_path), "val")
    read = read_vqa(questions, pattern, annotations, check_images=True)
    assert [(e.question, e.answers, e.answer_type) for e in read] == [
        (e.question, e.answers, e.answer_type) for e in written
    ]
    stream = SpatialShapesVQA(seed=2)
    for example in read:
        sample = stream.sample(example.question_id)
        np.testing.assert_array_equal(tf.io.decode_png(tf.io.read_file(example.image_path)).numpy(), sample.image)
        if example.evidence_mask_path is None:
            assert not sample.evidence_mask.any()
        else:
            mask = tf.io.decode_png(tf.io.read_file(example.evidence_mask_path)).numpy()[..., 0] > 0
            np.testing.assert_array_equal(mask, sample.evidence_mask)
        named = read_named_object_masks(example.evidence_mask_path)
        labels = sample.evidence_labels
        assert len(named) == labels.max()
        assert len(named) == 2 or example.answer_type != "relative_position"
        for k, object_pixels in enumerate(named, start=1):
            np.testing.assert_array_equal(object_pixels, labels == k)


def test_written_captions_read_back_with_the_real_reader(tmp_path):
    from vqa_tf.data.caption_reader import read_karpathy_json
    from vqa_tf.data.synthetic_files import captions_path, write_synthetic_captions

    written = write_synthetic_captions(str(tmp_path), {"train": 6, "test": 4}, seed=9)
    train = read_karpathy_json(captions_path(str(tmp_path)), str(tmp_path), splits=["train"])
    assert [e.captions for e in train] == [s.captions for s in SpatialShapesCaptions(seed=9).samples(6)]
    assert all(len(e.captions) == 2 for e in train)  # the fact and its converse
    test = read_karpathy_json(captions_path(str(tmp_path)), str(tmp_path), splits=["test"])
    assert [e.captions for e in test] == [e.captions for e in written[6:]]
    assert [e.captions[0] for e in test] == [s.caption for s in SpatialShapesCaptions(seed=10).gallery(4)]
