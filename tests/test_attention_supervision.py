"""model.attention_supervision: the attention loss, the evidence targets it reads, and its refusal without masks."""

import collections
import json
import os

import numpy as np
import numpy_reference as ref
import pytest

from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.data.errors import DataError
from vqa_tf.data.synthetic_files import read_evidence_mask, read_named_object_masks, write_synthetic_vqa
from vqa_tf.losses import evidence_attention_loss
from vqa_tf.metrics import evidence_cells
from vqa_tf.training import make_task, training_loss

SMALL = (
    "data.num_train=48,data.num_eval=14,data.input=images,data.backbone_pretraining=,data.global_batch_size=8,"
    "data.shuffle=false,model.attention_supervision=0.5"
)


@pytest.mark.parametrize("targets", [1, 2, 3])  # one for every hop, one per hop, more than the hops
def test_the_loss_matches_the_reference(rng, targets):
    logits = rng.normal(scale=2.0, size=(6, 2, 4, 4))
    attention = np.exp(logits) / np.exp(logits).sum(axis=(2, 3), keepdims=True)
    evidence = (rng.random((6, targets, 4, 4)) < 0.2).astype("float32")
    evidence[1] = 0.0  # a question without evidence
    evidence[2] = 0.0
    evidence[2, :, 0, 0] = 1.0
    attention[2, 0] = 0.0  # a hop wholly off the evidence: the floor, not infinity
    attention[2, 0, 3, 3] = 1.0
    actual = np.asarray(evidence_attention_loss(attention.astype("float32"), evidence))
    np.testing.assert_allclose(actual, ref.evidence_attention_loss(attention, evidence), rtol=1e-5, atol=1e-5)
    assert actual[1] == 0.0 and np.isfinite(actual).all()


@pytest.mark.parametrize("experiment", ["smem_two_hop_synthetic", "rdan_synthetic"])
def test_the_training_loss_adds_the_weighted_attention_term(rng, experiment):
    config = apply_overrides(get_experiment(experiment), "model.attention_supervision=0.5")
    logits = rng.normal(size=(4, 5)).astype("float32")
    attention = rng.dirichlet(np.ones(16), size=(4, 2)).reshape(4, 2, 4, 4).astype("float32")
    evidence = (rng.random((4, 2, 4, 4)) < 0.3).astype("float32")
    answers = np.array([0, 3, 1, 4])
    outputs, targets = {"logits": logits, "attention": attention}, {"answer": answers, "evidence": evidence}
    shifted = logits - logits.max(axis=1, keepdims=True)
    cross_entropy = -(shifted[np.arange(4), answers] - np.log(np.exp(shifted).sum(axis=1)))
    expected = cross_entropy + 0.5 * ref.evidence_attention_loss(attention, evidence)
    np.testing.assert_allclose(np.asarray(training_loss(config)(outputs, targets)), expected, rtol=1e-5)
    assert training_loss(get_experiment(experiment)).__name__ == "answer_loss"  # off by default: the paper's loss


def _expected_targets(path, in_order):
    """The evidence grids of one question, built from its mask file: [all objects] or [first, second]."""
    if path is None:
        return [np.zeros((8, 8))] * (2 if in_order else 1)
    if not in_order:
        return [evidence_cells(read_evidence_mask(path), (8, 8))]
    first, *rest = [evidence_cells(mask, (8, 8)) for mask in read_named_object_masks(path)]
    return [first, rest[0] if rest else first]


@pytest.mark.parametrize("in_order", [False, True])
def test_each_training_question_carries_the_cells_of_its_evidence_mask(tmp_path, in_order):
    targets_override = ",model.attention_supervision_targets=" + ("in_order" if in_order else "union")
    task = make_task(apply_overrides(get_experiment("rdan_synthetic"), SMALL + targets_override), str(tmp_path))
    by_id = {e.question_id: e for e in task.train_examples}
    seen = collections.Counter()
    for _, targets in task.train_dataset(None, seed=0).take(6):
        for question_id, grids in zip(targets["question_id"].numpy(), targets["evidence"].numpy()):
            example = by_id[int(question_id)]
            expected = _expected_targets(example.evidence_mask_path, in_order)
            np.testing.assert_array_equal(grids, np.stack(expected).astype("float32"))
            seen[example.answer_type] += example.evidence_mask_path is not None
    assert seen["relative_position"] > 0 and seen["color"] > 0
    if in_order:  # a relative-position question's two objects are two different targets
        relative = [e for e in task.train_examples if e.answer_type == "relative_position"]
        assert all(len(read_named_object_masks(e.evidence_mask_path)) == 2 for e in relative)


def test_unknown_or_unused_supervision_targets_are_refused(tmp_path):
    config = apply_overrides(get_experiment("rdan_synthetic"), SMALL + ",model.attention_supervision_targets=last")
    with pytest.raises(ValueError, match="attention_supervision_targets must be one of union, in_order; got 'last'"):
        make_task(config, str(tmp_path / "unknown"))
    unused = SMALL + ",model.attention_supervision=0,model.attention_supervision_targets=in_order"
    with pytest.raises(ValueError, match="in_order has no effect while model.attention_supervision is 0"):
        make_task(apply_overrides(get_experiment("rdan_synthetic"), unused), str(tmp_path / "unused"))


def test_data_without_evidence_masks_is_refused_with_the_option_named(tmp_path):
    folder = str(tmp_path / "own")
    write_synthetic_vqa(folder, "train", 20, seed=3)
    write_synthetic_vqa(folder, "val", 7, seed=4)
    for split in ("train", "val"):  # a user's own data: no masks
        path = os.path.join(folder, f"{split}_annotations.json")
        annotations = json.load(open(path))
        for record in annotations["annotations"]:
            record.pop("evidence_mask", None)
        json.dump(annotations, open(path, "w"))
    overrides = (
        f"data.source=vqa,data.train_data={folder}/train_questions.json,"
        f"data.train_annotations={folder}/train_annotations.json,"
        f"data.train_images={folder}/images/train/{{image_id:06d}}.png,"
        f"data.eval_data={folder}/val_questions.json,data.eval_annotations={folder}/val_annotations.json,"
        f"data.eval_images={folder}/images/val/{{image_id:06d}}.png,{SMALL}"
    )
    task = make_task(apply_overrides(get_experiment("smem_two_hop_synthetic"), overrides), str(tmp_path / "run"))
    with pytest.raises(DataError, match="model.attention_supervision needs evidence masks"):
        task.train_dataset(None, seed=0)
