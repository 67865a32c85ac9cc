"""The server's Prometheus metrics (`--monitoring_config_file`), under tensorflow_model_server's names.

    prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }

turns on a text-format Prometheus page at that path of the REST port. The
local server exports TF Serving's batching counter
`:tensorflow:serving:batching_session:wrapped_run_count`, the number of
batches run (the rows requested over it is the mean batch size); the real
server exports it and many more.
"""

import re
import threading

from vqa_tf.serving.server_config import read_text_config

DEFAULT_PATH = "/monitoring/prometheus/metrics"
_FIELD = re.compile(r'\s*(enable|path)\s*:\s*("(?:[^"\\]|\\.)*"|\w+)\s*[,;]?')
_BLOCK = re.compile(r"\s*prometheus_config\s*\{(?P<body>[^{}]*)\}\s*$", re.S)


class Counter:
    """A monotonic count, safe to add to from any thread.

    Examples:

        BATCHES_RUN.increment()
        prometheus_text()   # '# TYPE :tensorflow:serving:batching_session:wrapped_run_count counter\\n…'
    """

    def __init__(self, name, help_text):
        self.name = name
        self.help_text = help_text
        self._value = 0
        self._lock = threading.Lock()

    def increment(self):
        with self._lock:
            self._value += 1

    @property
    def value(self):
        return self._value


BATCHES_RUN = Counter(
    ":tensorflow:serving:batching_session:wrapped_run_count", "Total count of run calls on the wrapped session"
)


def prometheus_text(counters=(BATCHES_RUN,)):
    """The Prometheus text exposition of `counters`."""
    lines = []
    for counter in counters:
        lines += [f"# HELP {counter.name} {counter.help_text}", f"# TYPE {counter.name} counter"]
        lines.append(f"{counter.name} {counter.value}")
    return "\n".join(lines) + "\n"


def parse_prometheus_text(text):
    """{series: value} of a Prometheus text page, a series being a sample's name and labels as written
    (`name` or `name{label="value"}`; `name{}`, empty labels, is read as `name`).

    Examples:
    >>> parse_prometheus_text('# TYPE a counter\\na{} 3\\nb{model="m"} 1.5\\n')
    {'a': 3.0, 'b{model="m"}': 1.5}
    """
    samples = {}
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        labels_end = line.rfind("}")
        series_end = labels_end + 1 if labels_end >= 0 else line.index(" ")
        samples[line[:series_end].removesuffix("{}")] = float(line[series_end:].split()[0])  # then a timestamp
    return samples


def read_monitoring_config(path):
    """The metrics page's path from a text-format MonitoringConfig file, or None where it is not enabled."""
    text = read_text_config(path, "monitoring config")
    if not text.strip():
        return None
    block = _BLOCK.match(text)
    if block is None:
        raise ValueError(f'{path}: expected one `prometheus_config {{ enable: true, path: "…" }}` block')
    fields, body, position = {}, block["body"], 0
    while body[position:].strip():
        field = _FIELD.match(body, position)
        if field is None:
            raise ValueError(f"{path}: cannot parse {body[position:].strip()[:40]!r} (fields: enable, path)")
        name, value = field[1], field[2]
        if name == "path" and not value.startswith('"'):
            raise ValueError(f"{path}: path must be a quoted string, got {value}")
        fields[name] = value
        position = field.end()
    if fields.get("enable", "false") not in ("true", "false"):
        raise ValueError(f"{path}: enable must be true or false, got {fields['enable']}")
    if fields.get("enable") != "true":
        return None
    metrics_path = fields.get("path", '""')[1:-1] or DEFAULT_PATH
    if not metrics_path.startswith("/") or metrics_path.startswith("/v1/"):
        raise ValueError(f"{path}: the metrics path must start with / and not with /v1/, got {metrics_path!r}")
    return metrics_path
