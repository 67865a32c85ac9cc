"""Which machine and software a benchmark ran on, and the results table with its JSON twin."""

import datetime
import json
import os
import platform
import shlex
import sys

import keras
import tensorflow as tf


def command_line():
    """The command that ran this benchmark, shell-quoted, as the results tables record it."""
    return shlex.join(["python", f"benchmarks/{os.path.basename(sys.argv[0])}", *sys.argv[1:]])


def describe():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return (
        f"{cpu}, {os.cpu_count()} cores, {'GPUs: ' + ', '.join(gpus) if gpus else 'no GPU'}; "
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__}"
    )


def write_json_twin(table_path, command, **figures):
    """Writes `figures` beside the results table `table_path` (same name, .json), with the command, date and machine."""
    with open(os.path.splitext(table_path)[0] + ".json", "w", encoding="utf-8") as f:
        json.dump(
            {"command": command, "date": datetime.date.today().isoformat(), "machine": describe(), **figures},
            f,
            indent=2,
        )


def write_results(path, command, title, text, machine_note="", **figures):
    """Writes the results `text` at `path` under `title` and the command, date and machine that made them
    (plus `machine_note`), and `figures` as its JSON twin beside it."""
    write_json_twin(path, command, **figures)
    note = f" {machine_note}" if machine_note else ""
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            f"# {title}\n\nWritten by `{command}` on {datetime.date.today().isoformat()}.\n\n"
            f"Machine: {describe()}.{note}\n\n{text}\n"
        )
