"""Trains every synthetic experiment with its registered recipe over five trainer seeds and tabulates the results.

Balanced set: per-task VQA accuracy (mean ± sd and the worst seed) of
iBOWIMG, SMem one-hop, SMem two-hop, r-DAN and the quick start's r-DAN with
attention supervision (`rdan_supervised_synthetic`) next to the blind baselines
(question-only, image-only) trained the same way, with per-hop attention
diagnostics: pointing (the share of questions whose highest-weight region
touches the object the answer rests on), the weight on those objects, and
how often another question about the same image leaves a hop's argmax cell
in place. Skewed set (each yes/no template's statement takes its majority
value 80% of the time): SMem two-hop and r-DAN, as the papers train them and
with attention supervision (SMem's with hop 1 skipping the words that name no
object, `vqa_tf.data.synthetic.NON_NAMING_WORDS`, and pooling the others by
max or by sum), against the question-only model on yes/no questions, per form
(affirmative, negated), with the step at which each seed's yes/no accuracy
leaves the prior. m-DAN: Recall@K both ways on a 1,000-image gallery, under
the three loss forms. bfloat16: SMem two-hop, r-DAN and m-DAN trained in
mixed_bfloat16 over the same seeds as their float32 rows, and each family's
largest drop below float32 on any task (what `runtime.mixed_precision=auto`
reads, `vqa_tf.training.precision_policy`).

Every seed of every row runs under runtime.deterministic (`seeded_runs`),
so a seed reproduces its figures exactly.

Usage: python benchmarks/synthetic_results.py [--output benchmarks/results/synthetic_results.md]
       [--seeds 0,1,2,3,4] [--params_override=…] [--runs=name;…] [--work_dir=DIR]
(the JSON twin goes beside the table, with the extension .json)
"""

import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import command_line, write_results
from seeded_runs import SKIP_WORDS_OVERRIDE, cell, chosen_rows, hops_cell, run_row, table_head

from vqa_tf.data.synthetic import TASKS, YES_NO_TASKS

# Skewed rows evaluate every 250 steps, to tell when they leave the prior.
SKEWED = "data.synthetic_yes_prior=0.8,trainer.eval_every=250"
QUESTION_ONLY_SKEWED = "question-only, skewed"  # the skewed rows' blind baseline
SUPERVISED = "r-DAN, attention supervision (the quick start's recipe, not the paper's)"
SMEM_GROUNDED = "SMem two-hop, hop 1 skips the words that name no object, attention supervision (not the paper's)"
SMEM_SUMMED = (
    "SMem two-hop, hop 1 skips the words that name no object and sums the others' scores, attention supervision "
    "(not the paper's)"
)
SMEM_SUPERVISED = "model.attention_supervision=1,model.attention_supervision_targets=in_order," + SKIP_WORDS_OVERRIDE
BF16, BF16_SUFFIX = "runtime.mixed_precision=on", ", bfloat16"  # every other row trains in float32
# (row name, experiment, overrides, table)
RUNS = [
    ("iBOWIMG", "ibowimg_synthetic", "", "balanced"),
    ("SMem one-hop", "smem_one_hop_synthetic", "", "balanced"),
    ("SMem two-hop", "smem_two_hop_synthetic", "", "balanced"),
    ("r-DAN", "rdan_synthetic", "", "balanced"),
    (SUPERVISED, "rdan_supervised_synthetic", "", "balanced"),
    ("question-only", "question_only_synthetic", "", "balanced"),
    ("image-only", "image_only_synthetic", "", "balanced"),
    ("SMem two-hop, skewed", "smem_two_hop_synthetic", SKEWED, "skewed"),
    ("r-DAN, skewed", "rdan_synthetic", SKEWED, "skewed"),
    (SUPERVISED + ", skewed", "rdan_supervised_synthetic", SKEWED, "skewed"),
    (
        SMEM_GROUNDED + ", skewed",
        "smem_two_hop_synthetic",
        f"{SKEWED},{SMEM_SUPERVISED}",
        "skewed",
    ),
    (
        SMEM_SUMMED + ", skewed",
        "smem_two_hop_synthetic",
        f"{SKEWED},{SMEM_SUPERVISED},model.hop1_word_pooling=sum",
        "skewed",
    ),
    (QUESTION_ONLY_SKEWED, "question_only_synthetic", SKEWED, "skewed"),
    ("m-DAN, every in-batch negative (recipe)", "mdan_synthetic", "model.negatives=all", "matching"),
    ("m-DAN, one sampled negative (paper)", "mdan_synthetic", "model.negatives=sampled", "matching"),
    ("m-DAN, hardest negative (VSE++)", "mdan_synthetic", "model.negatives=hardest", "matching"),
    ("SMem two-hop" + BF16_SUFFIX, "smem_two_hop_synthetic", BF16, "balanced"),
    ("r-DAN" + BF16_SUFFIX, "rdan_synthetic", BF16, "balanced"),
    (
        "m-DAN, every in-batch negative (recipe)" + BF16_SUFFIX,
        "mdan_synthetic",
        "model.negatives=all," + BF16,
        "matching",
    ),
]


def _scores(row):
    """{task or recall: mean} of a row: its per-task accuracy (VQA) or its Recall@K both ways (matching)."""
    if "recall" in row:
        return {f"{d} {k}": stats["mean"] for d, ks in row["recall"].items() for k, stats in ks.items()}
    return {task: stats["mean"] for task, stats in row["accuracy"].items() if task != "overall"}


def bf16_drops(results):
    """{bfloat16 row: {task: points below its float32 row}} for every bfloat16 row whose float32 row ran."""
    drops = {}
    for name, row in results.items():
        base = results.get(name.removesuffix(BF16_SUFFIX)) if name.endswith(BF16_SUFFIX) else None
        if base is not None:
            float32, bfloat16 = _scores(base), _scores(row)
            drops[name] = {task: 100 * (float32[task] - bfloat16[task]) for task in float32}
    return drops


