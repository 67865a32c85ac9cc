"""Trains every synthetic experiment from scratch on CPU and tabulates what each reaches.

Per task (presence, absolute position, relative position): VQA accuracy and
attention pointing accuracy (share of questions whose highest-weight region
touches the object the answer depends on; per hop) for iBOWIMG, SMem one-hop,
SMem two-hop and r-DAN; Recall@1/5/10 in both directions for m-DAN on a
gallery of 1,000 synthetic images with one unique caption each.

Usage: python benchmarks/synthetic_results.py [--output benchmarks/results/synthetic_results.md]
       [--params_override=…] [--experiments=a,b] [--work_dir=DIR]
"""

import argparse
import datetime
import glob
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import describe, write_json_twin  # noqa: E402

from vqa_tf.training import train  # noqa: E402
from vqa_tf.configs import apply_overrides, get_experiment  # noqa: E402

VQA_EXPERIMENTS = ["ibowimg_synthetic", "smem_one_hop_synthetic", "smem_two_hop_synthetic", "rdan_synthetic"]
TASKS = ["presence", "absolute_position", "relative_position"]


def _percent(value):
    return f"{100 * value:.1f}"


def _pointing(metrics, task):
    hops = metrics.get("pointing_accuracy_per_hop", {}).get(task)
    return " / ".join(_percent(h) for h in hops) if hops else "–"


def _training_minutes(model_dir):
    """Training time read off the run's TensorBoard loss summaries (so a rerun that only
    re-evaluates a finished run reports how long its training took), scaled from the
    first to the last summarised step up to the whole run."""
    points = []
    for path in glob.glob(os.path.join(model_dir, "train", "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            if any(value.tag == "loss" for value in event.summary.value):
                points.append((event.step, event.wall_time))
    (first_step, first_time), (last_step, last_time) = min(points), max(points)
    return (last_time - first_time) / 60 * last_step / (last_step - first_step)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=None)
    parser.add_argument("--params_override", default="", help="applied to every experiment")
    parser.add_argument("--experiments", default=",".join(VQA_EXPERIMENTS + ["mdan_synthetic"]))
    parser.add_argument(
        "--work_dir", default=None,
        help="keep the model dirs here (default: a temp dir); a rerun resumes or re-evaluates finished runs",
    )
    args = parser.parse_args()
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="synthetic_results_")
    results, minutes = {}, {}
    for name in args.experiments.split(","):
        config = apply_overrides(get_experiment(name), args.params_override)
        model_dir = os.path.join(work_dir, name)
        results[name] = train(config, model_dir)
        minutes[name] = _training_minutes(model_dir)
        print(name, json.dumps(results[name]), flush=True)
    lines = [
        "| model | steps | minutes | " + " | ".join(f"{t} acc." for t in TASKS) + " | overall | "
        + " | ".join(f"{t} pointing (hop 1 / 2)" for t in TASKS) + " |",
        "|---" * (4 + 2 * len(TASKS)) + "|",
    ]
    for name in [n for n in VQA_EXPERIMENTS if n in results]:
        m = results[name]
        per_task = m["accuracy_per_answer_type"]
        lines.append(
            f"| {name} | {m['step']} | {minutes[name]:.1f} | "
            + " | ".join(_percent(per_task[t]) for t in TASKS)
            + f" | {_percent(m['accuracy'])} | "
            + " | ".join(_pointing(m, t) for t in TASKS) + " |"
        )
    if "mdan_synthetic" in results:
        m = results["mdan_synthetic"]
        lines += [
            "",
            f"m-DAN on a gallery of {m['gallery_images']} images ({minutes['mdan_synthetic']:.1f} minutes):",
            "",
            "| direction | R@1 | R@5 | R@10 | median rank |",
            "|---|---|---|---|---|",
        ]
        for direction in ("image_to_text", "text_to_image"):
            d = m[direction]
            lines.append(f"| {direction} | {_percent(d['r@1'])} | {_percent(d['r@5'])} | {_percent(d['r@10'])} "
                         f"| {d['median_rank']:.0f} |")
    table = "\n".join(lines)
    print(table)
    if args.output:
        command = "python benchmarks/synthetic_results.py " + " ".join(a for a in sys.argv[1:])
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(
                "# Synthetic spatial-reasoning results\n\n"
                f"Written by `{command}` on {datetime.date.today().isoformat()}.\n\n"
                f"Machine: {describe()}.\n\n"
                "Each experiment trains from scratch with its registered config (`vqa_tf/configs/experiments.py`)"
                + (f" overridden by `{args.params_override}`" if args.params_override else "")
                + ". Accuracies are percentages on the held-out evaluation split (its own seed); pointing "
                "accuracy counts the questions whose answer rests on an object (not 'no' presence questions). "
                "iBOWIMG's map is uniform, so its pointing figure is that of the first region.\n\n"
                + table + "\n"
            )
        write_json_twin(args.output, command.strip(), results=results, minutes=minutes)


if __name__ == "__main__":
    main()
