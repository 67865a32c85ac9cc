"""Blind baselines: a question-only model never sees an image, an image-only model never reads a question."""

import numpy as np
import pytest
import tensorflow as tf
from training_runs import TINY

from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.export import export
from vqa_tf.training import make_task, train


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    """One evaluation batch of the same questions as each baseline and as the full model sees it."""
    seen = {}
    for name, experiment in [
        ("full", "smem_two_hop_synthetic"),
        ("question_only", "question_only_synthetic"),
        ("image_only", "image_only_synthetic"),
    ]:
        config = apply_overrides(
            get_experiment(experiment),
            "data.num_train=24,data.num_eval=12,data.input=images,data.pretraining_scenes=16",
        )
        task = make_task(config, str(tmp_path_factory.mktemp(name)))
        inputs, _ = next(iter(task.build_inputs("eval", training=False, shuffle=False, batch_size=12)))
        seen[name] = {key: value.numpy() for key, value in inputs.items()}
    return seen


def test_a_question_only_baseline_sees_blank_images_and_the_real_questions(batches):
    assert not batches["question_only"]["images"].any() and batches["full"]["images"].any()
    np.testing.assert_array_equal(batches["question_only"]["token_ids"], batches["full"]["token_ids"])


def test_an_image_only_baseline_reads_one_constant_question_and_sees_the_real_images(batches):
    ids = batches["image_only"]["token_ids"]
    assert (ids == ids[0]).all() and ids[0, 0] != 0 and not ids[0, 1:].any()
    assert len({tuple(row) for row in batches["full"]["token_ids"]}) > 1
    np.testing.assert_array_equal(batches["image_only"]["images"], batches["full"]["images"])


def test_baselines_are_checked_and_never_exported(tmp_path):
    with pytest.raises(ValueError, match="data.baseline must be '' or one of question_only, image_only"):
        make_task(apply_overrides(get_experiment("smem_two_hop_synthetic"), "data.baseline=blind"), str(tmp_path / "a"))
    with pytest.raises(ValueError, match="data.baseline is for VQA experiments"):
        make_task(apply_overrides(get_experiment("mdan_synthetic"), "data.baseline=question_only"), str(tmp_path / "b"))
    model_dir = str(tmp_path / "blind")
    train(apply_overrides(get_experiment("question_only_synthetic"), f"{TINY},trainer.train_steps=2"), model_dir)
    with pytest.raises(ValueError, match="holds a blind baseline .* it is not exported"):
        export(model_dir, str(tmp_path / "exports"))
    assert not tf.io.gfile.exists(str(tmp_path / "exports" / "1"))
