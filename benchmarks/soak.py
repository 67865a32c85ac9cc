"""Soak: gRPC and REST clients against the local model server while its versions come and go, then while it
is killed and restarted.

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

Then the crash phase: fresh clients with a 30 s deadline keep going while
the server is SIGKILLed `--crashes` times, `--crash_seconds` apart; a
supervisor (the benchmark's own loop, as compose.yaml's `restart: always` in
production) starts it again on the same ports whenever it exits. The clients'
retry policies (`vqa_tf.serving.clients`) carry their requests over each
restart.

Records: requests and failed good requests per transport and phase, p50/p99
latency, the server's resident memory (VmRSS) at the start, after the first
swap and at the end of the swaps, how long each export ran and each swap took
to serve, and for each crash the seconds from the kill until the restarted
server served and until its first answer. Targets: no failed good request
across at least 5 swaps; memory at the end within 10% of memory after the
first swap; no good request failed within its 30 s deadline across the
crashes.

Usage: python benchmarks/soak.py [--minutes 3] [--output benchmarks/results/soak.md]
"""

import argparse
import collections
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
from machine import command_line, write_results  # noqa: E402

from vqa_tf.configs import apply_overrides, get_experiment  # noqa: E402
from vqa_tf.export import export  # noqa: E402
from vqa_tf.serving import GrpcClient, LocalServerProcess, RestClient, ServingError  # noqa: E402
from vqa_tf.training import make_task, train  # noqa: E402
from vqa_tf.utils.ports import free_ports  # noqa: E402

MODEL = "smem"
BATCHING_FILE = os.path.join(ROOT, "serving", "config", "batching_parameters.txt")
EXPORT_PROGRAM = os.path.join(ROOT, "export", "export_saved_model.py")
RUN = "data.num_train=512,data.num_eval=256,trainer.eval_every=1000"
TOP_K = {"A": 5, "B": 3}
SWAP_TIMEOUT = 120  # seconds a swap may take to serve before the run stops as failed
CRASH_DEADLINE = 30.0  # seconds a good request may take in the crash phase, the restart included


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
    """Client threads keeping one request each in flight; `.stop()` ends them. `clients` maps a transport's
    name to the clients of its threads (one each)."""

    def __init__(self, clients, requests, references):
        self._stop = threading.Event()
        self.latencies = collections.defaultdict(list)
        self.failures = collections.defaultdict(list)
        self.answers = []  # (start, end) monotonic times of every right answer
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._client, args=(client, kind, i, requests, references))
            for kind, kind_clients in clients.items()
            for i, client in enumerate(kind_clients)
        ]
        for thread in self._threads:
            thread.start()

    def _client(self, client, kind, index, requests, references):
        i = index
        while not self._stop.is_set():
            r = i % len(requests)
            start = time.monotonic()
            try:
                failure = mismatch(client.predict(MODEL, requests[r]), references, r)
            except ServingError as error:
                failure = f"{error.code.name}: {error.message[:300]}"
            end = time.monotonic()
            with self._lock:
                self.latencies[kind].append(end - start)
                if failure:
                    self.failures[kind].append(f"{time.strftime('%H:%M:%S')} {failure}")
                else:
                    self.answers.append((start, end))
            i += 7

    def first_answer_after(self, moment):
        """The end of the first right answer to a request sent after `moment`, or None."""
        with self._lock:
            return min((end for start, end in self.answers if start > moment), default=None)

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join()


class Supervisor:
    """Runs the model server and starts it again on the same ports whenever it exits (what compose.yaml's
    `restart: always` does for TF Serving); `.kill()` SIGKILLs the running one."""

    def __init__(self, start):
        self._start, self._stopping = start, threading.Event()
        self.server = start(0)
        self.starts = 1
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        while not self._stopping.is_set():
            self.server.process.wait()
            if not self._stopping.is_set():
                self.server = self._start(self.starts)
                self.starts += 1

    def kill(self):
        self.server.process.kill()

    def stop(self):
        self._stopping.set()
        self.server.stop()
        self._thread.join(timeout=60)


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


