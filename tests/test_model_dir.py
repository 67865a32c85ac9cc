"""A model_dir is all a model needs: export reads no training data, and every path may be a URL.

TensorFlow's in-memory `ram://` filesystem stands in for a bucket: every
`tf.io.gfile` call accepts it, and it lives as long as this process.
"""

import json
import shutil
import uuid

import keras
import numpy as np
import pytest
import tensorflow as tf
from training_runs import TINY

from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.data.feature_extraction import Extractor, extract, image_list
from vqa_tf.data.synthetic_files import vqa_paths, write_synthetic_vqa
from vqa_tf.export import export
from vqa_tf.training import model_dir as files
from vqa_tf.training import restore_for_evaluation, train
from vqa_tf.vision import build_backbone, load_images

pytestmark = pytest.mark.slow


def _serve(path, questions, images):
    import tensorflow_text  # noqa: F401  (the exported graph's tokenizer ops)

    out = tf.saved_model.load(path).signatures["serving_default"](
        question=tf.constant(questions), image=tf.constant(images)
    )
    return {name: value.numpy() for name, value in out.items()}


def test_a_copied_model_dir_without_its_data_exports_the_same_model(tmp_path):
    trained_in, copied_to = tmp_path / "trained", tmp_path / "copied"
    train(apply_overrides(get_experiment("smem_two_hop_synthetic"), f"{TINY},trainer.train_steps=4"), str(trained_in))
    task, _, _ = restore_for_evaluation(str(trained_in))
    examples = task.eval_examples[:6]
    questions = [e.question for e in examples]
    images = [tf.io.read_file(e.image_path).numpy() for e in examples]
    first = _serve(export(str(trained_in), str(tmp_path / "exports")), questions, images)

    shutil.copytree(trained_in, copied_to)
    shutil.rmtree(trained_in)  # the original run, its data and every path its config could name, are gone
    shutil.rmtree(copied_to / files.DATA_DIR)
    second = _serve(export(str(copied_to), str(tmp_path / "exports")), questions, images)

    assert list(second["answer"]) == list(first["answer"])
    for name in ("top_scores", "attention"):
        np.testing.assert_array_equal(second[name], first[name])


def test_a_feature_store_run_exports_with_its_extraction_weights_all_under_ram(tmp_path):
    root = f"ram://features-{uuid.uuid4().hex}"
    weights = f"{root}/small_cnn.weights.h5"
    local_weights = str(tmp_path / "small_cnn.weights.h5")
    extraction_cnn = build_backbone("small_cnn")
    extraction_cnn.save_weights(local_weights)
    tf.io.gfile.copy(local_weights, weights)
    config = apply_overrides(get_experiment("smem_two_hop_synthetic"), f"{TINY},trainer.train_steps=4")
    data = config.data
    data.source, data.input, data.backbone_pretraining = "vqa", "features", ""
    for split, count, seed in (("train", 96, 0), ("eval", 32, 1)):
        write_synthetic_vqa(f"{root}/data", split, count, seed)
        questions, annotations, pattern = vqa_paths(f"{root}/data", split)
        store = f"{root}/features/{split}"
        extract(image_list("vqa", questions, pattern), Extractor(extraction_cnn, 64), "small_cnn", store, 2, "float32")
        setattr(data, f"{split}_data", questions)
        setattr(data, f"{split}_annotations", annotations)
        setattr(data, f"{split}_images", pattern)
        setattr(data, f"{split}_features", store)
    model_dir = f"{root}/run"
    train(config, model_dir)

    with pytest.raises(ValueError, match="the serving graph needs the weights file the feature extraction used"):
        export(model_dir, f"{root}/exports")
    assert not tf.io.gfile.exists(f"{root}/exports/1")
    path = export(model_dir, f"{root}/exports", backbone_weights=weights)
    assert path == f"{root}/exports/1"

    task, parts, _ = restore_for_evaluation(model_dir)
    examples = task.eval_examples[:4]
    images = [tf.io.read_file(e.image_path).numpy() for e in examples]
    served = _serve(path, [e.question for e in examples], images)
    grids = extraction_cnn(load_images(tf.constant(images), 64))
    expected = parts.model(
        {"image_features": grids, "token_ids": task.tokenizer(tf.constant([e.question for e in examples]))}
    )
    np.testing.assert_allclose(served["attention"], expected["attention"].numpy(), atol=1e-5)
    assert [a.decode() for a in served["answer"]] == [
        task.answers.answers[i] for i in np.argmax(expected["logits"].numpy(), axis=1)
    ]


