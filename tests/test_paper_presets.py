"""Every paper preset trains a few steps and evaluates, on small files in the real formats.

The real data sets cannot be downloaded here; these fixtures make sure a
user's first run on VQA or Flickr30K is not the first time the path executes:
feature extraction with the preset's backbone at the preset's image size, the
feature-store pipelines, the paper-size model and optimizer, evaluation.
"""

import json
import os

import pytest
from fixture_files import karpathy_image, vqa_annotations, vqa_questions, write_image, write_json

from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.data.feature_extraction import Extractor, extract, image_list
from vqa_tf.training import train
from vqa_tf.vision import build_backbone

FEW_STEPS = (
    "trainer.train_epochs=0,trainer.train_steps=2,trainer.steps_per_loop=1,trainer.checkpoint_every=2,"
    "trainer.eval_every=2,data.global_batch_size=4,data.eval_batch_size=4"
)
QUESTIONS = ["what color is the car?", "is there a dog?", "how many people are there?", "what is on the table?"]
ANSWERS = [["red"] * 7 + ["blue"] * 3, ["yes"] * 10, ["2"] * 6 + ["3"] * 4, ["laptop"] * 5 + ["book"] * 5]


def _features(config, data_format, data, images, output_dir):
    size = config.data.image_size
    extractor = Extractor(build_backbone(config.data.backbone, size), size, batch_size=4)
    extract(image_list(data_format, data, images), extractor, config.data.backbone, output_dir, 2, "float16")
    return output_dir


def _vqa_split(root, split, image_ids):
    pattern = str(root / split / f"COCO_{split}2014_{{image_id:012d}}.jpg")
    for image_id in image_ids:
        write_image(root / split / f"COCO_{split}2014_{image_id:012d}.jpg", size=(120, 160))
    rows = [(100 * i + q, i, QUESTIONS[q]) for i in image_ids for q in range(len(QUESTIONS))]
    questions = write_json(root / f"{split}_questions.json", vqa_questions(*rows))
    annotations = write_json(
        root / f"{split}_annotations.json",
        vqa_annotations(*[(qid, i, ANSWERS[qid % 100]) for qid, i, _ in rows]),
    )
    return questions, annotations, pattern


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["smem_two_hop_vqa", "rdan_resnet152_vqa"])
def test_vqa_preset_trains_and_evaluates_on_fixture_files(tmp_path, experiment):
    config = apply_overrides(get_experiment(experiment), FEW_STEPS)
    train_split = _vqa_split(tmp_path, "train", [1, 2, 3])
    val_split = _vqa_split(tmp_path, "val", [7, 8])
    config.data.train_data, config.data.train_annotations, config.data.train_images = train_split
    config.data.eval_data, config.data.eval_annotations, config.data.eval_images = val_split
    if config.data.input == "features":  # r-DAN; SMem trains its CNN with the model
        config.data.train_features = _features(
            config, "vqa", train_split[0], train_split[2], str(tmp_path / "features_train")
        )
        config.data.eval_features = _features(config, "vqa", val_split[0], val_split[2], str(tmp_path / "features_val"))
    model_dir = str(tmp_path / "model")
    metrics = train(config, model_dir)
    assert metrics["num_questions"] == 8 and 0.0 <= metrics["accuracy"] <= 1.0
    assert set(metrics["accuracy_per_answer_type"]) == {"other"}
    saved = json.load(open(os.path.join(model_dir, "metrics", "eval_00000002.json")))
    assert saved["accuracy"] == metrics["accuracy"]


@pytest.mark.slow
def test_mdan_preset_trains_and_evaluates_on_fixture_files(tmp_path):
    config = apply_overrides(get_experiment("mdan_resnet152_flickr30k"), FEW_STEPS)
    captions = [
        "a dog runs on the grass .",
        "two people ride bikes .",
        "a red car parked outside .",
        "a child holds a balloon .",
        "a cat sleeps on a sofa .",
    ]
    records = []
    for imgid in range(6):
        filename = f"{1000 + imgid}.jpg"
        write_image(tmp_path / "flickr30k-images" / filename, size=(120, 160))
        split = "train" if imgid < 4 else "test"
        records.append(karpathy_image(imgid, filename, captions[imgid % 5 :] + captions[: imgid % 5], split=split))
    data = write_json(tmp_path / "dataset_flickr30k.json", {"dataset": "flickr30k", "images": records})
    images = str(tmp_path / "flickr30k-images")
    config.data.train_data, config.data.train_images = data, images
    store = _features(config, "karpathy", data, images, str(tmp_path / "features"))
    config.data.train_features = config.data.eval_features = store
    metrics = train(config, str(tmp_path / "model"))
    assert metrics["gallery_images"] == 2
    for direction in ("image_to_text", "text_to_image"):
        assert set(metrics[direction]) == {"r@1", "r@5", "r@10", "median_rank"}
        assert metrics[direction]["r@10"] == 1.0  # a gallery of 2 images and 10 captions
