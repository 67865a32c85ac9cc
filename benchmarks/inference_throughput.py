"""Inference throughput of exported SavedModels at the papers' sizes, in-process, and each process's peak memory.

For SMem two-hop and r-DAN at their paper presets' sizes (the papers' own:
ResNet-152 at 224² and 448², 2000 answers, a 25-token question), one run
exports each model as `vqa-export` writes it (the preset's ResNet-152 with
random weights: weights do not change the cost), then, in a fresh process per
(model, endpoint), loads the SavedModel with `tf.saved_model.load` alone and
calls

* `serve_features(question, image_features)`: the model on grids a pipeline
  extracted itself;
* `serving_default(question, image)`: the whole graph, from a 640×480 JPEG
  (a COCO photo's size) through decoding, resizing and ResNet-152;

at batch 1, 8 and 64: `--warmup` calls, then the median of `--repeats`
timings. Memory is the process's peak resident set (`ru_maxrss`) after the
largest batch, next to its resident set after loading, since one process
runs one endpoint at every batch.

Usage: python benchmarks/inference_throughput.py [--output benchmarks/results/inference_throughput.md]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MODELS = ("smem_vqa", "reasoning_dan")
ENDPOINTS = ("serve_features", "serving_default")
BATCHES = (1, 8, 64)
QUESTION_LENGTH = 25
PHOTO_SIZE = (480, 640)  # height, width


def export_paper_model(name, directory):
    """Exports `name` at its paper preset's sizes, random weights; returns (export dir, grid shape)."""
    import keras

    from vqa_tf.configs import PAPER_EXPERIMENTS, get_experiment
    from vqa_tf.export.vqa_module import VQAExportModule
    from vqa_tf.models import build_model
    from vqa_tf.text import QuestionTokenizer, Vocabulary
    from vqa_tf.training import paper_model_arguments
    from vqa_tf.vision import build_backbone

    keras.utils.set_random_seed(0)
    config = get_experiment(PAPER_EXPERIMENTS[name])
    settings = paper_model_arguments(name)
    vocabulary = os.path.join(directory, "vocabulary.txt")
    Vocabulary(["[PAD]", "[UNK]"] + [f"w{i}" for i in range(settings["vocab_size"] - 2)]).save(vocabulary)
    answers = os.path.join(directory, "answers.txt")
    with open(answers, "w", encoding="utf-8") as f:
        f.write("".join(f"a{i}\n" for i in range(settings["num_answers"])))
    module = VQAExportModule(
        build_model(name, **settings),
        build_backbone(config.data.backbone, config.data.image_size),
        QuestionTokenizer(vocabulary, config.data.max_question_length),
        answers,
        config.data.image_size,
    )
    path = os.path.join(directory, "export")
    module.archive().write_out(path, verbose=False)
    return path, list(module.grid_shape)


def requests(endpoint, grid_shape, batch, rng):
    """One call's inputs: `batch` 25-word questions and JPEG photos or random grids."""
    import tensorflow as tf

    question = tf.constant([" ".join(f"w{i}" for i in rng.integers(0, 1000, QUESTION_LENGTH))] * batch)
    if endpoint == "serve_features":
        return {
            "question": question,
            "image_features": tf.constant(rng.standard_normal((batch, *grid_shape)), tf.float32),
        }
    # A smooth image, so the JPEG is photo-sized (tens of KB) rather than noise-sized.
    small = rng.integers(0, 256, (PHOTO_SIZE[0] // 16, PHOTO_SIZE[1] // 16, 3)).astype(np.uint8)
    photo = tf.io.encode_jpeg(tf.cast(tf.image.resize(small, PHOTO_SIZE), tf.uint8), quality=90)
    return {"question": question, "image": tf.fill([batch], photo)}


def resident_mib():
    with open("/proc/self/statm", encoding="utf-8") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child_main(export_dir, endpoint, grid_shape, warmup, repeats):
    """Loads `export_dir` and times `endpoint` at each batch; prints one JSON line of the figures."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the TF Text ops of the exported tokenizer)

    signature = tf.saved_model.load(export_dir).signatures[endpoint]
    loaded_mib = resident_mib()
    rng = np.random.default_rng(0)
    rows = []
    for batch in BATCHES:
        inputs = requests(endpoint, grid_shape, batch, rng)
        for _ in range(warmup):
            signature(**inputs)["answer"].numpy()
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            signature(**inputs)["answer"].numpy()
            seconds.append(time.perf_counter() - start)
        rows.append(
            {
                "batch": batch,
                "examples_per_s": batch / float(np.median(seconds)),
                "ms_per_call": 1e3 * float(np.median(seconds)),
            }
        )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "loaded_rss_mib": loaded_mib, "peak_rss_mib": peak_mib}))


def measure(name, endpoint, export_dir, grid_shape, args):
    """Rows of one (model, endpoint), measured in a fresh process."""
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        export_dir,
        endpoint,
        json.dumps(grid_shape),
        "--warmup",
        str(args.warmup),
        "--repeats",
        str(args.repeats),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{name} {endpoint} failed:\n{result.stderr[-3000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    rows = [
        {
            "model": name,
            "endpoint": endpoint,
            **row,
            "loaded_rss_mib": figures["loaded_rss_mib"],
            "peak_rss_mib": figures["peak_rss_mib"],
        }
        for row in figures["rows"]
    ]
    for row in rows:
        print(
            f"{name} {endpoint} batch {row['batch']}: {row['examples_per_s']:.1f} examples/s, "
            f"peak RSS {row['peak_rss_mib']:.0f} MiB",
            flush=True,
        )
    return rows


def table(rows):
    lines = [
        "| model | endpoint | batch | examples/s | ms / call | vs batch 1 | RSS after load MiB | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    single = {(r["model"], r["endpoint"]): r["examples_per_s"] for r in rows if r["batch"] == 1}
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['endpoint']} | {r['batch']} | {r['examples_per_s']:.1f} | {r['ms_per_call']:.1f} "
            f"| {r['examples_per_s'] / single[(r['model'], r['endpoint'])]:.2f}× | {r['loaded_rss_mib']:.0f} "
            f"| {r['peak_rss_mib']:.0f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="Markdown file for the results table (the JSON twin goes beside it).")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--endpoints", nargs="+", default=list(ENDPOINTS), choices=ENDPOINTS)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", nargs=3, metavar=("EXPORT", "ENDPOINT", "GRID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child[0], args.child[1], json.loads(args.child[2]), args.warmup, args.repeats)
        return
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for name in args.models:
            os.makedirs(os.path.join(directory, name))
            export_dir, grid_shape = export_paper_model(name, os.path.join(directory, name))
            rows += [
                row for endpoint in args.endpoints for row in measure(name, endpoint, export_dir, grid_shape, args)
            ]
    text = table(rows)
    print(text)
    if not args.output:
        return
    from machine import command_line, write_results

    command = command_line()
    write_results(
        args.output,
        command,
        "Inference throughput of exported SavedModels at the papers' sizes",
        "Each (model, endpoint) in a fresh process calling the SavedModel's signature in-process "
        "(`tf.saved_model.load`); random weights at the paper presets' sizes (ResNet-152 at 224² for SMem, "
        "448² for r-DAN); `serving_default` from 640×480 JPEGs, `serve_features` from grids; median of "
        f"{args.repeats} calls after {args.warmup} warm-up calls. Peak RSS is the process's high-water mark "
        "after all three batches (it includes loading the model).\n\n" + text,
        machine_note="Shared and noisy: compare the ratios within this run, not absolute times.",
        rows=rows,
    )


if __name__ == "__main__":
    main()