def _tables(results):
    lines = []
    balanced = [n for n, *_, table in RUNS if table == "balanced" and n in results]
    if balanced:
        lines += [
            "## Balanced set: accuracy (%), mean ± sd (worst seed)",
            "",
            *table_head("model", "seeds", *TASKS, "overall"),
        ]
        for name in balanced:
            r = results[name]
            lines.append(
                f"| {name} | {len(r['seeds'])} | "
                + " | ".join(cell(r["accuracy"][t]) for t in TASKS)
                + f" | {cell(r['accuracy']['overall'])} |"
            )
        for key, title in (
            ("pointing", "pointing per hop (%), mean (worst seed)"),
            ("evidence_weight", "attention weight on the evidence per hop (%), mean (worst seed)"),
            (
                "same_argmax_other_question",
                "another question about the image leaves the argmax cell in place (%), per hop, mean (worst seed)",
            ),
        ):
            lines += [
                "",
                f"## Balanced set: {title}",
                "",
                *table_head("model", *TASKS),
            ]
            for name in balanced:
                if name.endswith("-only") or name == "iBOWIMG":
                    continue
                r = results[name]
                lines.append(
                    f"| {name} | " + " | ".join(hops_cell(r[key][t]) if t in r[key] else "–" for t in TASKS) + " |"
                )
    skewed = [n for n, *_, table in RUNS if table == "skewed" and n in results]
    if skewed:
        lines += [
            "",
            "## Skewed set (yes_prior 0.8): yes/no accuracy (%), mean ± sd (worst seed)",
            "",
            *table_head(
                "model",
                *YES_NO_TASKS,
                "yes/no",
                "over question-only (points)",
                "affirmative",
                "negated",
                "prior",
                "leaves the prior at step (per seed)",
            ),
        ]
        blind = results.get(QUESTION_ONLY_SKEWED)
        for name in skewed:
            r = results[name]
            forms = r.get("accuracy_per_form", {})
            steps = ", ".join(str(s) for s in r["leaves_prior_at_step"]["per_seed"])
            margin = (
                "–"
                if blind is None
                else f"{100 * (r['accuracy']['yes/no']['mean'] - blind['accuracy']['yes/no']['mean']):+.1f}"
            )
            lines.append(
                f"| {name} | "
                + " | ".join(cell(r["accuracy"][t]) for t in YES_NO_TASKS)
                + f" | {cell(r['accuracy']['yes/no'])} | {margin} | "
                + " | ".join(cell(forms[f]) if f in forms else "–" for f in ("affirmative", "negated"))
                + f" | {100 * r['yes_no_prior']:.1f} | {steps} |"
            )
    matching = [n for n, *_, table in RUNS if table == "matching" and n in results]
    if matching:
        lines += [
            "",
            f"## m-DAN on a gallery of {results[matching[0]]['gallery_images']} images: recall (%), "
            "mean ± sd (worst seed)",
            "",
            "| loss | text→image R@1 | R@5 | R@10 | image→text R@1 | R@5 | R@10 |",
            "|---" * 7 + "|",
        ]
        for name in matching:
            recall = results[name]["recall"]
            lines.append(
                f"| {name} | "
                + " | ".join(
                    cell(recall[d][k]) for d in ("text_to_image", "image_to_text") for k in ("r@1", "r@5", "r@10")
                )
                + " |"
            )
    drops = bf16_drops(results)
    if drops:
        lines += [
            "",
            "## bfloat16 against float32: points below float32 per task (mean over seeds; negative: above)",
            "",
            "| model | largest drop | per task |",
            "|---|---|---|",
        ]
        for name, per_task in drops.items():
            listed = ", ".join(f"{task} {drop:+.1f}" for task, drop in per_task.items())
            lines.append(f"| {name} | {max(per_task.values()):+.1f} | {listed} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=None)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--params_override", default="", help="applied to every run")
    parser.add_argument("--runs", default=";".join(n for n, *_ in RUNS), help="row names, separated by ';'")
    parser.add_argument(
        "--work_dir",
        default=None,
        help="keep the model dirs here (default: a temp dir); a rerun re-evaluates finished runs",
    )
    args = parser.parse_args()
    work_dir = os.path.abspath(args.work_dir or tempfile.mkdtemp(prefix="synthetic_results_"))
    seeds = [int(s) for s in args.seeds.split(",")]
    chosen = chosen_rows(args.runs, [n for n, *_ in RUNS])
    results, earlier = {}, {}
    for name, experiment, overrides, _ in RUNS:
        if name in chosen:
            results[name], _ = run_row(name, experiment, overrides, seeds, work_dir, earlier, args.params_override)
    table = _tables(results)
    print(table)
    if args.output:
        command = command_line()
        write_results(
            args.output,
            command,
            "Synthetic results",
            (
                "Each row trains its registered recipe (`vqa_tf/configs/experiments.py`)"
                + (f" overridden by `{args.params_override}`" if args.params_override else "")
                + " once per trainer seed (the model's initialisation and batch order) under runtime.deterministic: "
                "small_cnn pretrained on synthetic scenes of its own, frozen, the model trained on its stored grids. "
                "Accuracies are on the held-out split (500 questions per task). Chance on a balanced task: 50% yes/no, "
                "16.7% colour, 33.3% shape, 25% count. Pointing counts the questions whose answer rests on an object "
                "(not a presence question whose object is absent, not a count of 0).\n\n" + table
            ),
            runs=results,
        )


if __name__ == "__main__":
    main()
