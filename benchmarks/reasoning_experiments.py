"""Why the attention models do or do not reason: every variant tried, over trainer seeds, with its diagnostics.

Each row trains a synthetic experiment with overrides over `--seeds`
(`seeded_runs`); an override may name `{seed}` and `{work_dir}`, so that a
row can start from another row's run of the same seed (a warm start). Per
row: accuracy per task (mean ± sd, worst seed), per-hop pointing, weight on
the evidence, how often another question about the same image leaves a
hop's argmax cell in place, each hop's weight on the first and the second
object a relative-position question names, where each hop's argmax cell lands on the
questions about one named object (that object, another of its colour or shape, another
object, background), presence accuracy by what the scene holds (the named
object, asked affirmatively or negated; else other objects that share its
colour or its shape), and for SMem which word of the question wins
hop 1's max over words at the region hop 1 attends most: a word that every
question of a task has ("is", "what") cannot say where the named object is.
Every row also gets its accuracy on as many training questions as it is
evaluated on (memorised against learned) and, per seed, its absolute- and
relative-position accuracy at each evaluation (when a seed leaves chance).

Usage: python benchmarks/reasoning_experiments.py
           [--output benchmarks/results/reasoning_experiments.md] [--seeds 0,1,2] [--rows name;…] [--work_dir DIR]
(the JSON twin goes beside the table, with the extension .json)
"""

import argparse
import collections
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from keras import ops

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import command_line, write_results
from seeded_runs import SKIP_WORDS_OVERRIDE, cell, chosen_rows, hops_cell, run_row, slug, stats, table_head

from vqa_tf.data.synthetic import FORMS, TASKS, SpatialShapesVQA
from vqa_tf.data.synthetic_files import read_named_object_masks
from vqa_tf.data.synthetic_scenes import COLORS, SHAPES, SceneObject, object_mask
from vqa_tf.metrics import evaluate_vqa, evidence_cells
from vqa_tf.text import Vocabulary
from vqa_tf.training import model_dir as files
from vqa_tf.training import restore_for_evaluation
from vqa_tf.training.vqa_task import SYNTHETIC_SEED_OFFSETS, synthetic_options

