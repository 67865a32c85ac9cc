"""Parameter counts and forward-pass FLOPs of every model at its paper's sizes (its paper preset's).

Each figure is given twice: measured (Keras's own parameter count; matrix
products found in the traced TensorFlow graph) and derived by hand from the
papers' equations (SMem-VQA: Xu & Saenko, 2016; DAN: Nam et al., 2017). FLOPs count matrix products only, at 2 FLOPs per
multiply-add, for one example with a 25-token question; element-wise ops
(tanh, softmax, adds) are left out of both columns.

Usage: python benchmarks/model_summary.py [--output benchmarks/results/model_summary.md]
(the JSON twin goes beside the table, with the extension .json)
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_flops import matmul_flops
from machine import command_line, write_results

from vqa_tf.configs import PAPER_EXPERIMENTS
from vqa_tf.models import build_model
from vqa_tf.training import paper_model_arguments

QUESTION_LENGTH = 25


def measured_matmul_flops(model, settings, length=QUESTION_LENGTH):
    """FLOPs of the MatMul/BatchMatMul ops in the model's graph for one example (`graph_flops`): the
    LSTM's time loop runs once per token."""
    spec = {
        "image_features": tf.TensorSpec(
            [1, settings["grid_height"], settings["grid_width"], settings["feature_dim"]], tf.float32
        ),
        "token_ids": tf.TensorSpec([1, length], tf.int32),
    }
    return matmul_flops(tf.function(lambda inputs: model(inputs)).get_concrete_function(spec), length, batch=1)


def hand_counts(name, s, length=QUESTION_LENGTH):
    """(parameters, matrix-product FLOPs) from the papers' equations."""
    regions = s["grid_height"] * s["grid_width"]
    channels, vocab = s["feature_dim"], s["vocab_size"]
    if name == "smem_vqa":
        n, hops, answers = s["embedding_dim"], s["num_hops"], s["num_answers"]
        params = (
            vocab * n  # word embeddings
            + (hops + 1) * (channels * n + regions * n)  # W_A, b_A, W_E_k, b_E_k
            + s["max_question_length"]
            + n  # w_j, b_Q
            + n * answers
            + answers  # W_P, b_P
        )
        flops = (
            (hops + 1) * 2 * regions * channels * n  # A = S·W_A, E_k = S·W_E_k
            + 2 * length * regions * n  # C = V·Aᵀ
            + 2 * regions * n  # s₁ = a₁·E
            + (hops - 1) * (2 * regions * n + 2 * regions * n)  # E·O, a_k·E_k
            + 2 * n * answers
        )
        return params, flops
    if name == "ibowimg":
        n, answers = s["embedding_dim"], s["num_answers"]
        return vocab * n + (n + channels) * answers + answers, 2 * (n + channels) * answers
    d, steps = s["hidden_dim"], s["num_steps"]
    text_params = vocab * d + 2 * 4 * (d * d + d * d + d)  # embedding, two LSTMs
    text_flops = 2 * length * (2 * d * 4 * d + 2 * d * 4 * d)  # two directions, input + recurrent
    visual_step_params = (channels * d + d) + (d * d + d) + d + (channels * d + d)
    visual_step_flops = (
        2 * regions * channels * d  # W_v v_n over all regions
        + 2 * d * d  # W_vm m
        + 2 * regions * d  # w_vh·h_n
        + 2 * regions * channels  # Σ α_n v_n
        + 2 * channels * d  # P⁽ᵏ⁾ on the attended sum
    )
    textual_step_params = 2 * (d * d + d) + d
    textual_step_flops = 2 * length * d * d + 2 * d * d + 2 * length * d + 2 * length * d
    params = text_params + (channels * d + d) + steps * (visual_step_params + textual_step_params)
    flops = text_flops + 2 * channels * d + steps * (visual_step_flops + textual_step_flops)
    if name == "reasoning_dan":
        params += d * s["num_answers"] + s["num_answers"]
        flops += 2 * d * s["num_answers"]
    else:
        flops += 2 * (steps + 1) * d  # S = z_v·z_u
    return params, flops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=None, help="markdown file to write the table to")
    args = parser.parse_args()
    header = (
        "| model | preset | settings | parameters (Keras) | parameters (by hand) "
        "| GFLOPs (graph) | GFLOPs (by hand) | graph / hand |"
    )
    rows, figures = [header, "|" + "---|" * 8], []
    for name, experiment in PAPER_EXPERIMENTS.items():
        # the weight-decay regularizer changes no parameter or FLOP count
        settings = {k: v for k, v in paper_model_arguments(name).items() if k != "kernel_regularizer"}
        model = build_model(name, **settings)
        params, flops = model.count_params(), measured_matmul_flops(model, settings)
        hand_params, hand_flops = hand_counts(name, settings)
        shown = ", ".join(f"{k}={v}" for k, v in settings.items() if k not in ("dropout", "vocab_size"))
        rows.append(
            f"| {name} | {experiment} | {shown} | {params:,} | {hand_params:,} | {flops / 1e9:.4f} "
            f"| {hand_flops / 1e9:.4f} | {flops / hand_flops:.6f} |"
        )
        figures.append(
            {
                "model": name,
                "preset": experiment,
                "settings": settings,
                "parameters": params,
                "parameters_by_hand": hand_params,
                "gflops": flops / 1e9,
                "gflops_by_hand": hand_flops / 1e9,
            }
        )
    table = "\n".join(rows)
    print(table)
    if args.output:
        command = command_line()
        write_results(
            args.output,
            command,
            "Model sizes at the papers' settings",
            "FLOPs are matrix products only (2 per multiply-add), one example, a 25-token "
            "question, vocabulary 10,000 words; the grid is the preset's backbone's at its image size "
            "(SMem-VQA: ResNet-152 at 224, 7×7×2048, standing in for the paper's GoogLeNet 7×7×1024). "
            "'graph' counts the MatMul/BatchMatMul ops "
            "of the traced TensorFlow graph (the LSTM loop body once per token); 'by hand' "
            "follows the papers' equations.\n\n" + table,
            rows=figures,
        )


if __name__ == "__main__":
    main()
