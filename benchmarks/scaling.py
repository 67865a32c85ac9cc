"""Data-parallel scaling, on paper from measurements here: a ring all-reduce cost model fitted on loopback.

Measured here: the all-reduce time of 2 worker processes on loopback
(`MultiWorkerMirroredStrategy`, RING collective, one CPU replica each,
`ReplicaContext.all_reduce(SUM)` inside `strategy.run` in a `tf.function`;
median of `--repeats` calls after `--warmup`) over a sweep of float32 message
sizes, a few bfloat16 ones, and each model's gradient list (its trainable
variables' shapes at the paper preset's sizes) packed three ways
(`CommunicationOptions.bytes_per_pack`: 0 = one bucket, TF's default; 25 MiB
buckets; 1 byte = one all-reduce per variable). The ring model

    t(n bytes, p workers) = m · 2(p−1) · α + 2(p−1)/p · n / B

(m separate all-reduces, α the latency of one ring step, B the bandwidth) is
fitted to the single-message float32 sweep by least squares on relative error.
The one-replica step time comes from `benchmarks/results/train_throughput.json`
(mode `loop`, written by benchmarks/train_throughput.py).

Projected: for 8 and 64 workers on 25 and 100 Gb/s links, on CPU workers like
this machine and on H100 GPUs (step time from the training FLOPs per example and
NVIDIA's dense BF16 peak at an assumed achieved fraction), the step time
(compute plus the all-reduce, not overlapped), examples/s, scaling efficiency
compute / (compute + all-reduce), and the smallest batch per replica that keeps
efficiency ≥ 90% with the gradient all-reduced in float32 or bfloat16, in one
bucket or per variable.

Usage: python benchmarks/scaling.py [--output benchmarks/results/scaling.md]
       [--sizes_mib 1 2 4] [--repeats 2]   (a smoke test; the defaults are the committed run's)
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MODELS = ("smem_vqa", "reasoning_dan", "matching_dan")
THROUGHPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "train_throughput.json")
MIB = 2**20
SIZES_MIB = (1 / 16, 1 / 4, 1, 2, 4, 8, 16, 32, 64, 128)  # the float32 sweep the model is fitted to
BF16_SIZES_MIB = (4, 32, 128)  # bfloat16 at the same bytes as float32: does a byte cost the same?
PACKINGS = {"one bucket": 0, "25 MiB buckets": 25 * MIB, "per variable": 1}  # CommunicationOptions.bytes_per_pack
WORKERS = 2
CLUSTER_SIZES = (8, 64)
LINKS_GBPS = (25, 100)
TARGET_EFFICIENCY = 0.9
# NVIDIA H100 SXM5 datasheet: BF16 Tensor Core 1,979 TFLOP/s "with sparsity", half of it dense.
H100_BF16_DENSE_FLOPS = 989.4e12
# Assumed, not measured: Megatron-Core's best reported H100 figure for large GEMM-bound models is 47% of
# peak; these models' matmuls are smaller and their LSTMs sequential, so 40% overstates their speed, which
# understates scaling efficiency (a faster step leaves the all-reduce a larger share).
H100_ACHIEVED_FRACTION = 0.4
# GPUs all-reduce with NCCL, not TF's RING: NCCL's own cost model (src/graph/tuning.cc, hwLat[NET][Ring]
# [Simple]) takes 9.6 µs per ring step across a network.
NCCL_NET_STEP_SECONDS = 9.6e-6


def ring_allreduce_seconds(n_bytes, workers, alpha, bandwidth, messages=1):
    """Ring all-reduce time of `n_bytes` in `messages` separate all-reduces among `workers`."""
    workers = np.asarray(workers, dtype=float)
    return messages * 2 * (workers - 1) * alpha + 2 * (workers - 1) / workers * np.asarray(n_bytes) / bandwidth


def fit_ring_model(n_bytes, workers, seconds):
    """(α seconds, B bytes/s, rms relative residual) of the ring model fitted to single-message timings,
    by least squares on relative error (so that small messages weigh as much as large ones)."""
    n_bytes, workers, seconds = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (n_bytes, workers, seconds)))
    design = np.stack([2 * (workers - 1), 2 * (workers - 1) / workers * n_bytes], axis=1) / seconds[:, None]
    (alpha, inverse_bandwidth), *_ = np.linalg.lstsq(design, np.ones_like(seconds), rcond=None)
    residual = design @ [alpha, inverse_bandwidth] - 1
    return float(alpha), float(1 / inverse_bandwidth), float(np.sqrt(np.mean(residual**2)))


def efficiency(compute_seconds, comm_seconds):
    """Scaling efficiency of a step whose all-reduce does not overlap its compute."""
    return compute_seconds / (compute_seconds + comm_seconds)


def min_batch_for_efficiency(seconds_per_example, comm_seconds, target=TARGET_EFFICIENCY):
    """Smallest batch per replica whose compute (linear in the batch) keeps efficiency ≥ `target`."""
    return math.ceil(target / (1 - target) * comm_seconds / seconds_per_example - 1e-9)


# --- measured: the worker processes -------------------------------------------------------------------------


def allreduce_seconds(strategy, case, warmup, repeats):
    """Median seconds of one SUM all-reduce of `case`'s tensors, packed by its `bytes_per_pack`."""
    import tensorflow as tf

    options = tf.distribute.experimental.CommunicationOptions(bytes_per_pack=case["bytes_per_pack"])
    tensors = [tf.ones(shape, case["dtype"]) for shape in case["shapes"]]

    def replica_fn(values):
        values = [tf.identity(v) for v in values]  # placed on the replica's device, as gradients are
        reduced = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, values, options=options)
        return tf.add_n([tf.cast(tf.reshape(r, [-1])[0], tf.float32) for r in reduced])

    step = tf.function(lambda values: strategy.run(replica_fn, args=(values,)))
    seconds = []
    for _ in range(warmup + repeats):
        start = time.perf_counter()
        total = float(step(tensors))
        seconds.append(time.perf_counter() - start)
    if total != WORKERS * len(tensors):
        raise RuntimeError(f"all-reduce of {case['name']} summed to {total}, not {WORKERS * len(tensors)}")
    return float(np.median(seconds[warmup:]))