ONE_HOP = "SMem one-hop"
# (row, experiment, overrides)
ROWS = [
    ("SMem two-hop", "smem_two_hop_synthetic", ""),
    (ONE_HOP, "smem_one_hop_synthetic", ""),
    ("SMem two-hop, 20,000 steps", "smem_two_hop_synthetic", "trainer.train_steps=20000,trainer.eval_every=5000"),
    (
        "SMem two-hop, warm start from the one-hop run of its seed",
        "smem_two_hop_synthetic",
        "trainer.init_model_dir={work_dir}/" + slug(ONE_HOP) + "/seed_{seed}",
    ),
    ("r-DAN", "rdan_synthetic", ""),
    (
        "SMem two-hop, Q's position weights uniform ±0.08 (official code)",
        "smem_two_hop_synthetic",
        "model.position_weights_init=official",
    ),
    (
        "SMem two-hop, hop 1 pools words by logsumexp (not the paper's)",
        "smem_two_hop_synthetic",
        "model.hop1_word_pooling=logsumexp",
    ),
    ("r-DAN, 10,000 steps", "rdan_synthetic", "trainer.train_steps=10000"),
    ("r-DAN, 48,000 training questions", "rdan_synthetic", "data.num_train=48000"),
    (
        "r-DAN, 48,000 training questions, 10,000 steps",
        "rdan_synthetic",
        "data.num_train=48000,trainer.train_steps=10000",
    ),
    (
        "SMem two-hop, attention supervision 1 (not the paper's)",
        "smem_two_hop_synthetic",
        "model.attention_supervision=1",
    ),
    ("r-DAN, attention supervision 1 (not the paper's)", "rdan_synthetic", "model.attention_supervision=1"),
    (
        "SMem two-hop, attention supervision 1, hop k on the k-th named object (not the paper's)",
        "smem_two_hop_synthetic",
        "model.attention_supervision=1,model.attention_supervision_targets=in_order",
    ),
    (
        "r-DAN, attention supervision 1, step k on the k-th named object (not the paper's)",
        "rdan_synthetic",
        "model.attention_supervision=1,model.attention_supervision_targets=in_order",
    ),
    (
        "r-DAN, attention supervision 1, step k on the k-th named object, 48,000 training questions (not the paper's)",
        "rdan_synthetic",
        "model.attention_supervision=1,model.attention_supervision_targets=in_order,data.num_train=48000",
    ),
    (
        "r-DAN, attention supervision 1, step k on the k-th named object, 48,000 training questions, "
        "10,000 steps (not the paper's)",
        "rdan_synthetic",
        "model.attention_supervision=1,model.attention_supervision_targets=in_order,data.num_train=48000,"
        "trainer.train_steps=10000",
    ),
    (
        "r-DAN, attention supervision 1, step k on the k-th named object, 48,000 training questions, "
        "15,000 steps (not the paper's)",
        "rdan_synthetic",
        "model.attention_supervision=1,model.attention_supervision_targets=in_order,data.num_train=48000,"
        "trainer.train_steps=15000",
    ),
    ("SMem two-hop, 48,000 training questions", "smem_two_hop_synthetic", "data.num_train=48000"),
    (
        "SMem two-hop, attention supervision 1, hop k on the k-th named object, 48,000 training questions "
        "(not the paper's)",
        "smem_two_hop_synthetic",
        "model.attention_supervision=1,model.attention_supervision_targets=in_order,data.num_train=48000",
    ),
    (
        "SMem two-hop, hop 1 skips the words that name no object (not the paper's)",
        "smem_two_hop_synthetic",
        SKIP_WORDS_OVERRIDE,
    ),
    (
        "SMem two-hop, hop 1 skips the words that name no object, 48,000 training questions (not the paper's)",
        "smem_two_hop_synthetic",
        "data.num_train=48000," + SKIP_WORDS_OVERRIDE,
    ),
    (
        "SMem two-hop, hop 1 skips the words that name no object, attention supervision 1, hop k on the k-th "
        "named object, 48,000 training questions (not the paper's)",
        "smem_two_hop_synthetic",
        "model.attention_supervision=1,model.attention_supervision_targets=in_order,data.num_train=48000,"
        + SKIP_WORDS_OVERRIDE,
    ),
    (
        "SMem two-hop, hop 1 skips the words that name no object and pools the others by logsumexp, 48,000 "
        "training questions (not the paper's)",
        "smem_two_hop_synthetic",
        "data.num_train=48000,model.hop1_word_pooling=logsumexp," + SKIP_WORDS_OVERRIDE,
    ),
    (
        "SMem two-hop, hop 1 skips the words that name no object and sums the others' scores, 48,000 training "
        "questions (not the paper's)",
        "smem_two_hop_synthetic",
        "data.num_train=48000,model.hop1_word_pooling=sum," + SKIP_WORDS_OVERRIDE,
    ),
    (
        "SMem two-hop, hop 1 skips the words that name no object and sums the others' scores, attention "
        "supervision 1, hop k on the k-th named object, 48,000 training questions (not the paper's)",
        "smem_two_hop_synthetic",
        "model.attention_supervision=1,model.attention_supervision_targets=in_order,data.num_train=48000,"
        "model.hop1_word_pooling=sum," + SKIP_WORDS_OVERRIDE,
    ),
    (
        "SMem two-hop, hop 1 skips the words that name no object and sums the others' scores, 48,000 training "
        "questions, 10,000 steps (not the paper's)",
        "smem_two_hop_synthetic",
        "data.num_train=48000,trainer.train_steps=10000,model.hop1_word_pooling=sum," + SKIP_WORDS_OVERRIDE,
    ),
    (
        "SMem two-hop, hop 1 skips the words that name no object and sums the others' scores, attention "
        "supervision 1, hop k on the k-th named object, 48,000 training questions, 10,000 steps (not the paper's)",
        "smem_two_hop_synthetic",
        "model.attention_supervision=1,model.attention_supervision_targets=in_order,data.num_train=48000,"
        "trainer.train_steps=10000,model.hop1_word_pooling=sum," + SKIP_WORDS_OVERRIDE,
    ),
    (
        "SMem two-hop, hop 1 skips the words that name no object and sums the others' scores, attention "
        "supervision 1, hop k on the k-th named object, 48,000 training questions, 20,000 steps (not the paper's)",
        "smem_two_hop_synthetic",
        "model.attention_supervision=1,model.attention_supervision_targets=in_order,data.num_train=48000,"
        "trainer.train_steps=20000,model.hop1_word_pooling=sum," + SKIP_WORDS_OVERRIDE,
    ),
]
CURVE_TASKS = ("absolute_position", "relative_position")  # the tasks whose accuracy over training the table shows
ARGMAX_TASKS = ("presence", "absolute_position", "attribute")  # the yes/no tasks about one named object
ARGMAX_PLACES = ("named object", "same colour", "same shape", "other object", "background")
PRESENCE_CASES = (
    "present, affirmative",
    "present, negated",
    "absent, no object of its colour or shape",
    "absent, an object of its colour",
    "absent, an object of its shape",
    "absent, objects of its colour and of its shape",
)
TRAINING_QUESTIONS = 3500  # how many training questions the training-split accuracy reads (as many as evaluation)
CONTENT_WORDS = set(COLORS) | set(SHAPES) | {f"{s}s" for s in SHAPES}


