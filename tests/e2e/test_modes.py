"""Settings and modes, one fresh server each: pull diagnostics and plain-text hovers, untrusted
workspaces, bad settings, the ``inspect`` setting, and an interpreter without torch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Optional

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

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
    pushed,
    token_position,
    wait_for_diagnostic,
    wait_for_lens,
    worker_pids,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_workspace(tmp_path / "workspace")


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    count_lens_refreshes(lsp_client)
    yield
    await lsp_client.shutdown_session()


def pull_and_plaintext() -> types.ClientCapabilities:
    """VS Code's profile, plus pull diagnostics with refresh, and plain-text hovers only."""
    capabilities = client_capabilities("visual-studio-code")
    assert capabilities.text_document is not None and capabilities.workspace is not None
    capabilities.text_document.diagnostic = types.DiagnosticClientCapabilities()
    capabilities.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(
        refresh_support=True
    )
    assert capabilities.text_document.hover is not None
    capabilities.text_document.hover.content_format = [types.MarkupKind.PlainText]
    return capabilities


async def pull(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    report = await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    return list(report.items)


async def test_pull_diagnostics_and_plaintext_hover(client: LanguageClient, root: Path) -> None:
    result = await initialize(client, root, capabilities=pull_and_plaintext())
    assert result.capabilities.diagnostic_provider is not None
    uri = open_document(client, root / "net.py")
    assert "FRZ01" in [d.code for d in await pull(client, uri)]  # static: at once
    await wait_for_lens(client, uri, "params")

    async def runtime_rule() -> bool:
        return "FRZ12" in [d.code for d in await pull(client, uri)]

    await eventually(runtime_rule, timeout=30)
    assert client.diagnostic_refresh_count >= 1  # told to re-pull when the report landed
    assert uri not in client.diagnostics  # nothing pushed to a pull client
    position = token_position(root / "net.py", "self.fc1 =", "fc1")
    result_hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=position)
    )
    assert result_hover is not None
    assert isinstance(result_hover.contents, types.MarkupContent)
    assert result_hover.contents.kind == types.MarkupKind.PlainText
    assert "[4, 12]" in result_hover.contents.value and "|" not in result_hover.contents.value


async def test_untrusted_runs_static_rules_only(client: LanguageClient, root: Path) -> None:
    await initialize(client, root, untrusted=True)
    uri = open_document(client, root / "net.py")
    await wait_for_diagnostic(client, uri, "FRZ01", timeout=10)
    titles = await lens_titles(client, uri)
    assert titles and all("untrusted" in title for title in titles), titles
    await asyncio.sleep(1.5)
    assert worker_pids(client._server.pid) == []  # type: ignore[union-attr]
    assert "FRZ12" not in [d.code for d in client.diagnostics[uri]]
    answer = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="paramlens.inspect", arguments=[uri])
    )
    assert "nothing to inspect" in answer
    assert worker_pids(client._server.pid) == []  # type: ignore[union-attr]


async def test_bad_settings_fall_back_with_one_message(client: LanguageClient, root: Path) -> None:
    await initialize(client, root, timeoutSeconds=-1, inspect="sometimes")
    uri = open_document(client, root / "healthy.py")
    await wait_for_lens(client, uri, "params")  # defaults: inspect on open
    warnings = [m for m in client.messages if "settings" in m.message]
    assert len(warnings) == 1, client.messages
    assert "timeoutSeconds" in warnings[0].message and "inspect" in warnings[0].message
    assert warnings[0].type == types.MessageType.Warning


async def test_inspect_on_command(client: LanguageClient, root: Path) -> None:
    await initialize(client, root, inspect="onCommand")
    uri = open_document(client, root / "healthy.py")
    await asyncio.sleep(1.0)
    titles = await lens_titles(client, uri)
    assert titles and not any("params" in title for title in titles), titles
    assert "paramlens.inspect" in " ".join(titles)
    answer = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="paramlens.inspect", arguments=[uri])
    )
    assert "healthy.py: 1 model" in answer
    assert "9 params · 9 trainable" in await lens_titles(client, uri)


async def test_inspect_on_save(client: LanguageClient, root: Path) -> None:
    await initialize(client, root, inspect="onSave")
    uri = open_document(client, root / "healthy.py")
    await asyncio.sleep(1.0)
    assert not any("params" in t for t in await lens_titles(client, uri))
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await wait_for_lens(client, uri, "9 params")


