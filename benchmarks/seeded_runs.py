"""Trains a row of synthetic experiments over several trainer seeds and summarises it across them.

The helper of `synthetic_results.py` and `reasoning_experiments.py`. A row
is (experiment, overrides); each seed k trains it with `trainer.seed=k` (the
model's initialisation and batch order) under `runtime.deterministic`, in
`<work_dir>/<row>/seed_<k>`. Runs share what their recipe computes before
training and would compute identically: the pretrained backbone and, per
data set, the written images and the grids extracted from them (both depend
on the data settings alone). A rerun with the same work_dir re-evaluates
finished runs instead of training them again.

Per row the summary holds, per task, the mean, standard deviation and worst
seed of the accuracy, and per task and hop the mean and worst seed of the
attention diagnostics (pointing, weight on the evidence, entropy, and how
often another question leaves the argmax cell where it was).
"""

import glob
import json
import os
import re
import shutil

import numpy as np
import tensorflow as tf

from vqa_tf.configs import apply_overrides, get_experiment
from vqa_tf.data.synthetic import NON_NAMING_WORDS, YES_NO_TASKS
from vqa_tf.data.synthetic_files import vqa_paths
from vqa_tf.data.vqa_reader import read_vqa
from vqa_tf.training import model_dir as files
from vqa_tf.training import train

DIAGNOSTICS = {  # metrics key → summary key
    "pointing_accuracy_per_hop": "pointing",
    "evidence_weight_per_hop": "evidence_weight",
    "attention_entropy_per_hop": "entropy",
    "same_argmax_other_question_per_hop": "same_argmax_other_question",
}
LEAVES_PRIOR_BY = 0.05  # a skewed run has left the prior once its yes/no accuracy beats it by this much
# SMem's hop 1 skipping the synthetic phrasings' words that name no object (not the paper's)
SKIP_WORDS_OVERRIDE = "model.hop1_skip_words=" + json.dumps(list(NON_NAMING_WORDS), separators=(",", ":"))


def slug(text):
    return re.sub(r"[^\w-]+", "_", text).strip("_")


def _share(config, model_dir, earlier):
    """Copies into `model_dir` what an earlier run with the same pretraining or data setting computed."""
    data = dict(vars(config.data), baseline="")
    pretraining = json.dumps(
        {
            k: data[k]
            for k in (
                "backbone",
                "image_size",
                "seed",
                "synthetic_background",
                "backbone_pretraining",
                "pretraining_scenes",
            )
        },
        sort_keys=True,
    )
    data_key = json.dumps({"task": config.task, **data}, sort_keys=True)
    os.makedirs(model_dir, exist_ok=True)
    for key, names in ((data_key, (files.DATA_DIR, files.FEATURES_DIR)), (pretraining, (files.PRETRAINED_BACKBONE,))):
        source = earlier.get(key)
        for name in names if source else ():
            target = os.path.join(model_dir, name)
            if os.path.exists(os.path.join(source, name)) and not os.path.exists(target):
                (shutil.copytree if os.path.isdir(os.path.join(source, name)) else shutil.copy)(
                    os.path.join(source, name), target
                )
        earlier.setdefault(key, model_dir)


def training_seconds(model_dir):
    """{step: seconds spent in training steps up to it}, summed from the run's steps_per_second summaries."""
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


def evaluations(model_dir):
    """Every evaluation's metrics, in step order."""
    found = []
    for path in sorted(glob.glob(os.path.join(model_dir, files.METRICS_DIR, "eval_*.json"))):
        with open(path, encoding="utf-8") as f:
            found.append(json.load(f))
    return found


def yes_no_prior(model_dir):
    """The yes/no accuracy of answering every evaluation question with its template's majority answer.

    A template is (task, form); its majority answer is read off the training split.
    """
    splits = {}
    for split in ("train", "eval"):
        questions, annotations, pattern = vqa_paths(os.path.join(model_dir, files.DATA_DIR), split)
        splits[split] = [
            e for e in read_vqa(questions, pattern, annotations, check_images=False) if e.answer_type in YES_NO_TASKS
        ]
    counts = {}
    for e in splits["train"]:
        counts.setdefault((e.answer_type, e.question_type), []).append(e.majority_answer)
    majority = {key: max(set(answers), key=answers.count) for key, answers in counts.items()}
    per_task = {}
    for e in splits["eval"]:
        per_task.setdefault(e.answer_type, []).append(
            majority.get((e.answer_type, e.question_type)) == e.majority_answer
        )
    return float(np.mean([np.mean(hits) for hits in per_task.values()]))


def yes_no_accuracy(accuracy):
    return float(np.mean([accuracy[t] for t in YES_NO_TASKS if t in accuracy]))


