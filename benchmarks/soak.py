"""Soak: gRPC and REST clients against the local model server while its versions come and go.

For `--minutes`, `--grpc_clients` and `--rest_clients` threads each keep one
Predict request (one question + one PNG) in flight against `vqa-model-server`
(batching on, with the shipped `serving/config/batching_parameters.txt`),
while every `--swap_seconds` the served version changes: a new version is
written into the base path, then the newest is deleted so that the previous
one serves again, and so on. Every answer is compared with the reference
answer of the model that gave it, computed in-process beforehand.

The two models are one SMem two-hop run at the quick start's synthetic size,
exported after 4 training steps with 5 top answers (A, version 1) and after
12 steps with 3 (B, written in as version 2): an answer names its model by
its number of top answers. Each new version is a fresh `vqa-export` of B's
checkpoint into the base path, run as its own process while the clients
keep going (it claims version 2 again, as the deleted one left it free).

Records: requests and failed good requests per transport, p50/p99 latency,
the server's resident memory (VmRSS) at the start, after the first swap
and at the end, and how long each export ran and each swap took to serve. Targets: no failed
good request across at least 5 swaps; memory at the end within 10% of
memory after the first swap.

Usage: python benchmarks/soak.py [--minutes 3] [--output benchmarks/results/soak.md]
"""

import argparse
import collections
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import describe, write_json_twin  # noqa: E402

from vqa_tf.configs import apply_overrides, get_experiment  # noqa: E402
from vqa_tf.export import export  # noqa: E402
from vqa_tf.serving import LocalServerProcess, ServingError  # noqa: E402
from vqa_tf.training import make_task, train  # noqa: E402

MODEL = "smem"
BATCHING_FILE = os.path.join(ROOT, "serving", "config", "batching_parameters.txt")
EXPORT_PROGRAM = os.path.join(ROOT, "export", "export_saved_model.py")
RUN = "data.num_train=512,data.num_eval=256,trainer.eval_every=1000"
TOP_K = {"A": 5, "B": 3}
SWAP_TIMEOUT = 120  # seconds a swap may take to serve before the run stops as failed


def export_models(directory):
    """(model_dir, {model name: export path}, requests): model A after 4 steps, B (the model_dir's last
    checkpoint) after 12, and 32 one-example requests."""
    model_dir = os.path.join(directory, "smem")
    exports = {}
    for name, steps in (("A", 4), ("B", 12)):
        config = apply_overrides(get_experiment("smem_two_hop_synthetic"), f"{RUN},trainer.train_steps={steps}")
        train(config, model_dir)
        exports[name] = export(model_dir, os.path.join(directory, f"export-{name}"), top_k=TOP_K[name])
    requests = []
    for example in make_task(config, model_dir).eval_examples[:32]:
        with open(example.image_path, "rb") as f:
            requests.append({"question": [example.question], "image": [f.read()]})
    return model_dir, exports, requests


def reference_answers(exports, requests):
    """{number of top answers: [outputs of each request]} of each model, called in this process."""
    import tensorflow_text  # noqa: F401

    references = {}
    for name, path in exports.items():
        serve = tf.saved_model.load(path).signatures["serving_default"]
        references[TOP_K[name]] = [
            {k: v.numpy() for k, v in serve(question=tf.constant(r["question"]), image=tf.constant(r["image"])).items()}
            for r in requests
        ]
    return references


def mismatch(outputs, references, index):
    """Why `outputs` is not the answer of the model it names (None if it is)."""
    k = np.shape(outputs.get("top_answers"))[-1] if "top_answers" in outputs else None
    if k not in references:
        return f"top_answers has {k} columns; no model gives that"
    expected = references[k][index]
    if list(outputs["answer"]) != list(expected["answer"]):
        return f"answer {list(outputs['answer'])} != {list(expected['answer'])} of the model with {k} top answers"
    if not np.allclose(outputs["top_scores"], expected["top_scores"], atol=1e-4):
        return "top scores differ from the model's"
    return None


def rss_mib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kib / 1024


