"""Where a training step's time goes: a TensorBoard profiler trace of the package's step, summed by op type.

Builds one model at its paper preset's size exactly as
`benchmarks/train_throughput.py` (mode `loop`) does, runs `--warmup` steps,
then records `--steps` steps with `tf.profiler.experimental` into `--logdir`
(open it with TensorBoard's Profile tab). It then reads the trace's host
plane and sums the time of the TensorFlow ops by op type: each type's share of
the op time, whether it is a matrix product (the work `graph_flops` counts),
and the wall time per step. An op's time is its span on the executor thread
that ran it (a matrix product's span covers its shards on the intra-op
threads); calls such as While count their body's ops, not themselves. Spans
are summed over the executor's threads, so on 2 cores they can exceed the
wall time.

With `--replicas 2` the step runs under MirroredStrategy over that many
logical CPU devices, and `--optimizers package,keras` profiles, in the same
run, the package's optimizer (the step's one all-reduce) and Keras' own
(which all-reduces the summed gradients again, as the step did before
`build_optimizer`); the report lists the op types whose calls per step differ.

Usage: python benchmarks/profile_train_step.py --model reasoning_dan
           [--replicas 2 --optimizers package,keras]
           [--output benchmarks/results/profile_train_step.md]
"""

import argparse
import collections
import glob
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import command_line, write_results
from train_throughput import MODELS, loop_runner

from vqa_tf.configs import PAPER_EXPERIMENTS, RuntimeConfig, get_experiment
from vqa_tf.training.distribution import make_strategy

# Ops whose event spans the ops of the function they call, counted there.
CONTAINERS = ("While", "StatelessWhile", "StatefulPartitionedCall", "PartitionedCall", "If", "StatelessIf", "Case")


def is_matrix_product(op_type):
    """MatMul, BatchMatMulV2 and their oneDNN (`_Mkl…`) and fused forms."""
    return "MatMul" in op_type


def op_times(logdir):
    """{op type: (microseconds, count)} of the TensorFlow ops in the newest trace under `logdir`."""
    paths = sorted(glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")), key=os.path.getmtime)
    if not paths:
        raise FileNotFoundError(f"no profiler trace under {logdir}")
    space = xplane_pb2.XSpace.FromString(tf.io.gfile.GFile(paths[-1], "rb").read())
    totals = collections.defaultdict(lambda: [0.0, 0])
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):  # the executor's threads, where ops run
                continue
            for event in line.events:
                # An op's event is named "op name:OpType"; the executor's own events have "::" in theirs.
                name = names.get(event.metadata_id, "")
                op_type = name.rsplit(":", 1)[-1]
                if ":" not in name or "::" in name or op_type in CONTAINERS:
                    continue
                totals[op_type][0] += event.duration_ps / 1e6
                totals[op_type][1] += 1
    return {op: (us, n) for op, (us, n) in totals.items()}


def table(times, steps, top):
    total = sum(us for us, _ in times.values())
    lines = ["| op type | matrix product | ms per step | share of op time | calls per step |", "|---|---|---|---|---|"]
    for op, (us, n) in sorted(times.items(), key=lambda item: -item[1][0])[:top]:
        lines.append(
            f"| {op} | {'yes' if is_matrix_product(op) else ''} | {us / 1e3 / steps:.1f} | {us / total:.1%} "
            f"| {n / steps:.0f} |"
        )
    return "\n".join(lines)


def profile(strategy, model, config, optimizer, args):
    """(wall ms per step, {op type: (microseconds, count)}) of a profiled run of the step."""
    keras.utils.set_random_seed(0)
    run_steps = loop_runner(
        strategy, model, config, config.data.global_batch_size, False, keras_own_optimizer=optimizer == "keras"
    )
    run_steps(args.warmup)
    logdir = os.path.join(args.logdir, model, f"{args.replicas}_replicas_{optimizer}")
    tf.profiler.experimental.start(logdir)
    start = time.perf_counter()
    run_steps(args.steps)
    wall_ms = (time.perf_counter() - start) * 1e3 / args.steps
    tf.profiler.experimental.stop()
    print(f"trace: tensorboard --logdir {logdir}")
    return wall_ms, op_times(logdir)


