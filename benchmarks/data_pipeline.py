"""Input-side throughput, as ratios measured in one run.

1. Feature extraction: images/s of the whole extraction pipeline (read file,
   decode, resize, backbone, serialize, write the shard) against a bare
   backbone forward pass over the same images already decoded in memory, at
   the same batch size. Target: pipeline overhead under 10%.
2. Training input: examples/s that the TFRecord feature pipeline
   (`vqa_feature_dataset`: read, parse, join questions, tokenize, batch)
   sustains, against the training-step rate (forward, backward, SGD with
   momentum) of each model at its paper size, at the same batch. Target: the
   pipeline at least 5× faster than the step.

Every rate is the median of interleaved repeats.

Usage: python benchmarks/data_pipeline.py [--output benchmarks/results/data_pipeline.md]
(the JSON twin goes beside the table, with the extension .json)
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import command_line, describe, write_json_twin

from vqa_tf.configs import PAPER_EXPERIMENTS
from vqa_tf.data import feature_store, pipelines
from vqa_tf.data.examples import VQAExample
from vqa_tf.data.feature_extraction import Extractor
from vqa_tf.models import build_model
from vqa_tf.text import AnswerVocabulary, QuestionTokenizer, Vocabulary
from vqa_tf.training import paper_model_arguments
from vqa_tf.vision import build_backbone, load_image

REPEATS = 3


def _median_rate(count, run):
    """count / median seconds of `run()` over REPEATS calls (after one warm-up call)."""
    run()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return count / statistics.median(times)


def _write_images(directory, count, height, width, jpeg):
    """Smooth random colour images (they compress like photos, unlike noise)."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        coarse = rng.uniform(0, 255, (height // 16, width // 16, 3)).astype(np.float32)
        pixels = tf.cast(tf.image.resize(coarse, [height, width]), tf.uint8)
        encoded = tf.io.encode_jpeg(pixels, quality=90) if jpeg else tf.io.encode_png(pixels)
        path = os.path.join(directory, f"{i:05d}.{'jpg' if jpeg else 'png'}")
        tf.io.write_file(path, encoded)
        paths.append(path)
    return paths


def extraction_rates(name, image_size, num_images, batch_size, source_size, jpeg, workdir):
    backbone = build_backbone(name, image_size)
    extractor = Extractor(backbone, image_size, batch_size)
    paths = _write_images(workdir, num_images, *source_size, jpeg)
    pairs = list(enumerate(paths))
    decoded = [
        tf.stack([load_image(tf.io.read_file(p), image_size) for p in paths[i : i + batch_size]])
        for i in range(0, num_images, batch_size)
    ]
    shard = os.path.join(workdir, "shard.tfrecord")

    def bare():
        for images in decoded:
            extractor._forward(images).numpy()

    def pipeline():
        extractor.write_shard(shard, pairs, "float16")

    rates = {"bare": [], "pipeline": []}
    bare(), pipeline()  # warm-up: traces and caches
    for _ in range(REPEATS):  # interleaved, so drift hits both alike
        for key, run in (("bare", bare), ("pipeline", pipeline)):
            start = time.perf_counter()
            run()
            rates[key].append(num_images / (time.perf_counter() - start))
    return statistics.median(rates["bare"]), statistics.median(rates["pipeline"])


def _feature_store(directory, grid, num_images):
    metadata = feature_store.StoreMetadata(*grid, "float16", "random", 0, 4)
    feature_store.write_metadata(directory, metadata)
    rng = np.random.default_rng(0)
    blocks = np.array_split(np.arange(num_images), 4)
    for shard, block in enumerate(blocks):
        with feature_store.shard_writer(feature_store.shard_path(directory, shard, 4)) as writer:
            for image_id in block:
                writer.write(feature_store.serialize(image_id, rng.standard_normal(grid), "float16"))


