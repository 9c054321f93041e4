"""``paramlens.server.showSummary``: the command the VS Code extension's summary webview calls.

Same arguments as the lens command ``paramlens.showSummary`` (uri, object, submodule); answers
with the reports as JSON, the Markdown table and the submodule to focus on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from .helpers import (
    SERVER,
    copy_workspace,
    count_lens_refreshes,
    hover_text,
    initialize,
    open_document,
    wait_for_diagnostic,
    wait_for_lens,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

COMMAND = "paramlens.server.showSummary"
INITIALIZED: dict[str, types.InitializeResult] = {}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_workspace(tmp_path_factory.mktemp("summary_reports"))


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, root: Path) -> AsyncIterator[None]:
    count_lens_refreshes(lsp_client)  # answers workspace/codeLens/refresh, as VS Code does
    INITIALIZED["result"] = await initialize(lsp_client, root)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def net_uri(client: LanguageClient, root: Path) -> str:
    return open_document(client, root / "net.py")


async def run(client: LanguageClient, *arguments: Any) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=COMMAND, arguments=list(arguments))
    )


async def test_advertised_next_to_the_lens_command(client: LanguageClient) -> None:
    provider = INITIALIZED["result"].capabilities.execute_command_provider
    assert provider is not None
    assert {COMMAND, "paramlens.showSummary"} <= set(provider.commands)


@pytest.mark.parametrize(
    ("arguments", "focus"),
    [
        (("net",), None),  # the class lens
        (("net", "fc1"), "fc1"),  # a submodule lens
    ],
)
async def test_reports_markdown_and_focus(
    client: LanguageClient, net_uri: str, arguments: tuple[str, ...], focus: Any
) -> None:
    await wait_for_lens(client, net_uri, "params")
    result = await run(client, net_uri, *arguments)
    assert [report["object"] for report in result["reports"]] == ["net"]
    report = result["reports"][0]
    assert report["totals"]["parameters"] == 58
    names = [p["name"] for p in report["parameters"]] + [b["name"] for b in report["buffers"]]
    assert "fc1.weight" in names and "bn1.running_mean" in names
    assert "Total params: 58" in result["markdown"]
    assert result["focus"] == focus


async def test_without_an_object_every_model_of_the_file(
    client: LanguageClient, net_uri: str
) -> None:
    await wait_for_lens(client, net_uri, "params")
    result = await run(client, net_uri)
    assert "net" in [report["object"] for report in result["reports"]]


async def test_a_file_that_is_not_open_gives_no_reports(client: LanguageClient, root: Path) -> None:
    result = await run(client, (root / "healthy.py").as_uri(), "Healthy")
    assert result["reports"] == []
    assert result["markdown"].startswith("paramlens:")


SCRIPT = """import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
for name, p in model.named_parameters():
    if name.startswith("fc1"):
        p.requires_grad = False
"""


async def test_a_model_built_from_a_torch_class_in_a_script(
    client: LanguageClient, root: Path
) -> None:
    """A script that defines no class: its ``nn.Sequential`` gets a lens, a hover, the
    runtime rule's diagnostic and a summary of its own."""
    path = root / "sequential_script.py"
    path.write_text(SCRIPT)
    uri = open_document(client, path)
    await wait_for_lens(client, uri, "58 params")
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert [(lens.range.start.line, lens.command.title) for lens in lenses if lens.command] == [
        (2, "58 params · 58 trainable"),
        (3, "changes nothing: matches 0 of 4 parameters"),
    ]
    diagnostic = await wait_for_diagnostic(client, uri, "FRZ12")
    assert diagnostic.range.start.line == 4
    assert "matches no parameter of model (Sequential, 4 parameters" in diagnostic.message
    hover = await hover_text(client, uri, 3, SCRIPT.splitlines()[3].index("model") + 1)
    assert "Sequential" in hover and "58" in hover
    result = await run(client, uri, "model")
    assert [report["object"] for report in result["reports"]] == ["model"]
    assert result["reports"][0]["kind"] == "variable"