def hop1_winning_words(task, parts):
    """{word: share of evaluation questions} of the word that wins hop 1's max at hop 1's argmax region
    ("(padding)" where every real word hop 1 reads scores below zero there)."""
    core = parts.core
    vocabulary = Vocabulary.load(files.path(task.model_dir, files.VOCABULARY_FILE)).tokens
    embed, attend = core.get_layer("word_embedding"), core.get_layer("attention_embedding")
    normalize = [layer for layer in core.layers if layer.name == "region_normalization"]
    skip = [layer for layer in core.layers if layer.name == "hop_1_words"]
    wins = collections.Counter()
    dataset = task.build_inputs("eval", training=False, shuffle=False, batch_size=512, every_question=True)
    for inputs, _ in dataset:
        grid = inputs["image_features"]
        regions = ops.reshape(grid, (ops.shape(grid)[0], -1, ops.shape(grid)[-1]))
        if normalize:
            regions = normalize[0](regions)
        words, mask = embed(inputs["token_ids"])
        if skip:
            mask = skip[0](inputs["token_ids"], mask)
        scores = ops.convert_to_numpy(ops.matmul(words, ops.transpose(attend(regions), (0, 2, 1))))
        mask = ops.convert_to_numpy(mask)
        scores = np.where(mask[:, :, None], scores, -np.inf)
        region_scores = np.maximum(scores.max(axis=1), 0.0)
        top = region_scores.argmax(axis=1)
        ids = ops.convert_to_numpy(inputs["token_ids"])
        for i, region in enumerate(top):
            column = scores[i, :, region]
            wins["(padding)" if column.max() < 0 else vocabulary[ids[i, column.argmax()]]] += 1
    total = sum(wins.values())
    return {word: count / total for word, count in wins.most_common()}


def argmax_place(attention_map, objects, target, image_size):
    """Where the argmax cell of `attention_map` [h, w] lands in a scene of `objects` asked about `target` (one of
    them): "named object" if the cell touches it, else "same colour" or "same shape" if it touches another object
    of the target's colour or shape (colour first), else "other object" or "background"."""
    cell = np.unravel_index(int(np.argmax(attention_map)), attention_map.shape)
    touched = [o for o in objects if evidence_cells(object_mask(o, image_size), attention_map.shape)[cell]]
    if target in touched:
        return "named object"
    if any(o.color == target.color for o in touched):
        return "same colour"
    if any(o.shape == target.shape for o in touched):
        return "same shape"
    return "other object" if touched else "background"


def eval_scenes(data):
    """The synthetic generator of a run's evaluation split: `.sample(question_id)` is that question's scene."""
    return SpatialShapesVQA(data.seed + SYNTHETIC_SEED_OFFSETS["eval"], data.image_size, **synthetic_options(data))


def argmax_places(task, parts):
    """{task: per hop {place: share}} over the ARGMAX_TASKS evaluation questions whose answer rests on the object
    they name (`argmax_place`): a hop that reads one named word at a time can land on an object that shares
    only that word."""
    data = task.config.data
    scenes = eval_scenes(data)
    examples = [e for e in task.eval_examples if e.answer_type in ARGMAX_TASKS and e.evidence_mask_path]
    predictions = task.predict(parts.model, "eval", examples=examples)
    places = collections.defaultdict(list)  # task → [per hop place] per question
    for example in examples:
        sample = scenes.sample(example.question_id)
        first = sample.evidence_labels == 1  # the object the question names first
        target = max(sample.objects, key=lambda o: int((object_mask(o, data.image_size) & first).sum()))
        maps = predictions[example.question_id][1]
        places[example.answer_type].append([argmax_place(m, sample.objects, target, data.image_size) for m in maps])
    return {
        name: [{p: float(np.mean([q[hop] == p for q in rows])) for p in ARGMAX_PLACES} for hop in range(len(rows[0]))]
        for name, rows in places.items()
    }


