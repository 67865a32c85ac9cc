"""Serving latency and throughput, as ratios measured in one run, at batch 1.

1. Latency: p50/p99 of one question + one PNG through `serving_default`
   called in-process, and through the local model server over gRPC and over
   REST (loopback). Target: gRPC adds under 2 ms at p50 over in-process.
2. Throughput: requests/s with 1, 8 and 32 concurrent clients (threads, one
   request in flight each) against the server without batching and with the
   shipped `serving/config/batching_parameters.txt`, medians of interleaved
   repeats. Target: batching gives at least 3× the unbatched throughput at
   32 clients.
3. Where the CPU goes: the server's and the clients' CPU seconds per request
   during each throughput run, and the in-process signature's CPU per row at
   batch 1 and 32, which bound what batching can gain on these cores.
4. Serving efficiency: the batched server's requests/s at 32 clients over
   the in-process signature's rows/s at the server's typical batch size (its
   requests over the batches it ran, read from its Prometheus batch counter),
   timed while processes replay the 32 clients' measured CPU load, so that
   both figures share the machine with the same client load. The ratio does
   not depend on the core count the way batched / unbatched does. Target:
   ≥ 0.8.

The model is the quick start's SMem two-hop at its synthetic size (64×64
images, small CNN, 8×8 grid), exported as `vqa-export` writes it; its
weights do not matter for speed, so it trains only a few steps. Latency
paths are measured in interleaved rounds; clients and servers share the
machine's cores, as on a single-host deployment.

Usage: python benchmarks/serving_latency.py [--output benchmarks/results/serving_latency.md]
"""

import argparse
import math
import os
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
from vqa_tf.serving import LocalServerProcess  # noqa: E402
from vqa_tf.training import make_task, train  # noqa: E402

MODEL = "smem"
BATCHING_FILE = os.path.join(ROOT, "serving", "config", "batching_parameters.txt")
MONITORING_FILE = os.path.join(ROOT, "serving", "config", "monitoring_config.txt")
BATCHES_RUN = ":tensorflow:serving:batching_session:wrapped_run_count"
# One process of a replayed client load: busy for `duty` of every 10 ms, asleep for the rest.
_BURNER = """
import sys, time
duty = float(sys.argv[1])
while True:
    start = time.perf_counter()
    while time.perf_counter() - start < 0.01 * duty:
        pass
    time.sleep(0.01 * (1 - duty))
"""


def export_model(directory):
    model_dir = os.path.join(directory, "smem")
    config = apply_overrides(
        get_experiment("smem_two_hop_synthetic"),
        "data.num_train=512,data.num_eval=256,trainer.train_steps=4,trainer.eval_every=1000",
    )
    train(config, model_dir)
    task = make_task(config, model_dir)
    export_base = os.path.join(directory, "exports")
    path = export(model_dir, export_base)
    requests = []
    for example in task.eval_examples[:64]:
        with open(example.image_path, "rb") as f:
            requests.append({"question": [example.question], "image": [f.read()]})
    return export_base, path, requests


def percentiles(seconds):
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def latencies(paths, requests, rounds, per_round):
    """{path name: [seconds]} for each path called one at a time, in interleaved rounds."""
    times = {name: [] for name in paths}
    for call in paths.values():  # warm-up
        for request in requests[:10]:
            call(request)
    for r in range(rounds):
        for name, call in paths.items():
            for i in range(per_round):
                request = requests[(r * per_round + i) % len(requests)]
                start = time.perf_counter()
                call(request)
                times[name].append(time.perf_counter() - start)
    return times


def added_per_round(times, name, rounds):
    """Each round's p50 of `name` minus that round's in-process p50 (ms): drift in the machine's load
    between rounds shows as spread here instead of in the overall figure."""
    path = np.reshape(times[name], (rounds, -1))
    base = np.reshape(times["in-process signature"], (rounds, -1))
    return (np.median(path, axis=1) - np.median(base, axis=1)) * 1000


