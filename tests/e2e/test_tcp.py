"""``paramlens serve --tcp HOST:PORT``: the same server over a socket, for debugging."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode("utf-8")
    sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def receive(stream: Any) -> dict[str, Any]:
    length = 0
    while True:
        line = stream.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return dict(json.loads(stream.read(length)))


def test_serve_over_tcp() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "paramlens", "serve", "--tcp", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server never listened"
                time.sleep(0.1)
        with sock, sock.makefile("rb") as stream:
            send(
                sock,
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {"processId": None, "rootUri": None, "capabilities": {}},
                },
            )
            message = receive(stream)
            while message.get("id") != 1:  # window/logMessage may come first
                message = receive(stream)
            assert message["result"]["serverInfo"]["name"] == "paramlens"
            assert message["result"]["capabilities"]["hoverProvider"]
            send(sock, {"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
            message = receive(stream)
            while message.get("id") != 2:
                message = receive(stream)
            send(sock, {"jsonrpc": "2.0", "method": "exit"})
        assert server.wait(timeout=15) == 0
        assert server.stdout is not None and server.stdout.read() == b""  # nothing on stdout
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
