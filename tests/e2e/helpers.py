"""End-to-end helpers: the real server (``python -m paramlens serve``) over stdio, the real worker
in ``PARAMLENS_INTERPRETER`` (the venv's Python with torch), driven by pytest-lsp with the
capability profiles of VS Code and Neovim.

Each test module gets its own copy of ``workspace/`` and its own server (module scope), so the
modules do not share worker state.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

HERE = Path(__file__).parent
WORKSPACE = HERE / "workspace"
INTERPRETER = os.environ.get("PARAMLENS_INTERPRETER", sys.executable)
SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "paramlens", "serve"])
T = TypeVar("T")


def copy_workspace(destination: Path) -> Path:
    """A private copy of the e2e workspace."""
    shutil.copytree(WORKSPACE, destination, dirs_exist_ok=True)
    return destination


def init_options(**overrides: Any) -> dict[str, Any]:
    """initializationOptions: the worker's interpreter and a short timeout for hang fixtures."""
    return {"interpreter": INTERPRETER, "timeoutSeconds": 6, **overrides}


async def initialize(
    client: LanguageClient,
    root: Path,
    profile: str = "visual-studio-code",
    capabilities: Optional[types.ClientCapabilities] = None,
    **options: Any,
) -> types.InitializeResult:
    """``initialize`` + ``initialized`` with a client profile and paramlens options."""
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities or client_capabilities(profile),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=init_options(**options),
        )
    )


def open_document(client: LanguageClient, path: Path, version: int = 1) -> str:
    """``didOpen`` with the file's text; returns the uri."""
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=version, text=path.read_text("utf-8")
            )
        )
    )
    return uri


def change_document(client: LanguageClient, uri: str, text: str, version: int) -> None:
    """``didChange`` with the whole new text."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def eventually(
    probe: Callable[[], Awaitable[Optional[T]]], timeout: float = 60.0, every: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Optional[T] = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"nothing after {timeout:.0f} s (last: {last!r})")


async def lens_titles(client: LanguageClient, uri: str) -> list[str]:
    """The titles of the document's code lenses."""
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    return [lens.command.title for lens in lenses or [] if lens.command is not None]


async def wait_for_lens(
    client: LanguageClient, uri: str, contains: str, timeout: float = 60.0
) -> list[str]:
    """Re-request lenses until a title contains ``contains`` (a report has landed)."""

    async def probe() -> Optional[list[str]]:
        titles = await lens_titles(client, uri)
        return titles if any(contains in title for title in titles) else None

    return await eventually(probe, timeout)


async def hover_text(client: LanguageClient, uri: str, line: int, character: int) -> str:
    """The hover contents at a position as text ('' when there is no hover)."""
    result = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
        )
    )
    if result is None:
        return ""
    contents = result.contents
    if isinstance(contents, types.MarkupContent):
        return contents.value
    if isinstance(contents, str):
        return contents
    if isinstance(contents, Sequence):
        return "\n".join(c if isinstance(c, str) else c.value for c in contents)
    return str(getattr(contents, "value", contents))


def pushed(client: LanguageClient, uri: str, code: Optional[str] = None) -> list[types.Diagnostic]:
    """The last published diagnostics of ``uri`` (with ``code``, if given)."""
    return [d for d in client.diagnostics.get(uri, []) if code is None or d.code == code]


async def wait_for_diagnostic(
    client: LanguageClient, uri: str, code: str, timeout: float = 60.0
) -> types.Diagnostic:
    """Wait until a pushed diagnostic of ``code`` exists for ``uri``."""

    async def probe() -> Optional[types.Diagnostic]:
        found = pushed(client, uri, code)
        return found[0] if found else None

    return await eventually(probe, timeout)


def token_position(
    path: Path, line_text: str, token: str, encoding: str = "utf-16"
) -> types.Position:
    """The position of ``token`` on the first line containing ``line_text``, in ``encoding``."""
    from paramlens.positions import to_client_column

    lines = path.read_text("utf-8").splitlines()
    line = next(i for i, text in enumerate(lines) if line_text in text)
    column = lines[line].index(token, lines[line].index(line_text))
    return types.Position(line=line, character=to_client_column(lines[line], column, encoding))


def worker_pids(server_pid: int) -> list[int]:
    """Processes started by the server that run ``paramlens_worker`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == server_pid and b"paramlens_worker" in cmdline:
            found.append(int(entry.name))
    return found


def count_lens_refreshes(client: LanguageClient) -> list[int]:
    """Answer ``workspace/codeLens/refresh`` (pytest-lsp does not) and count the requests."""
    counter = [0]

    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def refresh(params: None) -> None:
        counter[0] += 1

    return counter