def cpu_seconds(pid):
    """User + system CPU seconds a process has used so far (Linux `/proc/<pid>/stat`)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batched(requests, batch):
    """(question, image) tensors of `batch` rows, taken from the one-row `requests` in turn."""
    rows = [requests[i % len(requests)] for i in range(batch)]
    return tf.constant([r["question"][0] for r in rows]), tf.constant([r["image"][0] for r in rows])


def model_cpu_ms_per_row(serve, requests, batch, calls):
    """CPU milliseconds per row of the in-process signature at `batch` rows per call."""
    question, image = batched(requests, batch)
    for _ in range(3):
        serve(question=question, image=image)
    start = cpu_seconds(os.getpid())
    for _ in range(calls):
        serve(question=question, image=image)["answer"].numpy()
    return (cpu_seconds(os.getpid()) - start) / calls / batch * 1e3


def replayed_load(cores):
    """Processes that together keep `cores` CPU cores busy (each at most one), until terminated."""
    count = math.ceil(cores)
    return [subprocess.Popen([sys.executable, "-c", _BURNER, str(cores / count)]) for _ in range(count)]


def in_process_rows_per_second(serve, requests, batch, seconds, load_cores):
    """Rows/s of the in-process signature at `batch` rows per call, timed for `seconds` while processes
    keep `load_cores` cores busy."""
    question, image = batched(requests, batch)
    for _ in range(3):
        serve(question=question, image=image)["answer"].numpy()
    burners = replayed_load(load_cores)
    try:
        time.sleep(0.5)
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            serve(question=question, image=image)["answer"].numpy()
            calls += 1
        return calls * batch / (time.perf_counter() - start)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def throughput(client, requests, clients, seconds, server_pid, metrics=None):
    """(requests/s, p50 ms, server CPU ms per request, client CPU ms per request, requests per batch) with
    `clients` threads each keeping one Predict request in flight; requests per batch from the server's batch
    counter, read with `metrics` (a RestClient) where given, else NaN."""
    prepared = [client.predict_request(MODEL, r) for r in requests]
    done, stop = [], threading.Event()
    barrier = threading.Barrier(clients + 1)

    def worker(index):
        mine = []
        barrier.wait()
        i = index
        while not stop.is_set():
            start = time.perf_counter()
            client.send(prepared[i % len(prepared)])
            mine.append(time.perf_counter() - start)
            i += clients
        done.append(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    batches = metrics.metrics()[BATCHES_RUN] if metrics else math.nan
    started = time.perf_counter()
    server_cpu, client_cpu = cpu_seconds(server_pid), cpu_seconds(os.getpid())
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    server_cpu, client_cpu = cpu_seconds(server_pid) - server_cpu, cpu_seconds(os.getpid()) - client_cpu
    batches = metrics.metrics()[BATCHES_RUN] - batches if metrics else math.nan
    every = [t for mine in done for t in mine]
    return (
        len(every) / elapsed,
        percentiles(every)[0],
        server_cpu / len(every) * 1e3,
        client_cpu / len(every) * 1e3,
        len(every) / batches,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="Markdown file for the results table.")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per_round", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="Duration of each throughput measurement.")
    parser.add_argument("--repeats", type=int, default=3, help="Interleaved throughput repeats (medians are reported).")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        export_base, path, requests = export_model(directory)
        import tensorflow_text  # noqa: F401

        serve = tf.saved_model.load(path).signatures["serving_default"]
        plain = LocalServerProcess(MODEL, export_base, os.path.join(directory, "plain.log"))
        batched = LocalServerProcess(
            MODEL,
            export_base,
            os.path.join(directory, "batched.log"),
            "--enable_batching",
            f"--batching_parameters_file={BATCHING_FILE}",
            f"--monitoring_config_file={MONITORING_FILE}",
        )
        plain.wait_until_serving()
        batched.wait_until_serving()
        try:
            paths = {
                "in-process signature": lambda r: serve(
                    question=tf.constant(r["question"]), image=tf.constant(r["image"])
                ),
                "gRPC (local server)": lambda r: plain.grpc.predict(MODEL, r),
                "REST (local server)": lambda r: plain.rest.predict(MODEL, r),
                "gRPC GetModelStatus (transport alone)": lambda r: plain.grpc.status(MODEL),
            }
            times = latencies(paths, requests, args.rounds, args.per_round)
            model_cpu = {
                batch: model_cpu_ms_per_row(serve, requests, batch, max(20, 640 // batch)) for batch in (1, 32)
            }
            runs = {}
            for repeat in range(args.repeats):
                for clients in (1, 8, 32):
                    for name, server in (("unbatched", plain), ("batched", batched)):
                        measured = throughput(
                            server.grpc,
                            requests,
                            clients,
                            args.seconds,
                            server.process.pid,
                            server.rest if server is batched else None,
                        )
                        runs.setdefault((clients, name), []).append(measured)
                        rate, p50 = measured[:2]
                        print(
                            f"repeat {repeat + 1}: {clients:>2} clients, {name:<9}: {rate:7.1f} requests/s, "
                            f"p50 {p50:.1f} ms",
                            flush=True,
                        )
            rates = {key: tuple(np.median(np.array(values), axis=0)) for key, values in runs.items()}
            # Requests in the gap between a batch's count and the answers' are counted with the next batch: the
            # mean is over 10 s of batches, so the boundary moves it by a fraction of one batch.
            typical_batch = max(1, round(rates[32, "batched"][4]))
            client_load = rates[32, "batched"][0] * rates[32, "batched"][3] / 1e3
            in_process_rate = in_process_rows_per_second(
                serve, requests, typical_batch, args.seconds * args.repeats, client_load
            )
        finally:
            plain.stop()
            batched.stop()

    base_p50 = percentiles(times["in-process signature"])[0]
    lines = [
        "Model: SMem two-hop at the quick start's synthetic size (one question + one 64×64 PNG per request; "
        "decoding, resizing, the small CNN, tokenization and the model all run in the served graph). "
        "The local server (`vqa-model-server`) runs in its own process, reached over loopback; "
        "clients, server and in-process calls share the machine's cores.",
        "",
        f"Latency at batch 1: {args.rounds} interleaved rounds of {args.per_round} sequential requests per path.",
        "",
        "| path | p50 (ms) | p99 (ms) | p50 added over in-process (ms) | added per round: median / worst round (ms) |",
        "|---|---|---|---|---|",
    ]
    for name, seconds in times.items():
        p50, p99 = percentiles(seconds)
        if "Status" in name:
            lines.append(f"| {name} | {p50:.2f} | {p99:.2f} | — | — |")
            continue
        rounds = added_per_round(times, name, args.rounds)
        lines.append(
            f"| {name} | {p50:.2f} | {p99:.2f} | {p50 - base_p50:+.2f} "
            f"| {np.median(rounds):+.2f} / {np.max(rounds):+.2f} |"
        )
    grpc_added = percentiles(times["gRPC (local server)"])[0] - base_p50
    lines += [
        "",
        f"Throughput at batch 1 over gRPC: each client keeps one request in flight for {args.seconds:.0f} s; "
        f"medians of {args.repeats} interleaved repeats (batched / unbatched is the ratio of the medians). "
        "Batching uses `serving/config/batching_parameters.txt` (up to 32 rows, 5 ms timeout, 1 batch thread).",
        "",
        "| concurrent clients | unbatched (requests/s) | batched (requests/s) | batched / unbatched "
        "| p50 unbatched / batched (ms) | server CPU ms / request, unbatched / batched "
        "| client CPU ms / request, unbatched / batched |",
        "|---|---|---|---|---|---|---|",
    ]
    for clients in (1, 8, 32):
        plain, batched_ = rates[clients, "unbatched"], rates[clients, "batched"]
        lines.append(
            f"| {clients} | {plain[0]:.1f} | {batched_[0]:.1f} | {batched_[0] / plain[0]:.2f}× | "
            f"{plain[1]:.1f} / {batched_[1]:.1f} | {plain[2]:.2f} / {batched_[2]:.2f} "
            f"| {plain[3]:.2f} / {batched_[3]:.2f} |"
        )
    gain = rates[32, "batched"][0] / rates[32, "unbatched"][0]
    efficiency = rates[32, "batched"][0] / in_process_rate
    cores = os.cpu_count()
    ceiling = cores / (model_cpu[32] + rates[32, "batched"][3]) * 1e3
    client_ms, server_ms = rates[32, "batched"][3], rates[32, "batched"][2] - model_cpu[32]
    lines += [
        "",
        f"Where the CPU goes (CPU seconds of each process over the run, per request; {cores} cores): the "
        f"in-process signature costs {model_cpu[1]:.2f} ms of CPU per row at batch 1 and {model_cpu[32]:.2f} ms "
        f"at batch 32. Even a server that cost nothing beyond the model's batch-32 rows, with clients as "
        f"costly as these, could answer at most {cores} cores / ({model_cpu[32]:.2f} + {client_ms:.2f}) ms "
        f"= {ceiling:.0f} requests/s, {ceiling / rates[32, 'unbatched'][0]:.1f}× this run's unbatched rate at 32 "
        f"clients; the server's own cost per batched request beyond the model's rows ({server_ms:.2f} ms: "
        "gRPC, Python handling, conversions) comes on top.",
    ]
    lines += [
        "",
        f"Serving efficiency at 32 clients: the batched server ran {rates[32, 'batched'][4]:.1f} requests per "
        f"batch (median over the repeats of requests / batches run, from its Prometheus batch counter). "
        f"The in-process signature at batch {typical_batch}, timed for {args.seconds * args.repeats:.0f} s while "
        f"processes replayed the clients' measured load ({client_load:.2f} cores: {rates[32, 'batched'][3]:.2f} "
        f"ms of client CPU per request at {rates[32, 'batched'][0]:.1f} requests/s), answers "
        f"{in_process_rate:.1f} rows/s; the server's {rates[32, 'batched'][0]:.1f} requests/s are "
        f"{efficiency:.2f} of that.",
        "",
        f"Targets: gRPC adds {grpc_added:.2f} ms at p50 over the in-process call (target < 2 ms: "
        f"{'met' if grpc_added < 2 else 'missed'}); batching at 32 clients gives {gain:.2f}× the unbatched "
        f"throughput (target ≥ 3×: {'met' if gain >= 3 else 'missed'}); serving efficiency {efficiency:.2f} "
        f"(target ≥ 0.8: {'met' if efficiency >= 0.8 else 'missed'}).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.output:
        write_results(
            args.output,
            command_line(),
            "Serving latency and throughput",
            text,
            latency_ms={name: dict(zip(("p50", "p99"), percentiles(seconds))) for name, seconds in times.items()},
            added_ms_per_round={
                name: added_per_round(times, name, args.rounds).tolist() for name in times if "Status" not in name
            },
            throughput={
                str(c): {
                    mode: {
                        "requests_per_s": rates[c, mode][0],
                        "p50_ms": rates[c, mode][1],
                        "server_cpu_ms_per_request": rates[c, mode][2],
                        "client_cpu_ms_per_request": rates[c, mode][3],
                    }
                    for mode in ("unbatched", "batched")
                }
                for c in (1, 8, 32)
            },
            model_cpu_ms_per_row={str(batch): ms for batch, ms in model_cpu.items()},
            serving_efficiency={
                "clients": 32,
                "requests_per_batch": rates[32, "batched"][4],
                "typical_batch_size": typical_batch,
                "replayed_client_load_cores": client_load,
                "in_process_rows_per_s": in_process_rate,
                "server_requests_per_s": rates[32, "batched"][0],
                "ratio": efficiency,
            },
        )


if __name__ == "__main__":
    main()
