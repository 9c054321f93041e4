"""A scripted editor session against ``paramlens serve``: what an editor shows for examples/.

Starts the real server over stdio (and through it the worker), opens each example the way an
editor does, waits for the model report, and prints the code lenses, a few hovers, the
diagnostics and their quick fixes. ``make run`` runs it; so can
``python scripts/lsp_demo.py [FILE...]``.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from paramlens.analysis.source_map import build_source_map

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILES = ("examples/net.py", "examples/darknet.py")
HOVERS_PER_FILE = 4


def say(text: str = "") -> None:
    """stdout is the demo's output (the server's protocol has its own pipes)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.strip().splitlines())


class DemoClient(LanguageClient):
    """A client that records what the server pushes."""

    def __init__(self) -> None:
        super().__init__("paramlens-demo", "0")
        self.diagnostics: dict[str, list[types.Diagnostic]] = {}
        self.messages: list[str] = []
        self.progress: list[str] = []

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def publish(params: types.PublishDiagnosticsParams) -> None:
            self.diagnostics[params.uri] = list(params.diagnostics)

        @self.feature(types.WINDOW_SHOW_MESSAGE)
        def show(params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)

        @self.feature(types.WINDOW_LOG_MESSAGE)
        def log(params: types.LogMessageParams) -> None:
            pass

        @self.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create(params: types.WorkDoneProgressCreateParams) -> None:
            pass

        @self.feature(types.PROGRESS)
        def progress(params: types.ProgressParams) -> None:
            value: Any = params.value
            if isinstance(value, dict) and value.get("kind") == "begin":
                self.progress.append(str(value.get("title")))

        @self.feature(types.WORKSPACE_CODE_LENS_REFRESH)
        def refresh(params: None) -> None:
            pass

        @self.feature(types.WORKSPACE_CONFIGURATION)
        def configuration(params: types.ConfigurationParams) -> list[Optional[Any]]:
            return [None for _ in params.items]


def capabilities() -> types.ClientCapabilities:
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=["utf-16"]),
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(
            configuration=True,
            code_lens=types.CodeLensWorkspaceClientCapabilities(refresh_support=True),
        ),
        text_document=types.TextDocumentClientCapabilities(
            hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.PlainText]),
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(),
            code_action=types.CodeActionClientCapabilities(
                code_action_literal_support=types.ClientCodeActionLiteralOptions(
                    code_action_kind=types.ClientCodeActionKindOptions(
                        value_set=["quickfix", "source"]
                    )
                )
            ),
        ),
    )


async def lenses(client: DemoClient, uri: str) -> list[types.CodeLens]:
    result = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    return list(result or [])


async def wait_for_numbers(client: DemoClient, uri: str, timeout: float) -> list[types.CodeLens]:
    deadline = time.monotonic() + timeout
    found: list[types.CodeLens] = []
    while time.monotonic() < deadline:
        found = await lenses(client, uri)
        titles = [lens.command.title for lens in found if lens.command]
        if titles and not any("inspecting" in title for title in titles):
            return found
        await asyncio.sleep(0.1)
    return found


async def show_file(client: DemoClient, path: Path, timeout: float) -> None:
    uri = path.as_uri()
    text = path.read_text("utf-8")
    lines = text.splitlines()
    say(f"=== {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    opened = time.monotonic()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    found = await wait_for_numbers(client, uri, timeout)
    say(f"  code lenses (first with numbers after {time.monotonic() - opened:.2f} s):")
    for lens in sorted(found, key=lambda lens: lens.range.start.line):
        line = lens.range.start.line
        title = lens.command.title if lens.command else ""
        say(f"    line {line + 1:>4}: {title}")
        say(f"               {lines[line].strip()[:70]}")
    source_map = build_source_map(ast.parse(text), text)
    # One hover per kind of target (submodule, attribute chain, collection call, filter string).
    first_of_kind = {}
    for target in sorted(source_map.targets, key=lambda t: t.span):
        if target.kind != "class":
            first_of_kind.setdefault(target.kind, target)
    targets = list(first_of_kind.values())[:HOVERS_PER_FILE]
    for target in targets:
        position = types.Position(line=target.span.start_line, character=target.span.start_col)
        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=position
            )
        )
        token = lines[target.span.start_line][target.span.start_col : target.span.end_col]
        say(f"  hover on `{token}` (line {target.span.start_line + 1}, {target.kind}):")
        if hover is not None and isinstance(hover.contents, types.MarkupContent):
            say(indent(hover.contents.value))
    await asyncio.sleep(0.2)  # the diagnostics that follow the report
    diagnostics = client.diagnostics.get(uri, [])
    say(f"  diagnostics: {len(diagnostics)}")
    for diagnostic in diagnostics:
        start = diagnostic.range.start
        say(f"    {start.line + 1}:{start.character + 1} {diagnostic.code} {diagnostic.message}")
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=diagnostic.range,
                context=types.CodeActionContext(diagnostics=[diagnostic]),
            )
        )
        for action in actions or []:
            if isinstance(action, types.CodeAction):
                say(f"      quick fix: {action.title}")
    say()


async def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="*", default=list(DEFAULT_FILES))
    parser.add_argument("--timeout", type=float, default=120.0, help="per file, seconds")
    args = parser.parse_args(argv)
    files = [Path(f).resolve() for f in args.files]
    client = DemoClient()
    started = time.monotonic()
    await client.start_io(sys.executable, "-m", "paramlens", "serve", env=dict(os.environ))
    result = await client.initialize_async(
        types.InitializeParams(
            capabilities=capabilities(),
            root_uri=ROOT.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=ROOT.as_uri(), name=ROOT.name)],
            initialization_options={
                "interpreter": os.environ.get("PARAMLENS_INTERPRETER", sys.executable)
            },
        )
    )
    client.initialized(types.InitializedParams())
    info = result.server_info
    say(
        f"paramlens language server {info.version if info else '?'} initialized in "
        f"{time.monotonic() - started:.2f} s (positions: {result.capabilities.position_encoding})"
    )
    say()
    try:
        for path in files:
            await show_file(client, path, args.timeout)
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    if client.progress:
        say("progress shown: " + "; ".join(dict.fromkeys(client.progress)))
    for message in client.messages:
        say(f"message: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