class Load:
    """Client threads keeping one request each in flight; `.stop()` returns what they saw."""

    def __init__(self, server, requests, references, clients):
        self._stop = threading.Event()
        self.latencies = collections.defaultdict(list)
        self.failures = collections.defaultdict(list)
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._client, args=(server, kind, i, requests, references))
            for kind, count in clients.items()
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def _client(self, server, kind, index, requests, references):
        client = server.grpc if kind == "gRPC" else server.rest
        i = index
        while not self._stop.is_set():
            r = i % len(requests)
            start = time.perf_counter()
            try:
                failure = mismatch(client.predict(MODEL, requests[r]), references, r)
            except ServingError as error:
                failure = f"{error.code.name}: {error.message[:300]}"
            elapsed = time.perf_counter() - start
            with self._lock:
                self.latencies[kind].append(elapsed)
                if failure:
                    self.failures[kind].append(f"{time.strftime('%H:%M:%S')} {failure}")
            i += 7

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join()


def wait_until_served(server, version, gone):
    """Seconds until `version` is AVAILABLE and `gone` has ended (unloaded or never served)."""
    start = time.monotonic()
    while time.monotonic() - start < SWAP_TIMEOUT:
        states = {v: s for v, s, _ in server.grpc.status(MODEL)}
        if states.get(version) == "AVAILABLE" and states.get(gone, "END") == "END":
            return time.monotonic() - start
        time.sleep(0.05)
    raise TimeoutError(f"version {version} did not replace version {gone} within {SWAP_TIMEOUT} s")


def swap(server, base, model_dir, number):
    """Swap `number` (1, 2, …): odd ones export model B in as version 2, even ones delete it.
    Returns a table row: (change, served version, seconds the export ran, seconds until served)."""
    if number % 2:
        start = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                EXPORT_PROGRAM,
                f"--model_dir={model_dir}",
                f"--export_base={base}",
                f"--top_k={TOP_K['B']}",
            ],
            check=True,
            capture_output=True,
        )
        exported = time.monotonic() - start
        if not os.path.isdir(os.path.join(base, "2")):
            raise RuntimeError(f"the export did not claim version 2: {sorted(os.listdir(base))}")
        return "version 2 (B) exported in", 2, exported, wait_until_served(server, 2, gone=1)
    shutil.rmtree(os.path.join(base, "2"))
    return "version 2 deleted", 1, None, wait_until_served(server, 1, gone=2)