def _named_kind(sample):
    """The (colour, shape) a presence question names."""
    words = set(sample.question.rstrip("?").split())
    return next(c for c in COLORS if c in words), next(s for s in SHAPES if s in words)


def presence_case(sample):
    """Which of PRESENCE_CASES a presence question is: where the named object is absent, whether other objects
    share its colour, its shape or both (never both on one object: the scene would then hold it)."""
    if sample.evidence_labels.any():
        return f"present, {sample.form}"
    colour, shape = _named_kind(sample)
    shares_colour = any(o.color == colour for o in sample.objects)
    shares_shape = any(o.shape == shape for o in sample.objects)
    return PRESENCE_CASES[2 + shares_colour + 2 * shares_shape]


def presence_accuracy(task, parts):
    """{case: {accuracy, questions, hop1_places}} of the presence evaluation questions, by `presence_case`, with
    where hop 1's argmax cell lands (`argmax_place`) on the questions whose named object is absent: a hop that
    scores a region by the named words can take an object that shares one of them for the named object."""
    data = task.config.data
    scenes = eval_scenes(data)
    examples = [e for e in task.eval_examples if e.answer_type == "presence"]
    predictions = task.predict(parts.model, "eval", examples=examples)
    hits, places = collections.defaultdict(list), collections.defaultdict(list)
    for example in examples:
        sample = scenes.sample(example.question_id)
        case = presence_case(sample)
        answer, maps = predictions[example.question_id]
        hits[case].append(answer == sample.answer)
        if case.startswith("absent"):
            named = SceneObject(*_named_kind(sample), size="small", y=0, x=0)  # in no scene: never "named object"
            places[case].append(argmax_place(maps[0], sample.objects, named, data.image_size))
    return {
        case: {
            "accuracy": float(np.mean(hits[case])),
            "questions": len(hits[case]),
            "hop1_places": {p: float(np.mean([q == p for q in places[case]])) for p in ARGMAX_PLACES[1:]}
            if places[case]
            else None,
        }
        for case in PRESENCE_CASES
        if hits[case]
    }


def _presence_row(restored):
    per_seed = [presence_accuracy(*r) for r in restored]
    row = {}
    for case, first in per_seed[0].items():
        row[case] = {**stats([s[case]["accuracy"] for s in per_seed]), "questions": first["questions"]}
        if first["hop1_places"]:
            row[case]["hop1_places"] = {
                p: float(np.mean([s[case]["hop1_places"][p] for s in per_seed])) for p in first["hop1_places"]
            }
    return row


def _argmax_places_row(restored):
    per_seed = [argmax_places(*r) for r in restored]
    return {
        name: [
            {place: float(np.mean([s[name][hop][place] for s in per_seed])) for place in ARGMAX_PLACES}
            for hop in range(len(per_seed[0][name]))
        ]
        for name in per_seed[0]
    }


def training_split_accuracy(task, parts):
    """{task: accuracy} on the first TRAINING_QUESTIONS training questions: beside the held-out figure, how
    much of a task the model has memorised rather than learned."""
    examples = task.train_examples[:TRAINING_QUESTIONS]
    predictions = task.predict(parts.model, "train", examples=examples)
    return evaluate_vqa({q: p[0] for q, p in predictions.items()}, examples)["per_answer_type"]


def named_object_weight(task, parts):
    """{"first": [...], "second": [...]}: per hop, the mean attention weight on the first and on the second
    object relative-position evaluation questions name ("is the red square above the blue circle?")."""
    examples = [e for e in task.eval_examples if e.answer_type == "relative_position"]
    predictions = task.predict(parts.model, "eval", examples=examples)
    weights = []  # [question, object, hop]
    for example in examples:
        maps = predictions[example.question_id][1]
        named = read_named_object_masks(example.evidence_mask_path)
        weights.append([[float(hop[evidence_cells(mask, hop.shape)].sum()) for hop in maps] for mask in named])
    mean = np.mean(weights, axis=0)
    return {"first": mean[0].tolist(), "second": mean[1].tolist()}