async def test_interpreter_without_torch_is_one_message(client: LanguageClient, root: Path) -> None:
    await initialize(client, root, interpreter="/usr/bin/python3")
    first = open_document(client, root / "healthy.py")
    second = open_document(client, root / "net.py")

    async def told() -> list[types.ShowMessageParams]:
        return [m for m in client.messages if "torch" in m.message]

    messages = await eventually(told, timeout=30)
    # the lenses say why there are no numbers (not "inspecting…" for ever)
    why = "no torch in /usr/bin/python3 — static checks only"
    for uri in (first, second):
        titles = await wait_for_lens(client, uri, why, timeout=10)
        assert all(why in title for title in titles), titles
    # an edit inspects again (the start is not retried): still one message, same lenses
    change_document(client, first, (root / "healthy.py").read_text("utf-8") + "\n", 2)
    await asyncio.sleep(1.5)
    assert len(client.messages) == 1, client.messages  # one message, whoever met it first
    messages = await told()
    assert len(messages) == 1 and messages[0].type == types.MessageType.Error
    assert "/usr/bin/python3" in messages[0].message
    assert all(why in title for title in await lens_titles(client, first))
    # static rules still run; hovers answer without numbers, saying why
    await wait_for_diagnostic(client, second, "FRZ01", timeout=5)
    position = token_position(root / "healthy.py", "self.fc =", "fc")
    assert why in await hover_text(client, first, position.line, position.character)


async def test_settings_from_workspace_configuration(client: LanguageClient, root: Path) -> None:
    client.set_configuration({"inspect": "onCommand"}, section="paramlens")
    await initialize(client, root)  # initializationOptions say nothing about `inspect`
    uri = open_document(client, root / "healthy.py")
    await asyncio.sleep(1.5)
    assert not any("params" in t for t in await lens_titles(client, uri))
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="paramlens.inspect", arguments=[uri])
    )
    assert "9 params · 9 trainable" in await lens_titles(client, uri)


async def test_syntax_error_keeps_the_last_good_tree(client: LanguageClient, root: Path) -> None:
    await initialize(client, root)
    path = root / "net.py"
    uri = open_document(client, path)
    await wait_for_lens(client, uri, "58 params")
    broken = path.read_text("utf-8") + "\ndef broken(:\n"
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=broken)],
        )
    )
    await wait_for_diagnostic(client, uri, "FRZ000", timeout=10)
    position = token_position(path, "self.fc1 =", "fc1")
    assert "[4, 12]" in await hover_text(client, uri, position.line, position.character)
    assert "58 params · 58 trainable · 7 buffer values" in await lens_titles(client, uri)


async def test_shutdown_stops_the_workers(root: Path) -> None:
    client = await SERVER.start()
    try:
        await initialize(client, root)
        uri = open_document(client, root / "healthy.py")
        await wait_for_lens(client, uri, "params")
        server_pid = client._server.pid  # type: ignore[attr-defined]
        workers = worker_pids(server_pid)
        assert workers
        await client.shutdown_session()
        for pid in workers:
            assert (
                not Path(f"/proc/{pid}").exists()
                or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
            )
        assert client._server.returncode == 0  # type: ignore[attr-defined]
    finally:
        await client.stop()


async def test_saving_an_imported_file_refreshes_its_importers(
    client: LanguageClient, root: Path
) -> None:
    layers = root / "layers.py"
    layers.write_text(
        "from torch import nn\n\n\nclass Block(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.fc = nn.Linear(4, 4)\n",
        "utf-8",
    )
    outer = root / "outer.py"
    outer.write_text(
        "from torch import nn\n\nfrom layers import Block\n\n\nclass Outer(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.block = Block()\n",
        "utf-8",
    )
    await initialize(client, root)
    outer_uri = open_document(client, outer)
    await wait_for_lens(client, outer_uri, "20 params")
    layers.write_text(layers.read_text("utf-8").replace("Linear(4, 4)", "Linear(5, 5)"), "utf-8")
    layers_uri = open_document(client, layers)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=layers_uri))
    )
    await wait_for_lens(client, outer_uri, "30 params")


async def test_changing_the_interpreter_replaces_the_worker(
    client: LanguageClient, root: Path
) -> None:
    await initialize(client, root)
    uri = open_document(client, root / "healthy.py")
    await wait_for_lens(client, uri, "params")
    server_pid = client._server.pid  # type: ignore[union-attr]
    before = worker_pids(server_pid)
    assert len(before) == 1
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"interpreter": "/usr/bin/python3"})
    )

    async def told() -> list[types.ShowMessageParams]:
        return [m for m in client.messages if "/usr/bin/python3" in m.message]

    await eventually(told, timeout=30)  # the new interpreter has no torch: one message

    async def old_one_gone() -> bool:
        return before[0] not in worker_pids(server_pid)

    assert await eventually(old_one_gone, timeout=15)
    # the last report still answers hovers
    position = token_position(root / "healthy.py", "self.fc =", "fc")
    assert "[3, 2]" in await hover_text(client, uri, position.line, position.character)


