"""Feature extraction into sharded TFRecords, and the tf.data pipelines that read them."""

import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from training_runs import program

from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.data import feature_store, pipelines
from vqa_tf.data.errors import DataError
from vqa_tf.data.feature_extraction import Extractor, extract, image_list
from vqa_tf.data.synthetic_files import vqa_paths, write_synthetic_vqa
from vqa_tf.text import AnswerVocabulary, QuestionTokenizer, Vocabulary, words_of
from vqa_tf.training import make_task
from vqa_tf.vision import build_backbone, load_image

NUM_IMAGES = 20


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("synthetic"))
    examples = write_synthetic_vqa(directory, "train", NUM_IMAGES, seed=11)
    return directory, examples


@pytest.fixture(scope="module")
def extractor():
    return Extractor(build_backbone("small_cnn"), image_size=64, batch_size=8)


def _images(directory):
    questions, _, pattern = vqa_paths(directory, "train")
    return image_list("vqa", questions, pattern)


def _records(store):
    parse = feature_store.parser(feature_store.read_metadata(store))
    dataset = tf.data.TFRecordDataset(feature_store.complete_shards(store)).map(parse)
    return {int(r["image_id"]): r["image_features"].numpy() for r in dataset}


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-5), ("float16", 2e-3)])
def test_extracted_features_equal_the_backbone_on_each_image(synthetic, extractor, tmp_path, dtype, tolerance):
    directory, _ = synthetic
    images = _images(directory)
    assert extract(images, extractor, "small_cnn", str(tmp_path), num_shards=3, dtype=dtype) == (3, 0)
    records = _records(str(tmp_path))
    assert sorted(records) == list(range(NUM_IMAGES))
    for image_id, path in images[:4]:
        image = load_image(tf.io.read_file(path), 64)[None]
        expected = extractor.backbone(image).numpy()[0]
        np.testing.assert_allclose(records[image_id], expected, rtol=tolerance, atol=tolerance)


def test_rerun_skips_finished_shards(synthetic, extractor, tmp_path):
    images = _images(synthetic[0])
    extract(images, extractor, "small_cnn", str(tmp_path), 4, "float16")
    assert extract(images, extractor, "small_cnn", str(tmp_path), 4, "float16") == (0, 4)
    os.remove(feature_store.shard_path(str(tmp_path), 2, 4))
    assert extract(images, extractor, "small_cnn", str(tmp_path), 4, "float16") == (1, 3)
    assert len(_records(str(tmp_path))) == NUM_IMAGES


def test_a_store_of_another_configuration_is_not_mixed_in(synthetic, extractor, tmp_path):
    images = _images(synthetic[0])
    extract(images, extractor, "small_cnn", str(tmp_path), 4, "float16")
    with pytest.raises(DataError, match="describes a different feature store"):
        extract(images, extractor, "small_cnn", str(tmp_path), 4, "float32")


def test_corrupt_image_names_the_file_and_leaves_no_truncated_shard(synthetic, extractor, tmp_path):
    directory, _ = synthetic
    images = _images(directory)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    images = [(i, str(broken) if i == 15 else p) for i, p in images]  # shards hold ids 0-6, 7-13, 14-19
    store = tmp_path / "store"
    with pytest.raises(DataError, match=r"corrupt image file .*broken.png for image_id 15"):
        extract(images, extractor, "small_cnn", str(store), 3, "float32")
    left = sorted(os.listdir(store))
    assert left == ["features-00000-of-00003.tfrecord", "features-00001-of-00003.tfrecord", "metadata.json"]
    # Fixing the image and rerunning finishes the store.
    assert extract(_images(directory), extractor, "small_cnn", str(store), 3, "float32") == (1, 2)
    assert len(_records(str(store))) == NUM_IMAGES


def test_workers_split_the_shards(synthetic, extractor, tmp_path):
    images = _images(synthetic[0])
    written = [extract(images, extractor, "small_cnn", str(tmp_path), 5, "float16", w, 2)[0] for w in (0, 1)]
    assert written == [3, 2]
    assert sorted(_records(str(tmp_path))) == list(range(NUM_IMAGES))


def test_an_incomplete_store_is_refused(synthetic, extractor, tmp_path):
    images = _images(synthetic[0])
    extract(images, extractor, "small_cnn", str(tmp_path), 4, "float16", worker_index=0, num_workers=2)
    with pytest.raises(DataError, match="incomplete: 2 of 4 shards missing"):
        feature_store.complete_shards(str(tmp_path))