def worker_main(plan_path, result_path):
    """One worker (TF_CONFIG set): times every case of the plan; worker 0 writes the seconds."""
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING
        )
    )
    with open(plan_path, encoding="utf-8") as f:
        plan = json.load(f)
    seconds = [allreduce_seconds(strategy, case, plan["warmup"], plan["repeats"]) for case in plan["cases"]]
    if json.loads(os.environ["TF_CONFIG"])["task"]["index"] == 0:
        with open(result_path, "w", encoding="utf-8") as f:
            json.dump(seconds, f)


# --- measured: the driver -----------------------------------------------------------------------------------


def pack_count(shapes, dtype, bytes_per_pack):
    """How many all-reduces TF's collective makes of these gradients: its own packing (in reverse order)."""
    import tensorflow as tf
    from tensorflow.python.distribute.cross_device_utils import group_by_size  # what MWMS packs with

    return len(group_by_size([tf.TensorSpec(s, dtype) for s in reversed(shapes)], bytes_per_pack))


def gradient_shapes(name):
    """The shapes of `name`'s trainable variables at its paper preset's sizes: its gradient list."""
    from vqa_tf.models import build_model
    from vqa_tf.training import paper_model_arguments

    return [list(v.shape) for v in build_model(name, **paper_model_arguments(name)).trainable_variables]