def _named_object_row(restored):
    per_seed = [named_object_weight(*r) for r in restored]
    return {
        which: [
            {"mean": float(np.mean([s[which][hop] for s in per_seed])), "per_seed": [s[which][hop] for s in per_seed]}
            for hop in range(len(per_seed[0][which]))
        ]
        for which in ("first", "second")
    }


def _winning_words_row(restored):
    per_seed = [hop1_winning_words(*r) for r in restored]
    content = [sum(share for word, share in w.items() if word in CONTENT_WORDS) for w in per_seed]
    top = [next(iter(w.items())) for w in per_seed]
    return {
        "content_word_share": {"per_seed": content, "mean": float(np.mean(content)), "worst": float(min(content))},
        "top_word_per_seed": [{"word": word, "share": share} for word, share in top],
        "per_seed": per_seed,
    }


def max_hops(rows):
    return max(len(row["named_object_weight"]["first"]) for row in rows.values())


def _table(rows):
    lines = [
        "## Accuracy (%): mean ± sd (worst seed)",
        "",
        *table_head("variant", "seeds", *TASKS, "overall"),
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {len(row['seeds'])} | "
            + " | ".join(cell(row["accuracy"][t]) for t in TASKS)
            + f" | {cell(row['accuracy']['overall'])} |"
        )
    lines += [
        "",
        "## Accuracy per question form (%): mean ± sd (worst seed)",
        "",
        "| variant | affirmative yes/no | negated yes/no | open-ended |",
        "|---|---|---|---|",
    ]
    for name, row in rows.items():
        forms = row["accuracy_per_form"]
        lines.append(f"| {name} | " + " | ".join(cell(forms[f]) for f in FORMS) + " |")
    for key, title in (
        ("pointing", "Pointing per hop (%): mean (worst seed)"),
        ("evidence_weight", "Attention weight on the evidence per hop (%): mean (worst seed)"),
        (
            "same_argmax_other_question",
            "Another question about the same image leaves the argmax cell in place (%), per hop: mean (worst seed)",
        ),
    ):
        lines += ["", f"## {title}", "", *table_head("variant", *TASKS)]
        for name, row in rows.items():
            lines.append(
                f"| {name} | " + " | ".join(hops_cell(row[key][t]) if t in row[key] else "–" for t in TASKS) + " |"
            )
    lines += [
        "",
        "## Relative position: attention weight per hop on the first / the second named object (%), mean over seeds",
        "",
        "| variant | " + " | ".join(f"hop {k + 1}" for k in range(max_hops(rows))) + " |",
        "|---|" + "---|" * max_hops(rows),
    ]
    for name, row in rows.items():
        named = row["named_object_weight"]
        hops = [f"{100 * a['mean']:.0f} / {100 * b['mean']:.0f}" for a, b in zip(named["first"], named["second"])]
        lines.append(f"| {name} | " + " | ".join(hops + ["–"] * (max_hops(rows) - len(hops))) + " |")
    lines += [
        "",
        "## Where each hop's argmax cell lands on questions about one named object (%), mean over seeds: "
        + " / ".join(ARGMAX_PLACES),
        "",
        *table_head("variant", "hop", *ARGMAX_TASKS),
    ]
    for name, row in rows.items():
        for hop in range(len(row["argmax_places"][ARGMAX_TASKS[0]])):
            shares = [
                " / ".join(f"{100 * row['argmax_places'][t][hop][p]:.0f}" for p in ARGMAX_PLACES) for t in ARGMAX_TASKS
            ]
            lines.append(f"| {name} | {hop + 1} | " + " | ".join(shares) + " |")
    lines += [
        "",
        "## Presence by what the scene holds (%): mean ± sd (worst seed) [questions]",
        "",
        *table_head("variant", *PRESENCE_CASES),
    ]
    for name, row in rows.items():
        cases = row["presence_accuracy"]
        lines.append(
            f"| {name} | "
            + " | ".join(f"{cell(cases[c])} [{cases[c]['questions']}]" if c in cases else "–" for c in PRESENCE_CASES)
            + " |"
        )
    absent = PRESENCE_CASES[2:]
    lines += [
        "",
        "## Presence, named object absent: where hop 1's argmax cell lands (%), mean over seeds: "
        + " / ".join(ARGMAX_PLACES[1:]),
        "",
        *table_head("variant", *absent),
    ]
    for name, row in rows.items():
        cases = row["presence_accuracy"]
        places = [cases[c]["hop1_places"].values() if c in cases else None for c in absent]
        shares = [" / ".join(f"{100 * v:.0f}" for v in p) if p else "–" for p in places]
        lines.append(f"| {name} | " + " | ".join(shares) + " |")
    lines += [
        "",
        f"## Accuracy on {TRAINING_QUESTIONS:,} training questions (%): mean ± sd (worst seed)",
        "",
        *table_head("variant", *TASKS),
    ]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(cell(row["training_split_accuracy"][t]) for t in TASKS) + " |")
    for task_name in CURVE_TASKS:
        lines += [
            "",
            f"## {task_name} (%) at each evaluation, per seed",
            "",
            *table_head("variant", "seed", "by step"),
        ]
        for name, row in rows.items():
            for seed in row["per_seed"]:
                points = ", ".join(f"{c['step']}: {100 * c[task_name]:.0f}" for c in seed["curve"])
                lines.append(f"| {name} | {seed['seed']} | {points} |")
    if not any("hop1_winning_words" in row for row in rows.values()):
        return "\n".join(lines)
    lines += [
        "",
        "## The word that wins hop 1's max at hop 1's most attended region",
        "",
        "| variant | content words (colour, shape): mean (worst seed) | most frequent winner per seed |",
        "|---|---|---|",
    ]
    for name, row in rows.items():
        if "hop1_winning_words" not in row:
            continue
        words = row["hop1_winning_words"]
        tops = ", ".join(f"{t['word']} {100 * t['share']:.0f}%" for t in words["top_word_per_seed"])
        lines.append(
            f"| {name} | {100 * words['content_word_share']['mean']:.0f}% "
            f"({100 * words['content_word_share']['worst']:.0f}%) | {tops} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=None)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rows", default=";".join(name for name, *_ in ROWS), help="row names, separated by ';'")
    parser.add_argument("--work_dir", default=None, help="keep the model dirs here (default: a temp dir)")
    parser.add_argument("--params_override", default="", help="applied to every run")
    args = parser.parse_args()
    work_dir = os.path.abspath(args.work_dir or tempfile.mkdtemp(prefix="reasoning_experiments_"))
    seeds = [int(s) for s in args.seeds.split(",")]
    chosen = chosen_rows(args.rows, [n for n, *_ in ROWS])
    rows, earlier = {}, {}
    for name, experiment, overrides in ROWS:
        if name not in chosen:
            continue
        summary, per_seed = run_row(
            name, experiment, overrides.replace("{work_dir}", work_dir), seeds, work_dir, earlier, args.params_override
        )
        model_dirs = [os.path.join(work_dir, slug(name), f"seed_{s['seed']}") for s in per_seed]
        restored = [restore_for_evaluation(d)[:2] for d in model_dirs]  # (task, parts) per seed, once
        if experiment.startswith("smem"):
            summary["hop1_winning_words"] = _winning_words_row(restored)
        summary["named_object_weight"] = _named_object_row(restored)
        summary["argmax_places"] = _argmax_places_row(restored)
        summary["presence_accuracy"] = _presence_row(restored)
        accuracies = [training_split_accuracy(*r) for r in restored]
        summary["training_split_accuracy"] = {t: stats([a[t] for a in accuracies]) for t in TASKS}
        summary["per_seed"] = [
            {
                **{k: v for k, v in s.items() if k != "curve"},
                "training_split_accuracy": a,
                "curve": [
                    {"step": c["step"], **{t: c["accuracy_per_answer_type"][t] for t in CURVE_TASKS}}
                    for c in s["curve"]
                ],
            }
            for s, a in zip(per_seed, accuracies)
        ]
        rows[name] = summary
    table = _table(rows)
    print(table)
    if args.output:
        command = command_line()
        write_results(
            args.output,
            command,
            "Reasoning experiments",
            (
                "Every row trains its synthetic experiment with the overrides shown, once per trainer seed (the "
                "model's initialisation and batch order), under runtime.deterministic, on one pretrained small_cnn "
                "that every row shares and one data set (unless a row's overrides change it); evaluated on 500 "
                "held-out questions per task. Pointing "
                "counts questions whose answer rests on an object.\n\n" + table
            ),
            runs=rows,
        )


if __name__ == "__main__":
    main()
