"""Every way user code can fail comes back as a structured error, and the same worker keeps
serving: the next inspection succeeds without a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
import venv
from pathlib import Path
from typing import Any, Optional

import pytest
from worker_support import EXAMPLES, FAILURES, TIMEOUT_SECONDS, worker_interpreter

from paramlens.settings import Settings
from paramlens.worker_client import (
    WorkerClient,
    WorkerError,
    WorkerSession,
    WorkerState,
    build_inspect_params,
)
from paramlens_worker import protocol

pytestmark = pytest.mark.torch


# fixture file, kind of WorkerError (None: the inspection answers with a report in error),
# error type, line of the user's frame
WORKER_FAILURES = [
    ("hang.py", "timeout", "Timeout", 7),
    ("segfault.py", "crashed", "SIGSEGV", 9),
    ("os_exit.py", "crashed", "SystemExit", 9),
    ("syntax_error.py", "error", "SyntaxError", 5),
    ("import_error.py", "error", "ImportError", 3),  # installed, but not what it imports
    ("raise_at_import.py", "error", "RuntimeError", 6),
]
REPORT_FAILURES = [
    ("sys_exit.py", "Exits", "SystemExit", 9),
    ("raise_in_init.py", "Broken", "ValueError", 8),
    ("missing_import.py", "Net", "ModuleNotFoundError", 9),  # a module that is not installed
    ("memory_hog.py", "Hog", "MemoryError", 10),
    ("print_forever.py", "Chatty", "OSError", 7),  # the file-size limit, before the timeout
]


def assert_still_serving(session: WorkerSession, pid: Optional[int]) -> None:
    result = session.inspect(EXAMPLES / "net.py")
    assert result["reports"][0]["totals"]["parameters"] == 58
    assert session.client.pid == pid
    assert session.client.state is WorkerState.READY


@pytest.mark.parametrize(("fixture", "kind", "error_type", "line"), WORKER_FAILURES)
def test_failures_of_the_child_are_structured_errors(
    session: WorkerSession, fixture: str, kind: str, error_type: str, line: int
) -> None:
    pid = session.client.pid
    started = time.monotonic()
    with pytest.raises(WorkerError) as caught:
        session.inspect(FAILURES / fixture)
    error = caught.value
    assert error.kind == kind
    assert error.info is not None
    assert error.info["type"] == error_type
    assert error.info["file"] == str(FAILURES / fixture)
    assert error.info["line"] == line
    assert str(error)
    assert time.monotonic() - started < TIMEOUT_SECONDS + 3
    assert_still_serving(session, pid)


@pytest.mark.parametrize(("fixture", "name", "error_type", "line"), REPORT_FAILURES)
def test_failures_inside_a_model_are_reports_in_error(
    session: WorkerSession, fixture: str, name: str, error_type: str, line: int
) -> None:
    pid = session.client.pid
    result = session.inspect(FAILURES / fixture)
    (report,) = [r for r in result["reports"] if r["object"] == name]
    assert report["status"] == "error"
    assert report["error"]["type"] == error_type
    assert report["error"]["file"] == str(FAILURES / fixture)
    assert report["error"]["line"] == line
    assert report["error"]["message"]
    assert_still_serving(session, pid)


def test_other_models_of_a_file_survive_one_that_raises(session: WorkerSession) -> None:
    result = session.inspect(FAILURES / "raise_in_init.py")
    statuses = {r["object"]: r["status"] for r in result["reports"]}
    assert statuses == {"Broken": "error", "Fine": "ok"}


def test_a_module_that_is_not_installed_fails_only_what_needs_it(session: WorkerSession) -> None:
    result = session.inspect(FAILURES / "missing_import.py")
    statuses = {r["object"]: r["status"] for r in result["reports"]}
    assert statuses == {"Net": "error", "Fine": "ok"}
    assert result["missing_modules"] == ["paramlens_fixture_no_such_module"]
    (net,) = [r for r in result["reports"] if r["object"] == "Net"]
    assert net["error"]["message"] == (
        "paramlens_fixture_no_such_module.Block needs paramlens_fixture_no_such_module, which "
        "this interpreter does not have (No module named 'paramlens_fixture_no_such_module')"
    )


def test_a_print_flood_with_fake_headers_never_reaches_the_protocol(
    session: WorkerSession,
) -> None:
    pid = session.client.pid
    result = session.inspect(FAILURES / "print_flood.py")
    (report,) = result["reports"]
    assert report["status"] == "ok"
    assert report["totals"]["parameters"] == 8
    assert result["output"].startswith("Content-Length: 64")
    assert "output truncated" in result["output"]
    assert_still_serving(session, pid)


async def test_inspections_run_concurrently_while_one_hangs() -> None:
    settings = Settings(interpreter=(worker_interpreter(),), timeout_seconds=3.0)
    client = WorkerClient(settings.interpreter_command())
    try:
        await client.start()
        hang = asyncio.ensure_future(
            client.inspect(build_inspect_params(FAILURES / "hang.py", settings))
        )
        await asyncio.sleep(0.2)
        started = time.monotonic()
        net = await client.inspect(build_inspect_params(EXAMPLES / "net.py", settings))
        assert time.monotonic() - started < 2.0
        assert net["reports"][0]["totals"]["parameters"] == 58
        assert not hang.done()
        with pytest.raises(WorkerError) as caught:
            await hang
        assert caught.value.kind == "timeout"
    finally:
        await client.stop()
    assert client.state is WorkerState.STOPPED
    await client.stop()  # idempotent


def _worker_folders(where: Path) -> list[Path]:
    return sorted(where.glob("paramlens-worker-*"))


def _temporary_folder(where: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Temporary files of this process and of the worker go to ``where``."""
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    monkeypatch.setenv("TMPDIR", str(where))


