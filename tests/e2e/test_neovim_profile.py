"""The Neovim (0.11 profile) client: it offers UTF-8 first, so positions are UTF-8 byte columns;
it can pull diagnostics but cannot be asked to re-pull, so diagnostics are pushed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from .helpers import (
    SERVER,
    copy_workspace,
    hover_text,
    initialize,
    lens_titles,
    open_document,
    token_position,
    wait_for_diagnostic,
    wait_for_lens,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
INITIALIZED: dict[str, types.InitializeResult] = {}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_workspace(tmp_path_factory.mktemp("neovim"))


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, root: Path) -> AsyncIterator[None]:
    INITIALIZED["result"] = await initialize(lsp_client, root, profile="neovim")
    yield
    await lsp_client.shutdown_session()


async def test_utf8_is_negotiated_and_diagnostics_are_pushed(client: LanguageClient) -> None:
    capabilities = INITIALIZED["result"].capabilities
    assert capabilities.position_encoding == types.PositionEncodingKind.Utf8
    assert capabilities.diagnostic_provider is None


async def test_diagnostic_columns_are_utf8_bytes_after_cjk_and_emoji(
    client: LanguageClient, root: Path
) -> None:
    path = root / "unicode_net.py"
    uri = open_document(client, path)
    diagnostic = await wait_for_diagnostic(client, uri, "FRZ03")
    line = next(t for t in path.read_text("utf-8").splitlines() if t.startswith("label ="))
    byte_column = len(line[: line.index("model")].encode("utf-8"))
    assert diagnostic.range.start.character == byte_column
    assert diagnostic.range.start == token_position(path, "label =", "model", "utf-8")


async def test_hover_at_utf8_column(client: LanguageClient, root: Path) -> None:
    path = root / "unicode_net.py"
    uri = path.as_uri()
    await wait_for_lens(client, uri, "params")
    head = token_position(path, 'note = "模型🙂"', "head", "utf-8")
    text = await hover_text(client, uri, head.line, head.character)
    assert "Linear" in text and "[2, 3]" in text
    # the same column counted in UTF-16 lands elsewhere on the line: not on `head`
    wrong = token_position(path, 'note = "模型🙂"', "head", "utf-16")
    assert wrong.character != head.character
    assert "[2, 3]" not in await hover_text(client, uri, wrong.line, wrong.character)


async def test_lenses_of_the_acceptance_model(client: LanguageClient, root: Path) -> None:
    uri = open_document(client, root / "net.py")
    titles = await wait_for_lens(client, uri, "params")
    assert "58 params · 58 trainable · 7 buffer values" in titles


async def test_tied_non_persistent_and_frozen_marks(client: LanguageClient, root: Path) -> None:
    source = Path(__file__).parent.parent.parent / "examples" / "tied_lm.py"
    path = root / "tied_lm.py"
    path.write_text(source.read_text("utf-8"), "utf-8")
    uri = open_document(client, path)
    await wait_for_lens(client, uri, "params")
    cls = token_position(path, "class TiedLM", "TiedLM", "utf-8")
    text = await hover_text(client, uri, cls.line, cls.character)
    decoder = token_position(path, "self.decoder = ", "decoder", "utf-8")
    assert "tied" in (await hover_text(client, uri, decoder.line, decoder.character)).lower()
    assert "TiedLM" in text
    summary = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="paramlens.showSummary", arguments=[uri, "TiedLM"])
    )
    lowered = summary.lower()
    assert "tied" in lowered and "non-persistent" in lowered and "frozen" in lowered, summary


async def test_untitled_buffer_gets_static_diagnostics_and_says_why_no_numbers(
    client: LanguageClient, root: Path
) -> None:
    uri = "untitled:Untitled-1"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id="python",
                version=1,
                text=(root / "net.py").read_text("utf-8"),
            )
        )
    )
    await wait_for_diagnostic(client, uri, "FRZ01", timeout=10)
    titles = await lens_titles(client, uri)
    assert titles and all("save the file" in title for title in titles), titles