def measurement_cases(models, sizes_mib, bf16_sizes_mib):
    """The cases to time: single messages (float32 sweep, bfloat16 at the same bytes) and model gradients."""
    cases = [
        {
            "name": f"{dtype} {s:g} MiB",
            "kind": "message",
            "dtype": dtype,
            "bytes": int(s * MIB),
            "shapes": [[int(s * MIB) // size]],
            "tensors": 1,
            "bytes_per_pack": 0,
            "packs": 1,
        }
        for dtype, size, sizes in (("float32", 4, sizes_mib), ("bfloat16", 2, bf16_sizes_mib))
        for s in sizes
    ]
    for name in models:
        shapes = gradient_shapes(name)
        elements = sum(math.prod(s) for s in shapes)
        for dtype, size in (("float32", 4), ("bfloat16", 2)):
            for packing, bytes_per_pack in PACKINGS.items():
                if dtype == "bfloat16" and packing != "one bucket":
                    continue
                cases.append(
                    {
                        "name": f"{name} {dtype} {packing}",
                        "kind": "gradient",
                        "model": name,
                        "dtype": dtype,
                        "packing": packing,
                        "bytes": elements * size,
                        "shapes": shapes,
                        "tensors": len(shapes),
                        "bytes_per_pack": bytes_per_pack,
                        "packs": pack_count(shapes, dtype, bytes_per_pack),
                    }
                )
    return cases


def run_workers(cases, warmup, repeats, timeout):
    """Seconds per case, timed by 2 worker processes on loopback (worker 0's medians)."""
    with tempfile.TemporaryDirectory() as directory:
        plan, result = os.path.join(directory, "plan.json"), os.path.join(directory, "seconds.json")
        with open(plan, "w", encoding="utf-8") as f:
            json.dump({"cases": cases, "warmup": warmup, "repeats": repeats}, f)
        from vqa_tf.utils.ports import free_ports

        cluster = {"worker": [f"localhost:{p}" for p in free_ports(WORKERS)]}
        workers = [
            subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--worker", plan, result],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=dict(
                    os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
                ),
            )
            for index in range(WORKERS)
        ]
        try:
            outputs = [w.communicate(timeout=timeout) for w in workers]
        finally:
            for w in workers:
                if w.poll() is None:
                    w.kill()
        for index, (w, (_, stderr)) in enumerate(zip(workers, outputs)):
            if w.returncode != 0:
                raise RuntimeError(f"worker {index} exited with {w.returncode}:\n{stderr[-3000:]}")
        with open(result, encoding="utf-8") as f:
            return json.load(f)


def step_inputs(path, models):
    """{model: row} of the one-replica `loop` rows of train_throughput.json: batch, examples/s, FLOPs."""
    if not os.path.exists(path):
        sys.exit(
            f"scaling.py needs the one-replica step times of {path}, which is missing: "
            "run benchmarks/train_throughput.py --output benchmarks/results/train_throughput.md first"
        )
    with open(path, encoding="utf-8") as f:
        twin = json.load(f)
    rows = {r["model"]: r for r in twin["rows"] if r["mode"] == "loop" and r["model"] in models}
    missing = [name for name in models if name not in rows]
    if missing:
        sys.exit(f"{path} has no `loop` row for {', '.join(missing)}")
    return rows, twin


# --- projected ----------------------------------------------------------------------------------------------


def devices(step_rows, alpha, bandwidth):
    """Per device: its seconds per example per model, its α and the bandwidth ceiling of its all-reduce."""
    return {
        "cpu": {
            "seconds_per_example": {m: 1 / r["examples_per_s"] for m, r in step_rows.items()},
            "alpha": alpha,
            "bandwidth_cap": bandwidth,
        },
        "h100": {
            "seconds_per_example": {
                m: r["training_gflops_per_example"] * 1e9 / (H100_BF16_DENSE_FLOPS * H100_ACHIEVED_FRACTION)
                for m, r in step_rows.items()
            },
            "alpha": NCCL_NET_STEP_SECONDS,
            "bandwidth_cap": math.inf,
        },
    }


