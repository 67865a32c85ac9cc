"""Where the batched local model server spends its time under 32 clients: a py-spy profile, summed.

Starts `vqa-model-server --enable_batching` with the shipped batching
parameters on the quick start's SMem two-hop export (as
`benchmarks/serving_latency.py` does), keeps 32 gRPC clients busy, and samples
the server with py-spy twice in the same run:

* `--gil`: only the thread holding the GIL, so the samples per second over
  the sampling rate are the share of time the GIL is held, and their leaf
  functions are where the server's Python goes. Time in gRPC's Cython core
  shows as the asyncio handle that runs it (`Handle._run`).
* all threads, idle ones included: for each thread, the share of its time in
  its leaf functions (e.g. the batch thread inside TensorFlow, or waiting).

py-spy slows the sampled process, so the requests/s printed beside each
profile are lower than `serving_latency.py`'s.

Needs `py-spy` on PATH (`pip install py-spy`) and permission to ptrace the
server (root, or `kernel.yama.ptrace_scope = 0`).

Usage: python benchmarks/profile_serving.py [--output benchmarks/results/profile_serving.md]
"""

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import command_line, write_results
from serving_latency import BATCHING_FILE, MODEL, export_model, throughput

from vqa_tf.serving import LocalServerProcess

CLIENTS = 32


def read_samples(path):
    """[(thread name, [frame names, outermost first], count)] of a py-spy `--format raw` file."""
    samples = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            thread = frames[0].split(": ", 1)[-1]  # "thread (id): name"
            samples.append((thread, [frame.split(" (", 1)[0] for frame in frames[1:]], int(count)))
    return samples


def sample(pid, seconds, rate, path, gil):
    """Starts py-spy recording `pid` for `seconds` into `path`; returns the process."""
    command = [
        "py-spy",
        "record",
        "--format",
        "raw",
        "--rate",
        str(rate),
        "--duration",
        str(int(seconds)),
        "--threads",
        "--idle",
        "--pid",
        str(pid),
        "-o",
        path,
    ] + (["--gil"] if gil else [])
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def profiled_run(server, requests, seconds, rate, path, gil):
    """(requests/s under the profiler, samples) of one profiled throughput run."""
    spy = sample(server.process.pid, seconds, rate, path, gil)
    rate_seen = throughput(server.grpc, requests, CLIENTS, seconds + 1, server.process.pid)[0]
    _, errors = spy.communicate(timeout=seconds + 60)
    if spy.returncode:
        raise RuntimeError(f"py-spy failed ({spy.returncode}): {errors.decode()[-500:]}")
    return rate_seen, read_samples(path)


def leaf_table(samples, total, top, skip=()):
    """A table of the `top` (thread, leaf function) pairs by share of `total` samples, leaving out the threads
    in `skip`, and {"thread: leaf": share} of them all."""
    leaves = collections.Counter()
    for thread, frames, count in samples:
        leaves[thread, frames[-1] if frames else "(no Python frame)"] += count
    lines = ["| thread | leaf function | share |", "|---|---|---|"]
    listed = [(key, count) for key, count in leaves.most_common() if key[0] not in skip][:top]
    lines += [f"| {thread} | `{leaf}` | {count / total:.1%} |" for (thread, leaf), count in listed]
    return "\n".join(lines), {f"{thread}: {leaf}": count / total for (thread, leaf), count in leaves.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="Markdown file for the summary (the JSON twin goes beside it).")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each profile")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=15, help="leaf functions listed")
    args = parser.parse_args()
    if shutil.which("py-spy") is None:
        parser.error("py-spy is not on PATH: pip install py-spy")
    with tempfile.TemporaryDirectory() as directory:
        export_base, _, requests = export_model(directory)
        server = LocalServerProcess(
            MODEL,
            export_base,
            os.path.join(directory, "server.log"),
            "--enable_batching",
            f"--batching_parameters_file={BATCHING_FILE}",
        )
        server.wait_until_serving()
        try:
            throughput(server.grpc, requests, CLIENTS, 3.0, server.process.pid)  # warm-up
            gil_rate, gil = profiled_run(
                server, requests, args.seconds, args.rate, os.path.join(directory, "gil.txt"), gil=True
            )
            all_rate, every = profiled_run(
                server, requests, args.seconds, args.rate, os.path.join(directory, "all.txt"), gil=False
            )
        finally:
            server.stop()

    possible = args.seconds * args.rate  # samples of one thread that is always running
    held = sum(count for _, _, count in gil) / possible
    gil_text, gil_shares = leaf_table(gil, possible, args.top)
    leaves_of = collections.defaultdict(collections.Counter)
    for thread, frames, count in every:
        leaves_of[thread][frames[-1] if frames else ""] += count
    # a thread that spent (almost) all its samples in one leaf waited throughout: named, not listed
    idle = sorted(thread for thread, leaves in leaves_of.items() if max(leaves.values()) >= 0.99 * possible)
    all_text, all_shares = leaf_table(every, possible, args.top, skip=idle)
    text = "\n".join(
        [
            f"{CLIENTS} gRPC clients, one request in flight each, against the batched server "
            "(`serving/config/batching_parameters.txt`); shares are of wall time, from py-spy samples at "
            f"{args.rate}/s for {args.seconds:.0f} s.",
            "",
            f"GIL held {held:.0%} of the time ({gil_rate:.0f} requests/s under this profile). "
            "Where, by the holding thread's leaf function:",
            "",
            gil_text,
            "",
            f"Every thread, idle or not ({all_rate:.0f} requests/s under this profile); a thread's shares add up "
            f"to 100%. Waiting throughout, so not listed: {', '.join(idle) or 'none'}.",
            "",
            all_text,
        ]
    )
    print(text)
    if args.output:
        command = command_line()
        write_results(
            args.output,
            command,
            "Where the batched model server's time goes",
            text,
            clients=CLIENTS,
            seconds=args.seconds,
            rate=args.rate,
            gil_held=held,
            requests_per_s_under_profile={"gil": gil_rate, "all_threads": all_rate},
            gil_leaf_shares=gil_shares,
            thread_leaf_shares=all_shares,
            idle_threads=idle,
        )


if __name__ == "__main__":
    main()
