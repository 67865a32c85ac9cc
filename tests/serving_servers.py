"""Model servers for the serving tests: the local server, and `tensorflow_model_server` when installed.

Both are started as separate processes with the same command-line flags and
talked to over loopback gRPC and REST, so every serving test runs unchanged
against either.
"""

import os
import shutil
import subprocess
import time

import pytest
import tensorflow as tf
from training_runs import env, program

from vqa_tf.serving import GrpcClient, RestClient
from vqa_tf.training import restore_for_evaluation
from vqa_tf.utils.ports import free_ports

KINDS = ["local", "tensorflow_model_server"]
MODEL = "smem"
NO_MODEL_SERVER = "tensorflow_model_server is not on PATH (it is not on PyPI); the local server ran these tests"


def server_command(kind):
    if kind == "local":
        return program("serving.model_server")
    binary = shutil.which("tensorflow_model_server")
    if binary is None:
        pytest.skip(reason=NO_MODEL_SERVER)
    return [binary]


class Server:
    """A running server process with a gRPC and a REST client (on free ports, or the given (gRPC, REST) ports)."""

    def __init__(self, kind, *flags, log_dir, ports=None):
        self.kind = kind
        grpc_port, rest_port = ports or free_ports(2)
        self.log_path = os.path.join(log_dir, f"{kind}-{grpc_port}.log")
        args = [
            *server_command(kind),
            f"--port={grpc_port}",
            f"--rest_api_port={rest_port}",
            "--file_system_poll_wait_seconds=1",
            *flags,
        ]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env())
        self.grpc_port, self.rest_port = grpc_port, rest_port
        self.grpc = GrpcClient(f"127.0.0.1:{grpc_port}")
        self.rest = RestClient(f"127.0.0.1:{rest_port}")

    def wait_for_version(self, model_name, version, timeout=240):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the {self.kind} server exited with {self.process.returncode}:\n{self.log()}")
            try:
                statuses = self.grpc.wait_until_available(model_name, version, timeout=2)
                if version is None or (version, "AVAILABLE", "") in statuses:
                    return statuses
            except TimeoutError:
                pass
        raise AssertionError(f"version {version} of {model_name} never became available:\n{self.log()}")

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()[-5000:]

    def stop(self):
        self.grpc.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def task(smem_export):
    return restore_for_evaluation(smem_export[0])[0]


def inputs_of(task, count=4, offset=0):
    examples = task.eval_examples[offset : offset + count]
    images = []
    for example in examples:
        with open(example.image_path, "rb") as f:
            images.append(f.read())
    return {"question": [e.question for e in examples], "image": images}


@pytest.fixture(scope="module")
def reference(smem_export, task):
    """The exported signature called in this process, on the batch the tests send."""
    inputs = inputs_of(task)
    serve = tf.saved_model.load(smem_export[1]).signatures["serving_default"]
    return inputs, {
        k: v.numpy()
        for k, v in serve(question=tf.constant(inputs["question"]), image=tf.constant(inputs["image"])).items()
    }


def base_with(tmp_path, export_path, *versions):
    base = tmp_path / "base"
    for version in versions:
        shutil.copytree(export_path, base / str(version))
    return str(base)


@pytest.fixture(scope="module", params=KINDS)
def server(request, smem_export, tmp_path_factory):
    base = base_with(tmp_path_factory.mktemp("served"), smem_export[1], 1)
    running = Server(
        request.param,
        f"--model_name={MODEL}",
        f"--model_base_path={base}",
        log_dir=str(tmp_path_factory.mktemp("logs")),
    )
    running.wait_for_version(MODEL, 1)
    yield running
    running.stop()
