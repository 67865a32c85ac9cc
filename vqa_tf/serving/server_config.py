"""TF Serving's configuration files, read the way `tensorflow_model_server` reads them.

* `--model_config_file`: a text-format `ModelServerConfig` with a `model_config_list`
  (name, base_path, version policy `latest { num_versions }` / `all {}` / `specific { versions }`,
  version labels).
* `--batching_parameters_file`: text-format `BatchingParameters`; the local server implements
  `max_batch_size`, `batch_timeout_micros`, `num_batch_threads`, `max_enqueued_batches` and
  `allowed_batch_sizes`, and refuses any other field rather than ignore it.
"""

import dataclasses
import os
import re

import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from vqa_tf.utils.files import absolute


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """One served model: where its versions live and which of them to serve.

    Examples:

        ModelConfig("smem", "/models/smem", policy="latest", num_versions=2).aspired([1, 2, 3])  # [2, 3]
    """

    name: str
    base_path: str
    policy: str = "latest"
    num_versions: int = 1
    versions: tuple = ()
    labels: tuple = ()  # (label, version) pairs

    def aspired(self, on_disk):
        """The versions to serve, of the integer versions found under the base path."""
        if self.policy == "all":
            return sorted(on_disk)
        if self.policy == "specific":
            return sorted(v for v in on_disk if v in self.versions)
        return sorted(on_disk)[-self.num_versions :]


def read_model_config_file(path):
    """The ModelConfigs of a text-format ModelServerConfig file."""
    proto = model_server_config_pb2.ModelServerConfig()
    try:
        with tf.io.gfile.GFile(path, "r") as f:
            text_format.Parse(f.read(), proto)
    except (OSError, tf.errors.OpError, text_format.ParseError) as error:
        raise ValueError(f"cannot read the model config file {path}: {error}") from None
    if proto.WhichOneof("config") != "model_config_list":
        raise ValueError(f"{path} holds no model_config_list")
    configs = []
    for model in proto.model_config_list.config:
        if not model.name or not model.base_path:
            raise ValueError(f"{path}: every model config needs a name and a base_path")
        if model.model_platform not in ("", "tensorflow"):
            raise ValueError(
                f"{path}: model {model.name!r} has platform {model.model_platform!r}; only tensorflow is served"
            )
        policy = model.model_version_policy
        choice = policy.WhichOneof("policy_choice") or "latest"
        configs.append(
            ModelConfig(
                name=model.name,
                base_path=absolute(model.base_path),  # relative to the working directory, as in TF Serving
                policy=choice,
                num_versions=policy.latest.num_versions or 1,
                versions=tuple(policy.specific.versions),
                labels=tuple(sorted(model.version_labels.items())),
            )
        )
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: model names must be unique, got {names}")
    return configs


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    """How concurrent requests are grouped (TF Serving's defaults, except threads = CPU cores).

    Examples:

        BatchingParameters(max_batch_size=32, batch_timeout_micros=2000, allowed_batch_sizes=(8, 16, 32))
    """

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    num_batch_threads: int = os.cpu_count() or 1
    max_enqueued_batches: int = 10
    allowed_batch_sizes: tuple = ()

    def __post_init__(self):
        sizes = self.allowed_batch_sizes
        if (
            min(self.max_batch_size, self.num_batch_threads, self.max_enqueued_batches) < 1
            or self.batch_timeout_micros < 0
        ):
            raise ValueError(f"batching parameters must be positive: {self}")
        if sizes and (list(sizes) != sorted(set(sizes)) or sizes[-1] != self.max_batch_size):
            raise ValueError(
                f"allowed_batch_sizes {list(sizes)} must increase and end with max_batch_size {self.max_batch_size}"
            )


_WRAPPED = re.compile(r"(\w+)\s*\{\s*value\s*:\s*([\w.+-]+)\s*\}")
_PLAIN = re.compile(r"(\w+)\s*:\s*([\w.+-]+)")


def read_text_config(path, what):
    """A text-format config file's text, `#` comments removed; ValueError naming `what` and `path` if unreadable."""
    try:
        with tf.io.gfile.GFile(path, "r") as f:
            return re.sub(r"#[^\n]*", "", f.read())
    except (OSError, tf.errors.OpError) as error:
        raise ValueError(f"cannot read the {what} file {path}: {error}") from None


def read_batching_parameters(path):
    """BatchingParameters from a text-format file such as `max_batch_size { value: 32 }`."""
    text = read_text_config(path, "batching parameters")
    fields = {f.name for f in dataclasses.fields(BatchingParameters)}
    values, sizes, position = {}, [], 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            break
        match = _WRAPPED.match(text, position) or _PLAIN.match(text, position)
        if match is None:
            raise ValueError(f"{path}: cannot parse {text[position : position + 40]!r}")
        name, value = match.group(1), match.group(2)
        if name not in fields:
            raise ValueError(f"{path}: batching parameter {name!r} is not supported (supported: {sorted(fields)})")
        if not value.isdigit():
            raise ValueError(f"{path}: {name} must be a non-negative integer, got {value!r}")
        value = int(value)
        if name == "allowed_batch_sizes":
            sizes.append(value)
        else:
            values[name] = value
        position = match.end()
    return BatchingParameters(**values, allowed_batch_sizes=tuple(sizes))