def training_rates(name, batch_size, num_images, questions_per_image, workdir):
    settings = paper_model_arguments(name)
    grid = (settings["grid_height"], settings["grid_width"], settings["feature_dim"])
    store = os.path.join(workdir, f"store_{grid[0]}x{grid[1]}x{grid[2]}")
    if not os.path.exists(store):
        _feature_store(store, grid, num_images)
    words = [f"word{i}" for i in range(200)]
    vocabulary = os.path.join(workdir, "vocab.txt")
    Vocabulary(["[PAD]", "[UNK]"] + words).save(vocabulary)
    tokenizer = QuestionTokenizer(vocabulary, max_length=25)
    rng = np.random.default_rng(1)
    examples = [
        VQAExample(
            question_id=i * questions_per_image + q,
            image_id=i,
            image_path="",
            question=" ".join(rng.choice(words, size=int(rng.integers(4, 15)))),
            answers=(f"answer{int(rng.integers(100))}",) * 10,
        )
        for i in range(num_images)
        for q in range(questions_per_image)
    ]
    answers = AnswerVocabulary.build([e.answers[0] for e in examples], top_k=100)
    dataset = pipelines.vqa_feature_dataset(store, examples, tokenizer, answers, batch_size, seed=0).repeat()
    iterator = iter(dataset)
    num_batches = len(examples) // batch_size

    def read():
        for _ in range(num_batches):
            next(iterator)

    pipeline_rate = _median_rate(num_batches * batch_size, read)

    model = build_model(
        name,
        **{**settings, "vocab_size": len(words) + 2, **({"num_answers": 100} if "num_answers" in settings else {})},
    )
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9, global_clipnorm=10.0)
    inputs, targets = next(iterator)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            out = model(inputs, training=True)
            if "logits" in out:
                loss = keras.losses.sparse_categorical_crossentropy(targets["answer"], out["logits"], from_logits=True)
            else:
                from vqa_tf.losses import bidirectional_ranking_loss

                similarity = tf.matmul(out["image_embedding"], out["text_embedding"], transpose_b=True)
                loss = bidirectional_ranking_loss(similarity)
            loss = tf.reduce_mean(loss)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    steps = 3

    def train():
        for _ in range(steps):
            step()
        float(step())

    step_rate = _median_rate((steps + 1) * batch_size, train)
    return pipeline_rate, step_rate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=None)
    parser.add_argument("--batch_size", type=int, default=32)
    args = parser.parse_args()
    lines, extraction_rows, training_rows = [], [], []
    with tempfile.TemporaryDirectory() as workdir:
        extraction = [
            ("small_cnn", 64, 1024, (64, 64), False, "64×64 PNG"),
            ("resnet152", 448, 2 * args.batch_size, (480, 640), True, "640×480 JPEG"),
        ]
        lines += [
            "| backbone | input | images | bare forward (images/s) | extraction pipeline (images/s) | overhead |",
            "|---|---|---|---|---|---|",
        ]
        for name, size, count, source, jpeg, described in extraction:
            folder = os.path.join(workdir, name)
            os.makedirs(folder)
            bare, pipeline = extraction_rates(name, size, count, args.batch_size, source, jpeg, folder)
            lines.append(
                f"| {name} @ {size} | {described} | {count} | {bare:.1f} | {pipeline:.1f} "
                f"| {1 - pipeline / bare:+.1%} |"
            )
            print(lines[-1], flush=True)
            extraction_rows.append(
                {
                    "backbone": name,
                    "image_size": size,
                    "input": described,
                    "images": count,
                    "bare_images_per_s": bare,
                    "pipeline_images_per_s": pipeline,
                    "overhead": 1 - pipeline / bare,
                }
            )
        lines += [
            "",
            "| model (paper preset size) | TFRecord pipeline (examples/s) | training step (examples/s) "
            "| pipeline / step |",
            "|---|---|---|---|",
        ]
        for name in PAPER_EXPERIMENTS:
            pipeline, step = training_rates(name, args.batch_size, 256, 4, workdir)
            lines.append(f"| {name} | {pipeline:.0f} | {step:.1f} | {pipeline / step:.1f}× |")
            print(lines[-1], flush=True)
            training_rows.append(
                {
                    "model": name,
                    "pipeline_examples_per_s": pipeline,
                    "step_examples_per_s": step,
                    "pipeline_over_step": pipeline / step,
                }
            )
    table = "\n".join(lines)
    print(table)
    if args.output:
        command = command_line()
        write_json_twin(
            args.output, command, batch_size=args.batch_size, extraction=extraction_rows, training_input=training_rows
        )
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(
                "# Input pipeline throughput\n\n"
                f"Written by `{command}` on {datetime.date.today().isoformat()}, batch {args.batch_size}.\n\n"
                f"Machine: {describe()}.\n\n"
                "Rates are medians of 3 interleaved repeats after a warm-up. Overhead = 1 − pipeline / bare. "
                "Feature stores hold float16 grids at the size of each model's paper preset (SMem-VQA and iBOWIMG: "
                "ResNet-152 at 224, 7×7×2048); questions are 4–14 random words.\n\n" + table + "\n"
            )


if __name__ == "__main__":
    main()