def differing_calls(runs, steps):
    """A table of the op types whose calls per step differ between the runs."""
    names = list(runs)
    ops = sorted({op for _, times in runs.values() for op in times})
    lines = [
        "| op type | " + " | ".join(f"{name}: calls / ms per step" for name in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for op in ops:
        counts = [runs[name][1].get(op, (0.0, 0)) for name in names]
        if len({n for _, n in counts}) > 1:
            lines.append(
                f"| {op} | " + " | ".join(f"{n / steps:.0f} / {us / 1e3 / steps:.1f}" for us, n in counts) + " |"
            )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="reasoning_dan", choices=MODELS)
    parser.add_argument("--replicas", type=int, default=1, help="MirroredStrategy over this many logical CPU devices")
    parser.add_argument(
        "--optimizers",
        default="package",
        help="comma-separated: package (build_optimizer), keras (Keras' own, a second all-reduce)",
    )
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--top", type=int, default=15, help="op types listed")
    parser.add_argument("--logdir", default="/tmp/vqa_tf_profile", help="where the TensorBoard traces go")
    parser.add_argument("--output", help="Markdown file for the summary (the JSON twin goes beside it).")
    args = parser.parse_args()
    optimizers = args.optimizers.split(",")
    if not set(optimizers) <= {"package", "keras"}:
        parser.error(f"--optimizers takes package and keras, got {args.optimizers}")
    config = get_experiment(PAPER_EXPERIMENTS[args.model])
    batch = config.data.global_batch_size
    runtime = (
        RuntimeConfig(strategy="one_device")
        if args.replicas == 1
        else RuntimeConfig(strategy="mirrored", num_cpu_devices=args.replicas)
    )
    strategy = make_strategy(runtime)
    runs = {optimizer: profile(strategy, args.model, config, optimizer, args) for optimizer in optimizers}
    summaries, figures = [], {}
    for optimizer, (wall_ms, times) in runs.items():
        total_ms = sum(us for us, _ in times.values()) / 1e3 / args.steps
        matmul_ms = sum(us for op, (us, _) in times.items() if is_matrix_product(op)) / 1e3 / args.steps
        summaries.append(
            f"{args.model}, batch {batch} over {args.replicas} replica(s), {optimizer} optimizer: "
            f"{wall_ms:.0f} ms per step (wall, under the profiler), {total_ms:.0f} ms of op time per "
            f"step summed over threads, of which matrix products {matmul_ms:.0f} ms "
            f"({matmul_ms / total_ms:.0%})."
        )
        figures[optimizer] = dict(
            wall_ms_per_step=wall_ms,
            op_ms_per_step=total_ms,
            matmul_ms_per_step=matmul_ms,
            op_types={
                op: {"ms_per_step": us / 1e3 / args.steps, "calls_per_step": n / args.steps}
                for op, (us, n) in times.items()
            },
        )
    text = "\n\n".join(summaries)
    if len(runs) > 1:
        text += "\n\nOp types whose calls per step differ between the optimizers:\n\n" + differing_calls(
            runs, args.steps
        )
    first = optimizers[0]
    text += f"\n\nTop op types, {first} optimizer:\n\n" + table(runs[first][1], args.steps, args.top)
    print(text)
    if not args.output:
        return
    command = command_line()
    write_results(
        args.output,
        command,
        f"Where a training step's time goes: {args.model}",
        "TensorBoard profiler traces of the package's training step (float32, no XLA, features as input, "
        "the paper preset's size and batch), their host-plane TensorFlow ops summed by type.\n\n" + text,
        model=args.model,
        batch=batch,
        replicas=args.replicas,
        steps=args.steps,
        optimizers=figures,
    )


if __name__ == "__main__":
    main()