def percentiles(seconds):
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="Markdown file for the results table.")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--grpc_clients", type=int, default=2)
    parser.add_argument("--rest_clients", type=int, default=2)
    parser.add_argument("--swap_seconds", type=float, default=25.0, help="Time between swaps of the served version.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        model_dir, exports, requests = export_models(directory)
        references = reference_answers(exports, requests)
        base = os.path.join(directory, "served")
        shutil.copytree(exports["A"], os.path.join(base, "1"))
        server = LocalServerProcess(
            MODEL,
            base,
            os.path.join(directory, "server.log"),
            "--enable_batching",
            f"--batching_parameters_file={BATCHING_FILE}",
            "--file_system_poll_wait_seconds=1",
        )
        try:
            server.wait_until_serving(version=1)
            memory = {"at start": rss_mib(server.process.pid)}
            load = Load(server, requests, references, {"gRPC": args.grpc_clients, "REST": args.rest_clients})
            swaps, started = [], time.monotonic()
            try:
                while time.monotonic() - started + args.swap_seconds <= args.minutes * 60:
                    time.sleep(max(0.0, started + (len(swaps) + 1) * args.swap_seconds - time.monotonic()))
                    swaps.append((*swap(server, base, model_dir, len(swaps) + 1), rss_mib(server.process.pid)))
                    change, version, _, seconds, mib = swaps[-1]
                    print(
                        f"swap {len(swaps)}: {change}; version {version} served {seconds:.1f} s later; "
                        f"server RSS {mib:.0f} MiB",
                        flush=True,
                    )
                    memory.setdefault("after the first swap", swaps[0][4])
                time.sleep(max(0.0, started + args.minutes * 60 - time.monotonic()))
            finally:
                load.stop()
            elapsed = time.monotonic() - started
            memory["at the end"] = rss_mib(server.process.pid)
        finally:
            server.stop()

    failed = sum(len(f) for f in load.failures.values())
    growth = memory["at the end"] / memory["after the first swap"] - 1
    command = "python benchmarks/soak.py" + "".join(
        f" --{name} {value}" for name, value in vars(args).items() if value is not None
    )
    lines = [
        "# Soak: clients against the local model server while its versions are swapped",
        "",
        f"Written by `{command}` on {datetime.date.today()}.",
        "",
        f"Machine: {describe()}. The machine is shared with other work, so latencies are noisy; "
        "clients, server and swaps share its cores.",
        "",
        f"For {elapsed / 60:.1f} minutes, {args.grpc_clients} gRPC and {args.rest_clients} REST clients each kept one "
        "request (one question + one 64×64 PNG) in flight against `vqa-model-server --enable_batching` "
        "(`serving/config/batching_parameters.txt`, polling every second), while every "
        f"{args.swap_seconds:.0f} s the served version changed: version 2 (model B) written in, then deleted "
        "so that version 1 (model A) serves again. Each new version is a fresh `vqa-export` of B's checkpoint, "
        "run as its own process beside the clients and the server. Every answer is checked against the "
        "in-process answer of the model that gave it "
        "(A answers with 5 top answers, B with 3).",
        "",
        "| transport | clients | requests | failed good requests | p50 (ms) | p99 (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for kind, clients in (("gRPC", args.grpc_clients), ("REST", args.rest_clients)):
        p50, p99 = percentiles(load.latencies[kind]) if load.latencies[kind] else (float("nan"),) * 2
        lines.append(
            f"| {kind} | {clients} | {len(load.latencies[kind])} | {len(load.failures[kind])} | {p50:.1f} | {p99:.1f} |"
        )
    lines += [
        "",
        "| swap | change | served version | export ran (s) | then seconds until served (old one unloaded) "
        "| server RSS then (MiB) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {i} | {change} | {version} | {'' if exported is None else f'{exported:.1f}'} | {seconds:.1f} | {mib:.0f} |"
        for i, (change, version, exported, seconds, mib) in enumerate(swaps, 1)
    ]
    lines += ["", "| server memory (VmRSS) | MiB |", "|---|---|"]
    lines += [f"| {point} | {mib:.0f} |" for point, mib in memory.items()]
    lines += [
        "",
        f"Targets: {failed} failed good requests across {len(swaps)} swaps (target 0 across ≥ 5: "
        f"{'met' if failed == 0 and len(swaps) >= 5 else 'missed'}); memory at the end is {growth:+.1%} of memory "
        f"after the first swap (target within ±10%: {'met' if abs(growth) <= 0.10 else 'missed'}).",
    ]
    for kind, failures in load.failures.items():
        if failures:
            lines += ["", f"{kind} failures (first 10 of {len(failures)}):", ""] + [f"- {f}" for f in failures[:10]]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        write_json_twin(
            args.output,
            command,
            minutes=elapsed / 60,
            transports={
                kind: {
                    "clients": clients,
                    "requests": len(load.latencies[kind]),
                    "failed_good_requests": len(load.failures[kind]),
                    "p50_ms": percentiles(load.latencies[kind])[0] if load.latencies[kind] else None,
                    "p99_ms": percentiles(load.latencies[kind])[1] if load.latencies[kind] else None,
                    "failures": load.failures[kind][:10],
                }
                for kind, clients in (("gRPC", args.grpc_clients), ("REST", args.rest_clients))
            },
            swaps=[
                {
                    "change": change,
                    "served_version": version,
                    "export_seconds": exported,
                    "seconds_to_serve": seconds,
                    "server_rss_mib": mib,
                }
                for change, version, exported, seconds, mib in swaps
            ],
            server_rss_mib=memory,
            rss_end_vs_after_first_swap=growth,
        )


if __name__ == "__main__":
    main()
