"""Failure fixtures against the real server and worker: none takes the server down, and after
each a hover on a healthy file answers (in under a second while a model hangs)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from .helpers import (
    SERVER,
    change_document,
    copy_workspace,
    count_lens_refreshes,
    eventually,
    hover_text,
    initialize,
    lens_titles,
    open_document,
    token_position,
    wait_for_diagnostic,
    wait_for_lens,
    worker_pids,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
TIMEOUT_SECONDS = 4
MEMORY_LIMIT_MB = 1024
PLM_OR_SYNTAX = ("PLM001", "PLM002", "PLM003", "FRZ000")
PROJECT_FIXTURES = Path(__file__).parent.parent / "fixtures" / "failures"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_workspace(tmp_path_factory.mktemp("failures"))


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, root: Path) -> AsyncIterator[None]:
    count_lens_refreshes(lsp_client)
    await initialize(
        lsp_client, root, timeoutSeconds=TIMEOUT_SECONDS, memoryLimitMb=MEMORY_LIMIT_MB
    )
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def healthy(client: LanguageClient, root: Path) -> str:
    return open_document(client, root / "healthy.py")


async def assert_healthy_hover_answers(
    client: LanguageClient, root: Path, uri: str, within: float = 1.0
) -> None:
    """A hover on the healthy model answers, with numbers, within ``within`` seconds."""
    position = token_position(root / "healthy.py", "self.fc =", "fc")
    started = time.monotonic()
    text = await hover_text(client, uri, position.line, position.character)
    elapsed = time.monotonic() - started
    assert "[3, 2]" in text, text
    assert elapsed < within, f"hover took {elapsed:.2f} s"


async def test_healthy_file_reports(client: LanguageClient, root: Path, healthy: str) -> None:
    titles = await wait_for_lens(client, healthy, "params")
    assert "9 params · 9 trainable" in titles
    await assert_healthy_hover_answers(client, root, healthy)


async def test_hanging_model_keeps_the_server_responsive(
    client: LanguageClient, root: Path, healthy: str
) -> None:
    await wait_for_lens(client, healthy, "params")
    uri = open_document(client, root / "hang.py")
    await asyncio.sleep(0.5)  # the inspection of hang.py is running now
    for _ in range(3):
        await assert_healthy_hover_answers(client, root, healthy)
    waiting = await lens_titles(client, uri)
    assert any("inspecting" in title for title in waiting), waiting
    diagnostic = await wait_for_diagnostic(client, uri, "PLM002", timeout=TIMEOUT_SECONDS + 30)
    assert "timed out" in diagnostic.message
    # The timeout's stack dump lands on either line of the endless loop in __init__.
    assert diagnostic.range.start.line in (9, 10)
    timeouts = [m for m in client.messages if "timed out" in m.message]
    assert len(timeouts) == 1 and timeouts[0].type == types.MessageType.Error
    await assert_healthy_hover_answers(client, root, healthy)


async def test_stdout_flood_does_not_reach_the_protocol(
    client: LanguageClient, root: Path, healthy: str
) -> None:
    uri = open_document(client, root / "flood.py")
    titles = await wait_for_lens(client, uri, "params")
    assert "30 params · 30 trainable" in titles
    await assert_healthy_hover_answers(client, root, healthy)


@pytest.mark.parametrize(
    ("name", "code", "line", "words"),
    [
        ("build_error.py", "PLM001", 12, "this model cannot be built"),
        ("import_error.py", "PLM001", 9, "paramlens_missing_package"),
        ("crash.py", "PLM002", 12, "SIGSEGV"),
    ],
)
async def test_model_failures_are_diagnostics_on_the_failing_line(
    client: LanguageClient,
    root: Path,
    healthy: str,
    name: str,
    code: str,
    line: int,
    words: str,
) -> None:
    uri = open_document(client, root / name)
    diagnostic = await wait_for_diagnostic(client, uri, code)
    assert diagnostic.range.start.line == line, diagnostic
    assert words in diagnostic.message
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    await assert_healthy_hover_answers(client, root, healthy)


async def test_a_package_that_is_not_installed_is_one_warning(
    client: LanguageClient, root: Path
) -> None:
    uri = open_document(client, root / "import_error.py")
    await wait_for_diagnostic(client, uri, "PLM001")
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="paramlens.inspect", arguments=[uri])
    )  # inspected again: no second message
    missing = [m for m in client.messages if "paramlens_missing_package" in m.message]
    assert [(m.type, m.message) for m in missing] == [
        (
            types.MessageType.Warning,
            "paramlens: import_error.py: paramlens_missing_package not installed in this "
            "interpreter: the models that need it are not built",
        )
    ]


async def test_a_class_that_cannot_be_built_says_why_in_its_lens(
    client: LanguageClient, root: Path
) -> None:
    uri = open_document(client, root / "build_error.py")
    titles = await wait_for_lens(client, uri, "failed")
    assert any("ValueError" in title and "cannot be built" in title for title in titles), titles


async def test_worker_killed_mid_session_is_replaced(
    client: LanguageClient, root: Path, healthy: str
) -> None:
    await wait_for_lens(client, healthy, "params")
    server_pid = client._server.pid  # type: ignore[union-attr]
    before = worker_pids(server_pid)
    assert len(before) == 1, [(pid, Path(f"/proc/{pid}/cmdline").read_bytes()) for pid in before]
    os.kill(before[0], signal.SIGKILL)
    await assert_healthy_hover_answers(client, root, healthy)  # answered from the last report

    async def replaced() -> list[int]:
        pids = worker_pids(server_pid)
        return pids if pids and before[0] not in pids else []

    # a new worker starts by itself, before anyone asks for an inspection
    after = await eventually(replaced, timeout=30)
    assert len(after) == 1
    answer = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="paramlens.inspect", arguments=[healthy])
    )
    assert "healthy.py: 1 model" in answer
    assert worker_pids(server_pid) == after
    await assert_healthy_hover_answers(client, root, healthy)


async def test_result_of_an_edited_document_is_dropped(client: LanguageClient, root: Path) -> None:
    path = root / "slow.py"
    uri = open_document(client, path)
    await asyncio.sleep(1.0)  # the 2 s inspection of Linear(6, 6) is running
    edited = path.read_text("utf-8").replace("nn.Linear(6, 6)", "nn.Linear(7, 7)")
    path.write_text(edited, "utf-8")  # as an editor that saves on change would
    change_document(client, uri, edited, version=2)
    seen: list[str] = []

    async def probe() -> bool:
        titles = await lens_titles(client, uri)
        seen.extend(titles)
        return any("56 params" in title for title in titles)

    await eventually(probe, timeout=60)
    assert not any("42 params" in title for title in seen), seen
    assert any(
        "dropping the inspection of slow.py version 1" in m.message for m in client.log_messages
    )


@pytest.mark.parametrize(
    "fixture", sorted(p.name for p in PROJECT_FIXTURES.glob("*.py")) or ["(none)"]
)
async def test_project_failure_fixtures_leave_the_server_answering(
    client: LanguageClient, root: Path, healthy: str, fixture: str
) -> None:
    source = PROJECT_FIXTURES / fixture
    assert source.is_file(), f"no failure fixtures in {PROJECT_FIXTURES}"
    target = root / "failures" / fixture
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(source.read_bytes())
    uri = open_document(client, target)

    async def settled() -> bool:
        diagnostics = [d for d in client.diagnostics.get(uri, []) if d.code in PLM_OR_SYNTAX]
        titles = await lens_titles(client, uri)
        return bool(diagnostics) or bool(titles and not any("inspecting" in t for t in titles))

    await eventually(settled, timeout=TIMEOUT_SECONDS + 30)
    await assert_healthy_hover_answers(client, root, healthy)
    assert client._server.returncode is None  # type: ignore[union-attr]
