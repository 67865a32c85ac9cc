"""The matrix products of a training step, one by one, at their own shapes.

For each model at its paper preset's size (as `benchmarks/train_throughput.py`
builds it), lists the step's matrix products (`graph_flops.matmul_products`:
forward and backward, each as often as one step runs it) and times each alone
(`train_throughput.products_runner`, the best of `--repeats` runs): its time
per step, its share of the step's matrix-product time and its GFLOP/s, beside
a float32 matmul of the model's largest product timed in the same run.

A weight gradient is written by TensorFlow as xᵀ·dy (`transpose_a`). Each such
product is also timed as (dyᵀ·x)ᵀ, the same values computed in the other
order, which a BLAS may run at a different rate; the summary gives the step's
matrix-product time with each such product in its faster form.

Usage: python benchmarks/step_matmuls.py [--output benchmarks/results/step_matmuls.md]
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_flops import product_flops, products_flops
from machine import command_line, write_results
from train_throughput import (
    MODELS,
    largest_product,
    matmul_rate,
    products_runner,
    timed,
    training_products,
)

from vqa_tf.configs import PAPER_EXPERIMENTS, get_experiment
from vqa_tf.training import paper_model_arguments

TOP = 8  # products listed per model


def reordered(a, b, transpose_a, transpose_b):
    """aᵀ·op(b) computed as (op(b)ᵀ·a)ᵀ, for a product with transpose_a: the same values, the other order."""
    return tf.transpose(tf.matmul(b, a, transpose_a=not transpose_b))


def best_seconds(products, repeats, product=tf.matmul):
    """The best of `repeats` timings of one run of `products` alone, after one untimed run."""
    return min(timed(products_runner(products, product), 1, 1, repeats))


def measure(name, repeats):
    """The model's row: its products, each timed alone (and reordered where it has transpose_a)."""
    config = get_experiment(PAPER_EXPERIMENTS[name])
    batch = config.data.global_batch_size
    settings = paper_model_arguments(name)
    products = training_products(name, config, settings, batch)
    reference = matmul_rate(largest_product(settings, batch))()
    rows = []
    for (a, b, transpose_a, transpose_b), count in products.items():
        key = (a, b, transpose_a, transpose_b)
        flops = count * product_flops(key)
        seconds = best_seconds({key: count}, repeats)
        row = {
            "a": list(a),
            "b": list(b),
            "transpose_a": transpose_a,
            "transpose_b": transpose_b,
            "count": count,
            "ms_per_step": seconds * 1e3,
            "gflops_per_s": flops / seconds / 1e9,
        }
        if transpose_a and len(a) == 2:
            other = best_seconds({key: count}, repeats, reordered)
            row["reordered_ms_per_step"] = other * 1e3
            row["reordered_gflops_per_s"] = flops / other / 1e9
        rows.append(row)
        print(f"{name} {shape(row)} ×{count}: {row['gflops_per_s']:.0f} GFLOP/s", flush=True)
    total = sum(r["ms_per_step"] for r in rows)
    faster = sum(min(r["ms_per_step"], r.get("reordered_ms_per_step", r["ms_per_step"])) for r in rows)
    return {
        "model": name,
        "batch": batch,
        "matmul_gflops_per_s": reference / 1e9,
        "training_gflops_per_step": products_flops(products) / 1e9,
        "products_ms_per_step": total,
        "products_ms_per_step_faster_order": faster,
        "products": sorted(rows, key=lambda r: -r["ms_per_step"]),
    }


def shape(r):
    return f"{r['a']}{'ᵀ' if r['transpose_a'] else ''} · {r['b']}{'ᵀ' if r['transpose_b'] else ''}"


def report(models):
    lines = []
    for m in models:
        rate = m["training_gflops_per_step"] / m["products_ms_per_step"] * 1e3
        faster_rate = m["training_gflops_per_step"] / m["products_ms_per_step_faster_order"] * 1e3
        lines += [
            f"## {m['model']} (batch {m['batch']})",
            "",
            f"The step's matrix products alone take {m['products_ms_per_step']:.0f} ms: {rate:.0f} GFLOP/s, "
            f"{rate / m['matmul_gflops_per_s']:.2f} of the {m['matmul_gflops_per_s']:.0f} GFLOP/s matmul. "
            f"With every weight gradient in its faster order: {m['products_ms_per_step_faster_order']:.0f} ms, "
            f"{faster_rate / m['matmul_gflops_per_s']:.2f} of the matmul.",
            "",
            "| product | per step | ms per step | share | GFLOP/s | reordered (dyᵀ·x)ᵀ: ms / GFLOP/s |",
            "|---|---|---|---|---|---|",
        ]
        for r in m["products"][:TOP]:
            other = (
                f"{r['reordered_ms_per_step']:.1f} / {r['reordered_gflops_per_s']:.0f}"
                if "reordered_ms_per_step" in r
                else ""
            )
            lines.append(
                f"| {shape(r)} | {r['count']} | {r['ms_per_step']:.1f} | "
                f"{r['ms_per_step'] / m['products_ms_per_step']:.1%} | {r['gflops_per_s']:.0f} | {other} |"
            )
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="Markdown file for the results table (the JSON twin goes beside it).")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    models = [measure(name, args.repeats) for name in args.models]
    text = report(models)
    print(text)
    if args.output:
        write_results(
            args.output,
            command_line(),
            "The matrix products of a training step, one by one",
            "Each product of the step's forward and backward pass (features as input, the paper preset's size "
            f"and batch, float32), timed alone at its own shapes, as often as one step runs it; the {TOP} "
            "slowest per model. `ᵀ` marks a transposed operand.\n\n" + text,
            machine_note="Shared and noisy: compare the rates within this run, not absolute times.",
            models=models,
        )


if __name__ == "__main__":
    main()