def project(model, device, spec, batch, gradient_bytes, variables, workers, link_gbps):
    """One projection row: the step at the preset's batch per replica, and the smallest batch per replica
    for ≥ 90% efficiency under each all-reduce setting."""
    bandwidth = min(link_gbps * 1e9 / 8, spec["bandwidth_cap"])
    per_example = spec["seconds_per_example"][model]
    compute = batch * per_example

    def comm(n_bytes, messages=1):
        return float(ring_allreduce_seconds(n_bytes, workers, spec["alpha"], bandwidth, messages))

    settings = {
        "float32, one bucket": comm(gradient_bytes),
        "bfloat16, one bucket": comm(gradient_bytes / 2),
        "float32, per variable": comm(gradient_bytes, messages=variables),
    }
    fp32 = settings["float32, one bucket"]
    return {
        "model": model,
        "device": device,
        "workers": workers,
        "link_gbps": link_gbps,
        "alpha_s": spec["alpha"],
        "bandwidth_bytes_per_s": bandwidth,
        "batch_per_replica": batch,
        "compute_s": compute,
        "allreduce_s": fp32,
        "allreduce_latency_s": 2 * (workers - 1) * spec["alpha"],
        "step_s": compute + fp32,
        "examples_per_s": workers * batch / (compute + fp32),
        "efficiency": efficiency(compute, fp32),
        "min_batch_per_replica": {k: min_batch_for_efficiency(per_example, v) for k, v in settings.items()},
    }


# --- the report ---------------------------------------------------------------------------------------------


def ms(seconds):
    return f"{seconds * 1e3:.2f}"


