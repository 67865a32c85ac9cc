"""`vqa-model-server` as a child process on free loopback ports, with clients, for scripts that need one.

Used by `vqa-quickstart` and the serving benchmark. The child runs the
installed program, `python -m vqa_tf.programs.serving.model_server`.
"""

import subprocess
import sys

from vqa_tf.serving.clients import GrpcClient, RestClient
from vqa_tf.utils.files import absolute
from vqa_tf.utils.ports import free_ports

SERVER_MODULE = "vqa_tf.programs.serving.model_server"


class LocalServerProcess:
    """Starts the local server on `base_path` on free loopback ports, or the given (gRPC, REST) ports (a restart
    on the same ports); `.grpc` / `.rest` talk to it, `.stop()` ends it.

    Examples:

        server = LocalServerProcess("smem", "runs/smem/exports", "runs/smem/model_server.log")
        server.wait_until_serving(version=1)
        server.grpc.predict("smem", {"question": [...], "image": [...]})
        server.stop()
    """

    def __init__(self, model_name, base_path, log_path, *flags, ports=None):
        self.model_name, self.log_path = model_name, log_path
        grpc_port, rest_port = ports or free_ports(2)
        self.grpc_address = f"127.0.0.1:{grpc_port}"
        self.rest_address = f"127.0.0.1:{rest_port}"
        command = [
            sys.executable,
            "-m",
            SERVER_MODULE,
            f"--port={self.grpc_address.rsplit(':', 1)[1]}",
            f"--rest_api_port={self.rest_address.rsplit(':', 1)[1]}",
            f"--model_name={model_name}",
            f"--model_base_path={absolute(base_path)}",
            *flags,
        ]
        with open(log_path, "w") as log:  # the server process keeps its own handle
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.grpc = GrpcClient(self.grpc_address)
        self.rest = RestClient(self.rest_address)

    def wait_until_serving(self, version=None, timeout=300):
        """Waits until `version` (or any) is available; fails early, naming the log, if the server exits."""
        for _ in range(timeout // 5):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the model server exited with status {self.process.returncode}; see {self.log_path}"
                )
            try:
                return self.grpc.wait_until_available(self.model_name, version, timeout=5)
            except TimeoutError:
                continue
        raise TimeoutError(f"the model server did not serve version {version} within {timeout} s")

    def stop(self):
        self.grpc.close()
        self.process.terminate()
        self.process.wait(timeout=60)
