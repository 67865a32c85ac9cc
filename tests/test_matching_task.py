"""The matching task: its loss sees which pairs share an image, and evaluation embeds each image once."""

import dataclasses

import numpy as np
import numpy_reference as ref
import pytest
import tensorflow as tf
from training_runs import SMALL_DAN

from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.training import make_task, training_loss
from vqa_tf.vision import load_images


@pytest.fixture(scope="module")
def task_and_parts(tmp_path_factory):
    config = apply_overrides(
        get_experiment("mdan_synthetic"),
        f"data.num_train=24,data.num_eval=6,data.input=images,data.pretraining_scenes=16,{SMALL_DAN}",
    )
    task = make_task(config, str(tmp_path_factory.mktemp("mdan")))
    return task, task.build_model()


def test_evaluation_embeds_each_gallery_image_once_and_scores_like_the_model(task_and_parts, monkeypatch):
    task, parts = task_and_parts
    # Three captions per image, as Flickr30K has five: the gallery is still embedded image by image.
    examples = [dataclasses.replace(e, captions=e.captions * 3) for e in task.eval_examples]
    monkeypatch.setattr(task, "eval_examples", examples)
    embedded_rows = []
    embed_image = parts.core.embed_image
    monkeypatch.setattr(
        parts.core, "embed_image", lambda grid, **kw: embedded_rows.append(len(grid)) or embed_image(grid, **kw)
    )
    images, texts, caption_image = task.embeddings(parts, "eval")
    assert sum(embedded_rows) == len(examples) == len(images)
    assert len(texts) == 3 * len(examples) and list(caption_image) == [
        i for i in range(len(examples)) for _ in range(3)
    ]
    pixels = load_images(tf.stack([tf.io.read_file(e.image_path) for e in examples]), 64)
    scores = parts.model(
        {"images": pixels, "token_ids": task.tokenizer(tf.constant([e.captions[0] for e in examples]))}, training=False
    )["score"]
    np.testing.assert_allclose(np.sum(images * texts[::3], axis=1), np.asarray(scores), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("image_ids", [[5, 5, 6, 7], [5, 8, 6, 7]])
def test_the_synthetic_training_loss_sums_the_hinge_over_pairs_of_other_images(task_and_parts, image_ids):
    task, _ = task_and_parts
    rng = np.random.default_rng(0)
    image, text = rng.normal(size=(4, 24)).astype("float32"), rng.normal(size=(4, 24)).astype("float32")
    loss = training_loss(task.config)(
        {"image_embedding": image, "text_embedding": text}, {"image_id": tf.constant(image_ids, tf.int64)}
    )
    model = task.config.model
    assert model.negatives == "all"  # the synthetic recipe's loss form (the paper's is "sampled")
    expected = ref.ranking_loss((image @ text.T).astype(np.float64), model.margin, False, image_ids)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_the_paper_preset_trains_on_one_sampled_negative_per_pair():
    assert get_experiment("mdan_resnet152_flickr30k").model.negatives == "sampled"


def test_the_unmasked_ablation_counts_every_other_caption_as_a_negative(task_and_parts):
    task, _ = task_and_parts
    rng = np.random.default_rng(1)
    image, text = rng.normal(size=(4, 24)).astype("float32"), rng.normal(size=(4, 24)).astype("float32")
    unmasked = dataclasses.replace(task.config.model, mask_same_image=False)
    loss = training_loss(dataclasses.replace(task.config, model=unmasked))(
        {"image_embedding": image, "text_embedding": text}, {"image_id": tf.constant([5, 5, 6, 7])}
    )
    expected = ref.ranking_loss((image @ text.T).astype(np.float64), unmasked.margin, False, None)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-5, atol=1e-5)
    masked = ref.ranking_loss((image @ text.T).astype(np.float64), unmasked.margin, False, [5, 5, 6, 7])
    assert not np.allclose(expected[:2], masked[:2])  # the two captions of image 5 differ by their pair