def swap_phase(server, base, model_dir, args):
    """Swaps every `args.swap_seconds` for `args.minutes`; returns (swaps, memory, seconds it ran)."""
    memory = {"at start": rss_mib(server.process.pid)}
    swaps, started = [], time.monotonic()
    while time.monotonic() - started + args.swap_seconds <= args.minutes * 60:
        time.sleep(max(0.0, started + (len(swaps) + 1) * args.swap_seconds - time.monotonic()))
        swaps.append((*swap(server, base, model_dir, len(swaps) + 1), rss_mib(server.process.pid)))
        change, version, _, seconds, mib = swaps[-1]
        print(f"swap {len(swaps)}: {change}; version {version} served {seconds:.1f} s later; server RSS {mib:.0f} MiB")
        memory.setdefault("after the first swap", swaps[0][4])
    time.sleep(max(0.0, started + args.minutes * 60 - time.monotonic()))
    memory["at the end"] = rss_mib(server.process.pid)
    return swaps, memory, time.monotonic() - started


def crash_phase(supervisor, load, args):
    """SIGKILLs the server `args.crashes` times; returns [(seconds until the restarted server served, seconds
    until its first answer to a request sent after the kill)] and the seconds the phase ran."""
    crashes, started = [], time.monotonic()
    for number in range(1, args.crashes + 1):
        time.sleep(args.crash_seconds)
        killed, starts = time.monotonic(), supervisor.starts
        supervisor.kill()
        while supervisor.starts == starts:
            time.sleep(0.05)
        supervisor.server.wait_until_serving()
        served = time.monotonic() - killed
        while load.first_answer_after(killed) is None and time.monotonic() - killed < CRASH_DEADLINE:
            time.sleep(0.05)
        first = load.first_answer_after(killed)
        crashes.append((served, None if first is None else first - killed))
        print(f"crash {number}: served again {served:.1f} s after the kill, first answer {crashes[-1][1]} s after")
    time.sleep(args.crash_seconds)
    return crashes, time.monotonic() - started


def percentiles(seconds):
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def transport_rows(load, counts):
    return {
        kind: {
            "clients": clients,
            "requests": len(load.latencies[kind]),
            "failed_good_requests": len(load.failures[kind]),
            "p50_ms": percentiles(load.latencies[kind])[0] if load.latencies[kind] else None,
            "p99_ms": percentiles(load.latencies[kind])[1] if load.latencies[kind] else None,
            "max_ms": 1000 * max(load.latencies[kind]) if load.latencies[kind] else None,
            "failures": load.failures[kind][:10],
        }
        for kind, clients in counts.items()
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="Markdown file for the results table.")
    parser.add_argument("--minutes", type=float, default=3.0, help="Duration of the swap phase.")
    parser.add_argument("--grpc_clients", type=int, default=2)
    parser.add_argument("--rest_clients", type=int, default=2)
    parser.add_argument("--swap_seconds", type=float, default=25.0, help="Time between swaps of the served version.")
    parser.add_argument("--crashes", type=int, default=3, help="Times the server is killed in the crash phase.")
    parser.add_argument("--crash_seconds", type=float, default=15.0, help="Time between crashes.")
    args = parser.parse_args()
    counts = {"gRPC": args.grpc_clients, "REST": args.rest_clients}

    with tempfile.TemporaryDirectory() as directory:
        model_dir, exports, requests = export_models(directory)
        references = reference_answers(exports, requests)
        base = os.path.join(directory, "served")
        shutil.copytree(exports["A"], os.path.join(base, "1"))
        ports = free_ports(2)

        def start(incarnation):
            return LocalServerProcess(
                MODEL,
                base,
                os.path.join(directory, f"server-{incarnation}.log"),
                "--enable_batching",
                f"--batching_parameters_file={BATCHING_FILE}",
                "--file_system_poll_wait_seconds=1",
                ports=ports,
            )

        supervisor = Supervisor(start)
        try:
            server = supervisor.server
            server.wait_until_serving(version=1)
            clients = {"gRPC": [server.grpc] * counts["gRPC"], "REST": [server.rest] * counts["REST"]}
            load = Load(clients, requests, references)
            try:
                swaps, memory, swap_elapsed = swap_phase(server, base, model_dir, args)
            finally:
                load.stop()
            clients = {
                "gRPC": [GrpcClient(server.grpc_address, CRASH_DEADLINE) for _ in range(counts["gRPC"])],
                "REST": [RestClient(server.rest_address, CRASH_DEADLINE) for _ in range(counts["REST"])],
            }
            crash_load = Load(clients, requests, references)
            try:
                crashes, crash_elapsed = crash_phase(supervisor, crash_load, args)
            finally:
                crash_load.stop()
        finally:
            supervisor.stop()
    report(args, counts, load, swaps, memory, swap_elapsed, crash_load, crashes, crash_elapsed)


