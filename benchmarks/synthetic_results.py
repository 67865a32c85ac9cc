"""Trains every synthetic experiment with its registered recipe and tabulates what each reaches.

Balanced set: per-task VQA accuracy of iBOWIMG, SMem one-hop, SMem two-hop
and r-DAN next to the blind baselines (question-only, image-only) trained
the same way, with attention pointing accuracy per hop (share of questions
whose highest-weight region touches the object the answer rests on), the
training minutes and the minutes until every task but counting is ≥ 97%;
SMem two-hop also with two more trainer seeds (initialization and batch
order), since how far it gets on relative position varies between seeds.
Skewed set (each yes/no template answered by its majority answer 80% of the
time): SMem two-hop and r-DAN against the question-only model on yes/no
questions. m-DAN: Recall@K both ways on a 1,000-image gallery, with the
paper's loss (same-image pairs masked) and the unmasked ablation, and how
the captions of the images wrongly ranked first differ from the queries.

The runs share what their recipe computes before training and would
compute identically: the pretrained backbone (one per pretraining setting)
and, per data set, the written images and the grids extracted from them.

Usage: python benchmarks/synthetic_results.py [--output benchmarks/results/synthetic_results.md]
       [--params_override=…] [--runs=name,…] [--work_dir=DIR]
(the JSON twin goes beside the table, with the extension .json)
"""

import argparse
import datetime
import glob
import json
import os
import re
import shutil
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import describe, write_json_twin  # noqa: E402

from vqa_tf.configs import apply_overrides, get_experiment  # noqa: E402
from vqa_tf.data.synthetic import TASKS, YES_NO_TASKS  # noqa: E402
from vqa_tf.training import model_dir as files  # noqa: E402
from vqa_tf.training import restore_for_evaluation, train  # noqa: E402

SKEWED = "data.synthetic_yes_prior=0.8"
TARGET = 0.97
HELD_TASKS = [t for t in TASKS if t != "count"]  # counting is reported, not held to the target
# (row name, experiment, overrides, table)
RUNS = [
    ("iBOWIMG", "ibowimg_synthetic", "", "balanced"),
    ("SMem one-hop", "smem_one_hop_synthetic", "", "balanced"),
    ("SMem two-hop", "smem_two_hop_synthetic", "", "balanced"),
    ("r-DAN", "rdan_synthetic", "", "balanced"),
    ("SMem two-hop, trainer seed 1", "smem_two_hop_synthetic", "trainer.seed=1", "balanced"),
    ("SMem two-hop, trainer seed 2", "smem_two_hop_synthetic", "trainer.seed=2", "balanced"),
    ("question-only", "question_only_synthetic", "", "balanced"),
    ("image-only", "image_only_synthetic", "", "balanced"),
    ("SMem two-hop, skewed", "smem_two_hop_synthetic", SKEWED, "skewed"),
    ("r-DAN, skewed", "rdan_synthetic", SKEWED, "skewed"),
    ("question-only, skewed", "question_only_synthetic", SKEWED, "skewed"),
    ("m-DAN", "mdan_synthetic", "", "matching"),
    ("m-DAN, unmasked loss (ablation)", "mdan_synthetic", "model.mask_same_image=false", "matching"),
]


def _percent(value):
    return f"{100 * value:.1f}"


def _reuse(config, model_dir, earlier):
    """Copies into `model_dir` what an earlier run with the same pretraining or data setting computed."""
    data = dict(vars(config.data), baseline="")
    pretraining = json.dumps({k: data[k] for k in ("backbone", "image_size", "seed", "synthetic_background",
                                                   "backbone_pretraining", "pretraining_scenes")}, sort_keys=True)
    data_key = json.dumps({"task": config.task, **data}, sort_keys=True)
    os.makedirs(model_dir, exist_ok=True)
    for key, names in ((data_key, (files.DATA_DIR, files.FEATURES_DIR)), (pretraining, (files.PRETRAINED_BACKBONE,))):
        source = earlier.get(key)
        for name in names if source else ():
            target = os.path.join(model_dir, name)
            if os.path.exists(os.path.join(source, name)) and not os.path.exists(target):
                (shutil.copytree if os.path.isdir(os.path.join(source, name)) else shutil.copy)(
                    os.path.join(source, name), target)
        earlier.setdefault(key, model_dir)