def run_seed(experiment, overrides, seed, model_dir, earlier, params_override=""):
    """Trains (or re-evaluates) one seed of a row, in float32 unless its overrides say otherwise; returns its
    final metrics with its evaluation curve."""
    config = get_experiment(experiment)
    row = overrides.replace("{seed}", str(seed))
    for text in ("runtime.mixed_precision=off", row, params_override, f"trainer.seed={seed}"):
        apply_overrides(config, text)
    _share(config, model_dir, earlier)
    metrics = train(config, model_dir)
    seconds = training_seconds(model_dir)
    curve = evaluations(model_dir)
    result = {
        "seed": seed,
        "metrics": metrics,
        "minutes": round(seconds[max(seconds)] / 60, 2),
        "curve": [{k: m[k] for k in ("step", "accuracy_per_answer_type", "text_to_image") if k in m} for m in curve],
    }
    if config.task == "vqa" and config.data.synthetic_yes_prior != 0.5:
        prior = yes_no_prior(model_dir)
        result["yes_no_prior"] = prior
        result["leaves_prior_at_step"] = next(
            (m["step"] for m in curve if yes_no_accuracy(m["accuracy_per_answer_type"]) >= prior + LEAVES_PRIOR_BY),
            None,
        )
    return result


def stats(values):
    """{mean, sd, worst} of per-seed values: the sample standard deviation, and the least value as the worst."""
    values = np.asarray(values, np.float64)
    return {
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "worst": float(values.min()),
    }


def _hop_stats(per_seed, worst=min):
    """[{mean, worst} per hop] of per-seed lists of per-hop values."""
    return [{"mean": float(np.mean(hop)), "worst": float(worst(hop))} for hop in zip(*per_seed)]


def summarize(experiment, overrides, seeds, task):
    """The row's summary: accuracy (VQA) or recall (matching) over the seeds, diagnostics per hop."""
    metrics = [s["metrics"] for s in seeds]
    row = {
        "experiment": experiment,
        "overrides": overrides,
        "seeds": [s["seed"] for s in seeds],
        "minutes": stats([s["minutes"] for s in seeds]),
    }
    if task == "matching":
        row["gallery_images"] = metrics[0]["gallery_images"]
        row["recall"] = {
            direction: {k: stats([m[direction][k] for m in metrics]) for k in ("r@1", "r@5", "r@10")}
            for direction in ("text_to_image", "image_to_text")
        }
        return row
    row["eval_questions_per_task"] = metrics[0]["num_questions"] // len(metrics[0]["accuracy_per_answer_type"])
    tasks = list(metrics[0]["accuracy_per_answer_type"])
    row["accuracy"] = {t: stats([m["accuracy_per_answer_type"][t] for m in metrics]) for t in tasks}
    row["accuracy"]["overall"] = stats([m["accuracy"] for m in metrics])
    row["accuracy"]["yes/no"] = stats([yes_no_accuracy(m["accuracy_per_answer_type"]) for m in metrics])
    if "accuracy_per_question_type" in metrics[0]:
        row["accuracy_per_form"] = {
            form: stats([m["accuracy_per_question_type"][form] for m in metrics])
            for form in metrics[0]["accuracy_per_question_type"]
        }
    for key, name in DIAGNOSTICS.items():
        if key in metrics[0]:
            # the worst seed: least pointing / evidence weight, most entropy / question independence
            worst = max if name in ("entropy", "same_argmax_other_question") else min
            row[name] = {t: _hop_stats([m[key][t] for m in metrics], worst) for t in metrics[0][key]}
    if "leaves_prior_at_step" in seeds[0]:
        steps = [s["leaves_prior_at_step"] for s in seeds]
        row["yes_no_prior"] = seeds[0]["yes_no_prior"]
        row["leaves_prior_at_step"] = {"per_seed": steps, "worst": None if None in steps else max(steps)}
    return row


def run_row(name, experiment, overrides, seeds, work_dir, earlier, params_override=""):
    """(summary, per-seed results) of a row trained over `seeds`; prints one line per seed."""
    per_seed = []
    for seed in seeds:
        model_dir = os.path.join(work_dir, slug(name), f"seed_{seed}")
        result = run_seed(experiment, overrides, seed, model_dir, earlier, params_override)
        per_seed.append(result)
        print(
            f"{name}, seed {seed}:",
            json.dumps(result["metrics"].get("accuracy_per_answer_type") or result["metrics"].get("text_to_image")),
            flush=True,
        )
    task = get_experiment(experiment).task
    return summarize(experiment, overrides, per_seed, task), per_seed


def chosen_rows(value, names):
    """The row names `value` lists (separated by ';'), each one of `names`; raises ValueError naming any other."""
    chosen = value.split(";")
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise ValueError(f"unknown rows {unknown}; valid rows: " + "; ".join(names))
    return chosen


def table_head(*columns):
    """The header and separator lines of a Markdown table with these columns."""
    return ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]


def cell(stats, scale=100.0):
    """'mean ± sd (worst)' of a {mean, sd, worst} in percent."""
    return f"{scale * stats['mean']:.1f} ± {scale * stats['sd']:.1f} ({scale * stats['worst']:.1f})"


def hops_cell(hops, scale=100.0):
    """'mean (worst) / mean (worst)' over the hops."""
    return " / ".join(f"{scale * h['mean']:.0f} ({scale * h['worst']:.0f})" for h in hops)