def measured_tables(cases, seconds, alpha, bandwidth):
    lines = ["| message | bytes | median ms | GB/s (bytes / time) | fit ms |", "|---|---|---|---|---|"]
    for case, s in zip(cases, seconds):
        if case["kind"] == "message":
            fit = ring_allreduce_seconds(case["bytes"], WORKERS, alpha, bandwidth)
            lines.append(
                f"| {case['name']} | {case['bytes']:,} | {ms(s)} | {case['bytes'] / s / 1e9:.2f} | {ms(fit)} |"
            )
    lines += [
        "",
        "| gradient | dtype | packing | tensors | all-reduces | bytes | median ms | fit ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case, s in zip(cases, seconds):
        if case["kind"] == "gradient":
            fit = ring_allreduce_seconds(case["bytes"], WORKERS, alpha, bandwidth, messages=case["packs"])
            lines.append(
                f"| {case['model']} | {case['dtype']} | {case['packing']} | {case['tensors']} "
                f"| {case['packs']} | {case['bytes']:,} | {ms(s)} | {ms(fit)} |"
            )
    return "\n".join(lines)


def projection_table(rows):
    lines = [
        "| model | device | workers | link Gb/s | batch / replica | compute ms | all-reduce ms (of it latency) "
        "| step ms | examples/s | efficiency |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['device']} | {r['workers']} | {r['link_gbps']} | {r['batch_per_replica']} "
            f"| {ms(r['compute_s'])} | {ms(r['allreduce_s'])} ({ms(r['allreduce_latency_s'])}) | {ms(r['step_s'])} "
            f"| {r['examples_per_s']:,.0f} | {r['efficiency']:.1%} |"
        )
    return "\n".join(lines)


def knob_table(rows):
    settings = list(rows[0]["min_batch_per_replica"])
    lines = [
        "| model | device | workers | link Gb/s | preset batch | " + " | ".join(settings) + " |",
        "|---|---|---|---|---|" + "---|" * len(settings),
    ]
    for r in rows:
        cells = [f"{b:,} (global {b * r['workers']:,})" for b in r["min_batch_per_replica"].values()]
        lines.append(
            f"| {r['model']} | {r['device']} | {r['workers']} | {r['link_gbps']} "
            f"| {r['batch_per_replica']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def write_report(path, command, measured, fit, rows, throughput_twin):
    """The report at `path`, measured inputs apart from projections, and its JSON twin beside it."""
    from machine import write_results

    alpha, bandwidth, residual = fit["alpha_s"], fit["bandwidth_bytes_per_s"], fit["rms_relative_residual"]
    text = (
        f"""## Measured here

**All-reduce, {WORKERS} worker processes on loopback** (`MultiWorkerMirroredStrategy`, RING collective, one CPU
replica per process, SUM inside `strategy.run` in a `tf.function`; median of {measured["repeats"]} calls after
{measured["warmup"]} warm-up calls; timed by worker 0). "fit ms" is the fitted model below.

{measured_tables(measured["cases"], measured["seconds"], alpha, bandwidth)}

**Ring model fitted to the float32 single-message sweep** (least squares on relative error):
α = {alpha * 1e6:.1f} µs per ring step, B_eff = {bandwidth / 1e9:.2f} GB/s ({bandwidth * 8 / 1e9:.1f} Gb/s),
rms relative residual {residual:.1%}. On loopback no wire is involved: α is TF's per-step cost (collective
executor, gRPC), and B_eff is what two processes sharing this machine's cores can copy, serialize and add.
With 2 workers the model reads t = 2α + n/B, so the fit pins α and B but cannot test the (p−1) scaling.

**One-replica step time** (from `benchmarks/results/train_throughput.json`, mode `loop`, float32, no XLA,
written by `{throughput_twin["command"]}` on {throughput_twin["date"]}):

| model | batch | examples/s | step ms | training GFLOPs / example |
|---|---|---|---|---|
"""
        + "\n".join(
            f"| {m} | {r['batch']} | {r['examples_per_s']:.1f} | {ms(r['batch'] / r['examples_per_s'])} "
            f"| {r['training_gflops_per_example']:.3f} |"
            for m, r in measured["step"].items()
        )
        + f"""

## Projected

Cost model, per step, with the all-reduce after the backward pass (the loop's; nothing overlaps):

    t_allreduce(n, p) = m · 2(p−1) · α + 2(p−1)/p · n / B
    step = b · t_example + t_allreduce,   examples/s = p · b / step,   efficiency = b · t_example / step

n = 4 bytes × parameters (float32 gradients), m = number of separate all-reduces (1 for one bucket, the
number of variables for per-variable all-reduces), b = batch per replica.

Assumptions:
* **CPU workers** are machines like this one: t_example from the measured one-replica step; α = the fitted
  loopback α (the wire's own latency, microseconds, comes on top and is left out); B = the link rate, capped at
  the loopback B_eff, since TF's RING cannot move bytes faster than its own processes copy and add them.
* **H100 workers**: t_example = training FLOPs per example / ({H100_BF16_DENSE_FLOPS / 1e12:.1f} TFLOP/s ×
  {H100_ACHIEVED_FRACTION:.0%}). {H100_BF16_DENSE_FLOPS / 1e12:.1f} TFLOP/s is the dense BF16 Tensor Core peak of the
  H100 SXM5 (NVIDIA's datasheet gives 1,979 with 2:4 sparsity; TF32 is half of it, 494.7). The
  {H100_ACHIEVED_FRACTION:.0%} achieved fraction is an assumption, not a measurement: Megatron-Core reports up to
  47% of peak on H100 for large GEMM-bound models; these models' matrix products are smaller and their LSTMs
  sequential, so {H100_ACHIEVED_FRACTION:.0%} is if anything fast, which makes the efficiencies below pessimistic.
  Gradients are all-reduced by NCCL:
  α = {NCCL_NET_STEP_SECONDS * 1e6:.1f} µs per ring step (NCCL's own cost model, `src/graph/tuning.cc`, Ring/Simple
  over a network) and B = the link rate (RDMA at line rate: optimistic).
* Compute is linear in the batch (at small batches a GPU is less efficient than this; at large ones memory
  runs out: neither is modelled), and all workers are equally fast.
* **One all-reduce per step**, as `make_train_step` does it: it sums the gradient once, to clip its global norm
  (every paper preset clips), and the optimizer applies the sum without summing again.

### At the presets' batch per replica

{projection_table(rows)}

### Knobs: smallest batch per replica for ≥ {TARGET_EFFICIENCY:.0%} efficiency

Each cell: the batch per replica, and the global batch it implies (the papers train with a global batch of
50 (SMem) or 128 (DAN)). bfloat16 halves n; per-variable all-reduces multiply the α term by the number of
variables; bucketing (one bucket, TF's default `bytes_per_pack=0`, or a few large buckets) keeps it at one.

{knob_table(rows)}"""
    )
    write_results(
        path,
        command,
        "Data-parallel scaling: a ring all-reduce model from loopback measurements",
        text,
        machine_note="Shared and noisy; the measured figures are this machine's, the projections are arithmetic.",
        measured=measured,
        fit=fit,
        projections=rows,
        assumptions={
            "h100_bf16_dense_flops": H100_BF16_DENSE_FLOPS,
            "h100_achieved_fraction": H100_ACHIEVED_FRACTION,
            "nccl_net_step_seconds": NCCL_NET_STEP_SECONDS,
        },
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="Markdown file for the results (the JSON twin goes beside it).")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument(
        "--sizes_mib",
        nargs="+",
        type=float,
        default=list(SIZES_MIB),
        help="float32 message sizes of the sweep the model is fitted to",
    )
    parser.add_argument("--bf16_sizes_mib", nargs="+", type=float, default=list(BF16_SIZES_MIB))
    parser.add_argument(
        "--step_times",
        default=THROUGHPUT,
        help="train_throughput.py's JSON twin, whose `loop` rows give the one-replica step",
    )
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds the workers may take in all")
    parser.add_argument("--worker", nargs=2, metavar=("PLAN", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(*args.worker)
        return
    step_rows, throughput_twin = step_inputs(args.step_times, args.models)
    cases = measurement_cases(args.models, args.sizes_mib, args.bf16_sizes_mib)
    seconds = run_workers(cases, args.warmup, args.repeats, args.timeout)
    for case, s in zip(cases, seconds):
        print(f"{case['name']}: {ms(s)} ms", flush=True)
    sweep = [(c["bytes"], s) for c, s in zip(cases, seconds) if c["kind"] == "message" and c["dtype"] == "float32"]
    alpha, bandwidth, residual = fit_ring_model([b for b, _ in sweep], WORKERS, [s for _, s in sweep])
    print(f"fit: alpha {alpha * 1e6:.1f} us, B_eff {bandwidth / 1e9:.2f} GB/s, rms relative residual {residual:.1%}")
    specs = devices(step_rows, alpha, bandwidth)
    gradients = {
        c["model"]: c
        for c in cases
        if c["kind"] == "gradient" and c["packing"] == "one bucket" and c["dtype"] == "float32"
    }
    rows = [
        project(m, device, spec, step_rows[m]["batch"], gradients[m]["bytes"], gradients[m]["tensors"], p, link)
        for m in args.models
        for device, spec in specs.items()
        for p in CLUSTER_SIZES
        for link in LINKS_GBPS
    ]
    print(projection_table(rows))
    if not args.output:
        return
    from machine import command_line

    command = command_line()
    fit = {"alpha_s": alpha, "bandwidth_bytes_per_s": bandwidth, "rms_relative_residual": residual, "workers": WORKERS}
    measured = {
        "warmup": args.warmup,
        "repeats": args.repeats,
        "step": step_rows,
        "cases": [{k: v for k, v in c.items() if k != "shapes"} for c in cases],
        "seconds": seconds,
    }
    write_report(args.output, command, measured, fit, rows, throughput_twin)


if __name__ == "__main__":
    main()
