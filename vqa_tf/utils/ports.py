"""Free TCP ports on loopback, for servers and worker clusters a program starts itself."""

import contextlib
import socket


def free_ports(count):
    """`count` distinct ports that were free on 127.0.0.1 a moment ago (held together while they are chosen).

    Examples:

        grpc_port, rest_port = free_ports(2)
    """
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