async def test_the_client_restarts_a_worker_that_died(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed outright is started again, and the folder of its output files does not
    outlive it (the client owns it)."""
    _temporary_folder(tmp_path, monkeypatch)
    settings = Settings(interpreter=(worker_interpreter(),))
    client = WorkerClient(settings.interpreter_command())
    try:
        first = (await client.start())["pid"]
        assert client.pid == first
        assert len(_worker_folders(tmp_path)) == 1
        os.kill(first, signal.SIGKILL)
        for _ in range(100):
            if client.state is WorkerState.CRASHED:
                break
            await asyncio.sleep(0.05)
        assert client.state is WorkerState.CRASHED
        result = await client.inspect(build_inspect_params(EXAMPLES / "net.py", settings))
        assert result["reports"][0]["totals"]["parameters"] == 58
        assert client.pid != first
        assert len(_worker_folders(tmp_path)) == 1  # the new worker's only
    finally:
        await client.stop()
    assert _worker_folders(tmp_path) == []


def test_spawn_per_inspection_where_fork_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARAMLENS_WORKER_SPAWN", "1")
    settings = Settings(interpreter=(worker_interpreter(),), timeout_seconds=60.0)
    with WorkerSession(settings) as session:
        result = session.inspect(EXAMPLES / "darknet.py")
        assert result["reports"][0]["totals"]["parameters"] == 40_584_928
        with pytest.raises(WorkerError) as caught:
            session.inspect(FAILURES / "segfault.py")
        assert caught.value.kind == "crashed"
        assert session.inspect(EXAMPLES / "net.py")["reports"][0]["totals"]["parameters"] == 58


def test_an_interpreter_without_torch_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    _temporary_folder(temporary, monkeypatch)
    venv.create(tmp_path / "bare", with_pip=False)
    python = tmp_path / "bare" / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import torch"], capture_output=True)
    assert probe.returncode != 0, "the bare venv must not see torch"
    with WorkerSession(Settings(interpreter=(str(python),))) as session:
        with pytest.raises(WorkerError) as caught:
            session.start()
        assert caught.value.kind == "no_torch"
        assert "torch" in str(caught.value)
    assert _worker_folders(temporary) == []  # the refused worker left no folder behind


def test_a_missing_interpreter_fails_to_start(tmp_path: Path) -> None:
    with WorkerSession(Settings(interpreter=(str(tmp_path / "no-python"),))) as session:
        with pytest.raises(WorkerError) as caught:
            session.inspect(EXAMPLES / "net.py")
        assert caught.value.kind == "start_failed"


def test_the_worker_exits_when_its_stdin_closes() -> None:
    process = subprocess.Popen(
        protocol.worker_command([worker_interpreter()]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(protocol.encode({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
    process.stdin.write(b"not json\n")
    process.stdin.write(protocol.encode({"jsonrpc": "2.0", "id": 2, "method": "nope"}))
    process.stdin.flush()
    answers: list[dict[str, Any]] = [protocol.decode(process.stdout.readline()) for _ in range(3)]
    assert answers[0]["result"]["torch_version"]
    assert answers[1]["error"]["code"] == protocol.ERROR_PARSE
    assert answers[2]["error"]["code"] == protocol.ERROR_METHOD_NOT_FOUND
    process.stdin.close()
    assert process.wait(timeout=10) == 0


def worker_children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


async def test_cancelling_an_inspection_stops_its_child() -> None:
    settings = Settings(interpreter=(worker_interpreter(),), timeout_seconds=60.0)
    client = WorkerClient(settings.interpreter_command())
    try:
        pid = (await client.start())["pid"]
        hang = asyncio.ensure_future(
            client.inspect(build_inspect_params(FAILURES / "hang.py", settings))
        )
        for _ in range(100):
            await asyncio.sleep(0.05)
            if worker_children(pid):
                break
        assert worker_children(pid), "the hang child should be running"
        hang.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hang
        for _ in range(100):
            await asyncio.sleep(0.05)
            if not worker_children(pid):
                break
        assert worker_children(pid) == []
        net = await client.inspect(build_inspect_params(EXAMPLES / "net.py", settings))
        assert net["reports"][0]["totals"]["parameters"] == 58
    finally:
        await client.stop()