def test_train_checkpoint_resume_evaluate_and_export_with_every_path_under_ram(capsys):
    root = f"ram://round-trip-{uuid.uuid4().hex}"
    override = f"{root}/override.json"
    with tf.io.gfile.GFile(override, "w") as f:
        json.dump({"trainer": {"train_steps": 4, "checkpoint_every": 2, "eval_every": 4}}, f)
    config = apply_overrides(apply_overrides(get_experiment("smem_two_hop_synthetic"), TINY), override)
    model_dir = f"{root}/run"
    train(config, model_dir)
    assert tf.train.latest_checkpoint(f"{model_dir}/checkpoints") == f"{model_dir}/checkpoints/ckpt-4"
    for name in (
        "config.json",
        "vocab.txt",
        "answers.txt",
        "best.keras",
        "best.json",
        "metrics/eval_00000004.json",
        "data/train_questions.json",
        "data/images/eval/000000.png",
        "backbone.weights.h5",
        "features/train/metadata.json",
    ):
        assert tf.io.gfile.exists(f"{model_dir}/{name}"), name
    assert tf.io.gfile.glob(f"{model_dir}/train/events.out.tfevents.*")

    config.trainer.train_steps = 8
    capsys.readouterr()
    train(config, model_dir)
    assert f"resumed from {model_dir}/checkpoints/ckpt-4 at step 4" in capsys.readouterr().out
    assert tf.train.latest_checkpoint(f"{model_dir}/checkpoints") == f"{model_dir}/checkpoints/ckpt-8"

    task, parts, checkpoint = restore_for_evaluation(model_dir)
    assert checkpoint == f"{model_dir}/checkpoints/ckpt-8"
    evaluated = task.evaluate(parts)
    with tf.io.gfile.GFile(f"{model_dir}/metrics/eval_00000008.json") as f:
        assert evaluated["accuracy"] == json.load(f)["accuracy"]

    path = export(model_dir, f"{root}/exports")
    assert path == f"{root}/exports/1"
    assert [name.rstrip("/") for name in tf.io.gfile.listdir(f"{root}/exports")] == ["1"]  # no temporary left
    examples = task.eval_examples[:4]
    questions = [e.question for e in examples]
    images = [tf.io.read_file(e.image_path).numpy() for e in examples]
    served = _serve(path, questions, images)
    # the run pretrained its CNN into the ram:// model_dir and trained on its grids
    grids = build_backbone("small_cnn", 64, f"{model_dir}/backbone.weights.h5")(load_images(tf.constant(images), 64))
    expected = parts.model({"image_features": grids, "token_ids": task.tokenizer(tf.constant(questions))})
    assert [a.decode() for a in served["answer"]] == [
        task.answers.answers[i] for i in np.argmax(expected["logits"].numpy(), axis=1)
    ]


def test_restoring_a_checkpoint_that_lacks_some_of_the_models_weights_names_it(tmp_path, rng):
    """A checkpoint of a one-hop SMem cannot silently fill a two-hop one (its hop-2 weights would stay random)."""
    from conftest import ragged_batch, small_model

    one_hop, two_hop = small_model("smem_vqa", num_hops=1), small_model("smem_vqa", num_hops=2)
    batch = ragged_batch(rng)
    one_hop(batch), two_hop(batch)
    checkpoint = files.training_checkpoint(one_hop, keras.optimizers.SGD())
    tf.train.CheckpointManager(checkpoint, str(tmp_path / files.CHECKPOINT_DIR), 1).save()
    assert files.restore_weights(one_hop, str(tmp_path)).endswith("ckpt-1")
    with pytest.raises(ValueError, match="does not hold every weight"):
        files.restore_weights(two_hop, str(tmp_path))