async def test_emacs_profile_gets_utf32_positions(client: LanguageClient, root: Path) -> None:
    result = await initialize(client, root, profile="emacs")
    assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf32
    path = root / "unicode_net.py"
    uri = open_document(client, path)
    diagnostic = await wait_for_diagnostic(client, uri, "FRZ03")
    line = next(t for t in path.read_text("utf-8").splitlines() if t.startswith("label ="))
    assert diagnostic.range.start.character == line.index("model")  # code points
    await wait_for_lens(client, uri, "params")
    head = token_position(path, 'note = "模型🙂"', "head", "utf-32")
    assert "[2, 3]" in await hover_text(client, uri, head.line, head.character)


@pytest.mark.parametrize("mode", ["push", "pull", "pull-untrusted"])
async def test_changing_ignore_updates_diagnostics_without_an_edit(
    client: LanguageClient, root: Path, mode: str
) -> None:
    untrusted = mode == "pull-untrusted"
    capabilities = pull_and_plaintext() if mode.startswith("pull") else None
    await initialize(client, root, capabilities=capabilities, untrusted=untrusted)
    uri = open_document(client, root / "net.py")
    wanted = {"FRZ01"} if untrusted else {"FRZ01", "FRZ12"}  # FRZ12: a runtime finding

    async def codes() -> set[str]:
        if capabilities is None:
            return {str(d.code) for d in pushed(client, uri)}
        return {str(d.code) for d in await pull(client, uri)}

    async def all_there() -> bool:
        return wanted <= await codes()

    await eventually(all_there, timeout=30)
    await asyncio.sleep(0.5)  # nothing left in flight
    refreshes = client.diagnostic_refresh_count
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"ignore": sorted(wanted)})
    )

    async def gone() -> bool:
        if capabilities is not None and client.diagnostic_refresh_count == refreshes:
            return False  # a pull client must be told to pull again
        return not wanted & await codes()

    await eventually(gone, timeout=10)
    await asyncio.sleep(1.0)  # and they do not come back (a runtime analysis, a carry-over)
    assert not wanted & await codes()


async def test_module_classes_imported_from_workspace_files(
    client: LanguageClient, root: Path
) -> None:
    layers = root / "layers.py"
    layers.write_text("from torch import nn\n\n\nclass Block(nn.Module):\n    pass\n", "utf-8")
    script = root / "script.py"
    script.write_text(
        "from layers import Block, Head\n\nblock = Block()\nblock.requires_grad = False\n"
        "head = Head()\nhead.requires_grad = False\n",
        "utf-8",
    )
    await initialize(client, root, untrusted=True)  # no worker: the static rules alone
    uri = open_document(client, script)
    found = await wait_for_diagnostic(client, uri, "FRZ03", timeout=10)
    assert found.range.start.line == 3 and len(pushed(client, uri, "FRZ03")) == 1
    # Head becomes a Module class in the imported file: saving it counts
    layers.write_text(layers.read_text("utf-8") + "\n\nclass Head(nn.Module):\n    pass\n", "utf-8")
    layers_uri = open_document(client, layers)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=layers_uri))
    )

    async def both() -> bool:
        return sorted(d.range.start.line for d in pushed(client, uri, "FRZ03")) == [3, 5]

    await eventually(both, timeout=10)


async def test_runtime_findings_of_unchanged_lines_stay_through_an_edit(
    client: LanguageClient, root: Path
) -> None:
    published: list[tuple[Optional[int], list[str]]] = []

    features = client.protocol.fm.features
    default = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def record(*args: Any) -> None:
        params = args[-1]
        published.append((params.version, [str(d.code) for d in params.diagnostics]))
        default(*args)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record

    await initialize(client, root)
    path = root / "net.py"
    uri = open_document(client, path)
    await wait_for_diagnostic(client, uri, "FRZ12")
    await asyncio.sleep(0.5)
    change_document(client, uri, path.read_text("utf-8") + "\n# an edit below it all\n", 2)

    async def first_of_the_edit() -> Optional[list[str]]:
        return next((codes for version, codes in published if version == 2), None)

    # at once, before the runtime rules run again: the static findings of the new text and
    # the runtime findings of the lines that did not change
    codes = await eventually(first_of_the_edit, timeout=10, every=0.01)
    assert "FRZ01" in codes and "FRZ12" in codes, published