def report(args, counts, load, swaps, memory, swap_elapsed, crash_load, crashes, crash_elapsed):
    """Prints the results and writes them to `args.output` and its JSON twin."""
    failed = sum(len(f) for f in load.failures.values())
    crash_failed = sum(len(f) for f in crash_load.failures.values())
    growth = memory["at the end"] / memory["after the first swap"] - 1
    lines = [
        "## Swaps",
        "",
        f"For {swap_elapsed / 60:.1f} minutes, {counts['gRPC']} gRPC and {counts['REST']} REST clients each kept one "
        "request (one question + one 64×64 PNG) in flight against `vqa-model-server --enable_batching` "
        "(`serving/config/batching_parameters.txt`, polling every second), while every "
        f"{args.swap_seconds:.0f} s the served version changed: version 2 (model B) written in, then deleted "
        "so that version 1 (model A) serves again. Each new version is a fresh `vqa-export` of B's checkpoint, "
        "run as its own process beside the clients and the server. Every answer is checked against the "
        "in-process answer of the model that gave it (A answers with 5 top answers, B with 3).",
        "",
        *_transport_table(load, counts),
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
        "## Crashes",
        "",
        f"For {crash_elapsed / 60:.1f} minutes, fresh clients ({counts['gRPC']} gRPC, {counts['REST']} REST, each "
        f"call with a {CRASH_DEADLINE:.0f} s deadline, retrying as `vqa_tf.serving.clients` does) kept going while "
        f"the server was SIGKILLed {len(crashes)} times, {args.crash_seconds:.0f} s apart; the benchmark's "
        "supervisor started it again on the same ports each time it exited.",
        "",
        *_transport_table(crash_load, counts),
        "",
        "| crash | seconds from the kill until the restarted server served | until its first answer |",
        "|---|---|---|",
    ]
    lines += [
        f"| {i} | {served:.1f} | {'none' if first is None else f'{first:.1f}'} |"
        for i, (served, first) in enumerate(crashes, 1)
    ]
    lines += [
        "",
        f"Targets: {failed} failed good requests across {len(swaps)} swaps (target 0 across ≥ 5: "
        f"{'met' if failed == 0 and len(swaps) >= 5 else 'missed'}); memory at the end is {growth:+.1%} of memory "
        f"after the first swap (target within ±10%: {'met' if abs(growth) <= 0.10 else 'missed'}); "
        f"{crash_failed} good requests failed within their {CRASH_DEADLINE:.0f} s deadline across {len(crashes)} "
        f"crashes (target 0 across ≥ 3: {'met' if crash_failed == 0 and len(crashes) >= 3 else 'missed'}).",
    ]
    for phase, phase_load in (("swap", load), ("crash", crash_load)):
        for kind, failures in phase_load.failures.items():
            if failures:
                lines += ["", f"{kind} failures in the {phase} phase (first 10 of {len(failures)}):", ""]
                lines += [f"- {f}" for f in failures[:10]]
    text = "\n".join(lines)
    print(text)
    if args.output:
        write_results(
            args.output,
            command_line(),
            "Soak: clients against the local model server while its versions are swapped, then while it crashes",
            text,
            machine_note="The machine is shared with other work, so latencies are noisy; clients, server and swaps "
            "share its cores.",
            minutes=swap_elapsed / 60,
            transports=transport_rows(load, counts),
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
            crash_minutes=crash_elapsed / 60,
            crash_transports=transport_rows(crash_load, counts),
            crashes=[
                {"seconds_until_served": served, "seconds_until_first_answer": first} for served, first in crashes
            ],
            crash_deadline_seconds=CRASH_DEADLINE,
        )


def _transport_table(load, counts):
    lines = [
        "| transport | clients | requests | failed good requests | p50 (ms) | p99 (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for kind, row in transport_rows(load, counts).items():
        p50, p99 = (row["p50_ms"], row["p99_ms"]) if row["requests"] else (float("nan"),) * 2
        lines.append(
            f"| {kind} | {row['clients']} | {row['requests']} | {row['failed_good_requests']} | {p50:.1f} | {p99:.1f} |"
        )
    return lines


if __name__ == "__main__":
    main()