@pytest.mark.slow
def test_the_binary_runs_and_reports_bad_input(synthetic, tmp_path):
    directory, _ = synthetic
    questions, _, pattern = vqa_paths(directory, "train")
    command = [
        *program("trainers.extract_features"),
        "--format=vqa",
        f"--data={questions}",
        f"--images={pattern}",
        "--backbone=small_cnn",
        f"--output_dir={tmp_path}",
        "--num_shards=2",
        "--float16",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "wrote 2 shards, skipped 0" in done.stdout
    assert feature_store.read_metadata(str(tmp_path)).dtype == "float16"
    bad = tmp_path / "bad.json"
    bad.write_text('{"questions": [')
    done = subprocess.run(command[:4] + [f"--data={bad}"] + command[5:], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert f"error: malformed JSON in {bad}" in done.stderr


@pytest.fixture(scope="module")
def store(synthetic, extractor, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("store"))
    extract(_images(synthetic[0]), extractor, "small_cnn", path, 4, "float32")
    return path


@pytest.fixture(scope="module")
def text(synthetic, tmp_path_factory):
    _, examples = synthetic
    path = str(tmp_path_factory.mktemp("vocab") / "vocab.txt")
    Vocabulary.build(words_of(e.question for e in examples)).save(path)
    answers = AnswerVocabulary.build([e.answers[0] for e in examples], top_k=32)  # every answer kept
    return QuestionTokenizer(path, max_length=12), answers


def test_vqa_feature_dataset_yields_every_question_once_with_its_image(synthetic, store, text):
    _, examples = synthetic
    tokenizer, answers = text
    dataset = pipelines.vqa_feature_dataset(store, examples, tokenizer, answers, 6, training=False)
    records = _records(store)
    seen = []
    for inputs, targets in dataset:
        assert inputs["image_features"].shape[1:] == (8, 8, 66)
        for features, ids, answer, question_id in zip(
            inputs["image_features"].numpy(),
            inputs["token_ids"].numpy(),
            targets["answer"].numpy(),
            targets["question_id"].numpy(),
        ):
            example = examples[question_id]
            np.testing.assert_array_equal(features, records[example.image_id])
            np.testing.assert_array_equal(ids, tokenizer(tf.constant(example.question)).numpy())
            assert answers.answers[answer] == example.answers[0]
            seen.append(int(question_id))
    assert sorted(seen) == list(range(NUM_IMAGES))


def test_input_contexts_split_the_data_between_pipelines(synthetic, store, text):
    _, examples = synthetic
    tokenizer, answers = text
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline, num_replicas_in_sync=2)
        dataset = pipelines.vqa_feature_dataset(store, examples, tokenizer, answers, 4, context, training=False)
        batches = list(dataset)
        assert all(inputs["token_ids"].shape[0] <= 2 for inputs, _ in batches)  # per-replica batch
        seen.append({int(q) for _, targets in batches for q in targets["question_id"].numpy()})
    assert seen[0].isdisjoint(seen[1]) and seen[0] | seen[1] == set(range(NUM_IMAGES))


def test_vqa_image_dataset_reads_the_files(synthetic, text):
    _, examples = synthetic
    tokenizer, answers = text
    inputs, targets = next(
        iter(pipelines.vqa_image_dataset(examples, tokenizer, answers, 64, 5, training=True, seed=1))
    )
    assert inputs["images"].shape == (5, 64, 64, 3) and inputs["token_ids"].shape == (5, 12)
    first = examples[int(targets["question_id"][0])]
    np.testing.assert_array_equal(inputs["images"][0], load_image(tf.io.read_file(first.image_path), 64))


def test_caption_feature_dataset_pairs_each_caption_with_its_image(tmp_path, extractor):
    from vqa_tf.data.caption_reader import read_karpathy_json
    from vqa_tf.data.synthetic_files import captions_path, write_synthetic_captions

    write_synthetic_captions(str(tmp_path), {"train": 10}, seed=4)
    examples = read_karpathy_json(captions_path(str(tmp_path)), str(tmp_path))
    store = str(tmp_path / "store")
    extract(
        image_list("karpathy", captions_path(str(tmp_path)), str(tmp_path)), extractor, "small_cnn", store, 2, "float32"
    )
    vocabulary = str(tmp_path / "vocab.txt")
    Vocabulary.build(words_of(c for e in examples for c in e.captions)).save(vocabulary)
    tokenizer = QuestionTokenizer(vocabulary, max_length=10)
    records = _records(store)
    expected = sorted((e.image_id, tuple(tokenizer(tf.constant(c)).numpy())) for e in examples for c in e.captions)
    pairs = []
    for inputs, targets in pipelines.caption_feature_dataset(store, examples, tokenizer, 4, training=False):
        for features, ids, image_id in zip(
            inputs["image_features"].numpy(), inputs["token_ids"].numpy(), targets["image_id"].numpy()
        ):
            np.testing.assert_array_equal(features, records[image_id])
            pairs.append((int(image_id), tuple(ids)))
    assert len(expected) == 20 and sorted(pairs) == expected  # two captions per training image, each once


def test_a_split_names_its_store_and_a_subset_read_first_does_not_cut_it_short(tmp_path):
    config = apply_overrides(
        get_experiment("smem_two_hop_synthetic"), "data.num_train=24,data.num_eval=14,data.pretraining_scenes=16"
    )
    task = make_task(config, str(tmp_path))

    def grids(split, examples=None):
        dataset = task.build_inputs(split, training=False, shuffle=False, batch_size=64, examples=examples)
        return {
            int(q): g
            for inputs, targets in dataset
            for q, g in zip(targets["question_id"].numpy(), inputs["image_features"].numpy())
        }

    for split in ("train", "eval"):
        members = task.split_examples(split)
        part = grids(split, members[3:9])  # read first: the store is still extracted from the whole split
        whole = grids(split)
        assert sorted(whole) == sorted(e.question_id for e in members)
        assert sorted(part) == sorted(e.question_id for e in members[3:9])
        for question_id, grid in part.items():
            np.testing.assert_array_equal(grid, whole[question_id])
    first_train, first_eval = task.train_examples[0], task.eval_examples[0]
    assert not np.array_equal(
        grids("train", [first_train])[first_train.question_id], grids("eval", [first_eval])[first_eval.question_id]
    )
    with pytest.raises(ValueError, match="must be one of task.eval_examples"):
        task.build_inputs("eval", training=False, examples=task.train_examples[:2])
    with pytest.raises(ValueError, match="split must be one of train, eval"):
        task.build_inputs("test", training=False)