def _training_seconds(model_dir):
    """{step: seconds spent in training steps up to it}, summed from the run's steps_per_second summaries
    (each covers the steps since the one before; evaluations and checkpoints fall between them)."""
    rates = []
    for path in glob.glob(os.path.join(model_dir, "train", "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == "steps_per_second":
                    rates.append((event.step, float(tf.make_ndarray(value.tensor))))
    seconds, previous, total = {}, 0, 0.0
    for step, rate in sorted(rates):
        total += (step - previous) / rate
        seconds[step], previous = total, step
    return seconds


def _curve(model_dir):
    """[{"step", "minutes", "accuracy" or "recall"}] of every evaluation; minutes count training steps only."""
    seconds = _training_seconds(model_dir)
    curve = []
    for path in sorted(glob.glob(os.path.join(model_dir, files.METRICS_DIR, "eval_*.json"))):
        with open(path, encoding="utf-8") as f:
            metrics = json.load(f)
        point = {"step": metrics["step"], "minutes": round(seconds[metrics["step"]] / 60, 2)}
        if "accuracy_per_answer_type" in metrics:
            point["accuracy"] = metrics["accuracy_per_answer_type"]
        else:
            point["recall"] = _recall(metrics)
        curve.append(point)
    return curve


def _recall(metrics):
    return {direction: metrics[direction] for direction in ("image_to_text", "text_to_image")}


_CAPTION = re.compile(r"a (\w+ \w+ \w+) (above|below|to the left of|to the right of) a (\w+ \w+ \w+)")
ERROR_KINDS = ("relation (same objects)", "objects swapped", "sizes only", "other")


def _retrieval_errors(model_dir):
    """{kind: count} over text→image queries whose top image is wrong, by how the top image's caption
    differs from the query: the other relation between the same objects, the same relation with the
    objects swapped, only the objects' sizes, or anything else."""
    task, parts, _ = restore_for_evaluation(model_dir)
    images, texts, caption_image = task.embeddings(parts, task.eval_examples)
    top = np.argmax(texts @ images.T, axis=1)
    captions = [c for e in task.eval_examples for c in e.captions]
    counts = dict.fromkeys(ERROR_KINDS, 0)
    for caption, truth, found in zip(captions, caption_image, top):
        if truth == found:
            continue
        found_caption = task.eval_examples[found].captions[0]  # a gallery image has one caption
        (a, rel_a, b), (c, rel_c, d) = (_CAPTION.fullmatch(x).groups() for x in (caption, found_caption))
        unsized = [x.split(" ", 1)[1] for x in (a, b, c, d)]
        if (a, b) == (c, d):
            kind = "relation (same objects)"
        elif (a, b, rel_a) == (d, c, rel_c):
            kind = "objects swapped"
        elif (unsized[:2], rel_a) == (unsized[2:], rel_c):
            kind = "sizes only"
        else:
            kind = "other"
        counts[kind] += 1
    return counts


def _minutes_to_target(curve):
    for point in curve:
        if all(point["accuracy"][t] >= TARGET for t in HELD_TASKS):
            return point["minutes"]
    return None


def _yes_no(accuracy):
    return sum(accuracy[t] for t in YES_NO_TASKS) / len(YES_NO_TASKS)


def _run(name, experiment, overrides, params_override, work_dir, earlier):
    config = apply_overrides(apply_overrides(get_experiment(experiment), overrides), params_override)
    model_dir = os.path.join(work_dir, re.sub(r"[^\w-]+", "_", name).strip("_"))
    _reuse(config, model_dir, earlier)
    metrics = train(config, model_dir)
    curve = _curve(model_dir)
    result = {"experiment": experiment, "overrides": overrides, "steps": metrics["step"],
              "minutes": curve[-1]["minutes"], "curve": curve}
    if config.task == "vqa":
        result["accuracy"] = metrics["accuracy_per_answer_type"]
        result["overall"] = metrics["accuracy"]
        result["pointing"] = metrics.get("pointing_accuracy_per_hop", {})
        result["minutes_to_target"] = _minutes_to_target(curve)
    else:
        result["gallery_images"] = metrics["gallery_images"]
        result["recall"] = _recall(metrics)
        result["text_to_image_errors"] = _retrieval_errors(model_dir)
    print(name, json.dumps({k: v for k, v in result.items() if k != "curve"}), flush=True)
    return result


def _tables(results):
    lines = []
    balanced = [n for n, *_, table in RUNS if table == "balanced" and n in results]
    if balanced:
        lines += ["## Balanced set: accuracy (%)", "",
                  "| model | steps | minutes | minutes to ≥ 97% on every task but count | "
                  + " | ".join(TASKS) + " | overall |", "|---" * (5 + len(TASKS)) + "|"]
        for name in balanced:
            r = results[name]
            target = r["minutes_to_target"]
            lines.append(f"| {name} | {r['steps']} | {r['minutes']:.1f} | {'not reached' if target is None else target} | "
                         + " | ".join(_percent(r["accuracy"][t]) for t in TASKS) + f" | {_percent(r['overall'])} |")
        lines += ["", "## Balanced set: pointing accuracy per hop (%)", "",
                  "| model | " + " | ".join(TASKS) + " |", "|---" * (1 + len(TASKS)) + "|"]
        for name in balanced:
            pointing = results[name]["pointing"]
            if pointing and not name.endswith("-only") and name != "iBOWIMG":
                lines.append(f"| {name} | " + " | ".join(
                    " / ".join(_percent(h) for h in pointing[t]) if t in pointing else "–" for t in TASKS) + " |")
    skewed = [n for n, *_, table in RUNS if table == "skewed" and n in results]
    if skewed:
        lines += ["", "## Skewed set (yes_prior 0.8): accuracy (%)", "",
                  "| model | " + " | ".join(YES_NO_TASKS) + " | yes/no mean | overall |",
                  "|---" * (3 + len(YES_NO_TASKS)) + "|"]
        for name in skewed:
            r = results[name]
            lines.append(f"| {name} | " + " | ".join(_percent(r["accuracy"][t]) for t in YES_NO_TASKS)
                         + f" | {_percent(_yes_no(r['accuracy']))} | {_percent(r['overall'])} |")
    matching = [n for n, *_, table in RUNS if table == "matching" and n in results]
    if matching:
        lines += ["", f"## m-DAN on a gallery of {results[matching[0]]['gallery_images']} images (%)", "",
                  "| loss | minutes | image→text R@1 | R@5 | R@10 | text→image R@1 | R@5 | R@10 |", "|---" * 8 + "|"]
        for name in matching:
            r = results[name]
            cells = [_percent(r["recall"][d][k]) for d in ("image_to_text", "text_to_image") for k in ("r@1", "r@5", "r@10")]
            lines.append(f"| {name} | {r['minutes']:.1f} | " + " | ".join(cells) + " |")
        lines += ["", "### m-DAN: how the wrongly top-ranked image's caption differs from the query (text→image)",
                  "", "| loss | " + " | ".join(ERROR_KINDS) + " |", "|---" * (1 + len(ERROR_KINDS)) + "|"]
        for name in matching:
            errors = results[name]["text_to_image_errors"]
            lines.append(f"| {name} | " + " | ".join(str(errors[k]) for k in ERROR_KINDS) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=None)
    parser.add_argument("--params_override", default="", help="applied to every run")
    parser.add_argument("--runs", default=";".join(n for n, *_ in RUNS), help="row names, separated by ';'")
    parser.add_argument("--work_dir", default=None,
                        help="keep the model dirs here (default: a temp dir); a rerun re-evaluates finished runs")
    args = parser.parse_args()
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="synthetic_results_")
    chosen = args.runs.split(";")
    results, earlier = {}, {}
    for name, experiment, overrides, _ in RUNS:
        if name in chosen:
            results[name] = _run(name, experiment, overrides, args.params_override, work_dir, earlier)
    table = _tables(results)
    print(table)
    if args.output:
        command = ("python benchmarks/synthetic_results.py " + " ".join(sys.argv[1:])).strip()
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(
                "# Synthetic results\n\n"
                f"Written by `{command}` on {datetime.date.today().isoformat()}.\n\n"
                f"Machine: {describe()}.\n\n"
                "Each run trains with its registered recipe (`vqa_tf/configs/experiments.py`)"
                + (f" overridden by `{args.params_override}`" if args.params_override else "")
                + ": small_cnn pretrained on synthetic scenes of its own, frozen, the model trained on its stored "
                "grids. Accuracies are on the held-out split (its own seed; 100 questions per task). Chance on a "
                "balanced task: 50% yes/no, 16.7% colour, 33.3% shape, 25% count. Minutes count training steps "
                "only, read off each run's summaries (not pretraining, data writing, grid extraction or "
                "evaluations; runs after the first reuse the pretrained backbone and grids). "
                "Pointing counts the questions whose answer rests on an object (not 'no' presence questions, "
                "not a count of 0).\n\n" + table + "\n"
            )
        write_json_twin(args.output, command, runs=results)


if __name__ == "__main__":
    main()
