"""The worker protocol helpers and the bootstrap command (pure; no torch)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from paramlens_worker import protocol
from paramlens_worker.__main__ import supported_torch


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": 2, "result": {"text": "Content-Length: 3\r\n\r\n{}\nnext"}},
        {"jsonrpc": "2.0", "id": 3, "result": {"name": "é ü 中"}},
    ],
)
def test_messages_are_one_line_each_and_round_trip(message: dict[str, object]) -> None:
    line = protocol.encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert protocol.decode(line) == message
    stream = io.BytesIO(line + line)
    assert protocol.read_message(stream) == message
    assert protocol.read_message(stream) == message
    assert protocol.read_message(stream) is None


@pytest.mark.parametrize("line", [b"[1, 2]\n", b"not json\n", b'"text"\n'])
def test_decode_rejects_anything_but_an_object(line: bytes) -> None:
    with pytest.raises(ValueError):
        protocol.decode(line)


def test_module_class_reads_the_class_key() -> None:
    assert protocol.module_class({"name": "fc", "class": "Linear"}) == "Linear"
    assert protocol.module_class({"name": "fc"}) == ""


def test_worker_command_loads_the_package_without_its_parent_on_the_path() -> None:
    command = protocol.worker_command([sys.executable], "--flag")
    assert command[:2] == [sys.executable, "-c"]
    assert command[3] == os.path.dirname(os.path.abspath(protocol.__file__))
    assert command[4:] == ["--flag"]
    probe = command[2].replace(
        "from paramlens_worker.__main__ import main;sys.exit(main(sys.argv[2:]))",
        "import paramlens_worker.protocol as p;print(p.PROTOCOL_VERSION);"
        "print(any(q.endswith('server') for q in sys.path))",
    )
    # -I -S: no PYTHONPATH, no site-packages, so not even an editable install puts server/ on
    # the path; the bootstrap alone must find the package.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, command[3]],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(protocol.PROTOCOL_VERSION), "False"]


@pytest.mark.parametrize(
    ("version", "supported"),
    [
        ("2.13.0+cpu", True),
        ("2.0.0", True),
        ("2.1.0a0+git1234", True),
        ("10.0", True),
        ("1.13.1+cu117", False),
        ("", False),
        ("nightly", False),
    ],
)
def test_supported_torch_versions(version: str, supported: bool) -> None:
    assert supported_torch(version) is supported
