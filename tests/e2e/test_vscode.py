"""The acceptance model through the real server and worker, as VS Code (1.65 profile) asks:
UTF-16 positions, pushed diagnostics, code lens refresh, Markdown hovers, progress."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from paramlens.analysis.findings import TextEdit, apply_edits
from paramlens.positions import range_to_span

from .helpers import (
    SERVER,
    change_document,
    copy_workspace,
    count_lens_refreshes,
    hover_text,
    initialize,
    open_document,
    token_position,
    wait_for_diagnostic,
    wait_for_lens,
)

INITIALIZED: dict[str, types.InitializeResult] = {}
LENS_REFRESHES: list[list[int]] = []

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_workspace(tmp_path_factory.mktemp("vscode"))


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, root: Path) -> AsyncIterator[None]:
    LENS_REFRESHES.extend([count_lens_refreshes(lsp_client)])
    INITIALIZED["result"] = await initialize(lsp_client, root)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def net_uri(client: LanguageClient, root: Path) -> str:
    return open_document(client, root / "net.py")


def net(root: Path) -> Path:
    return root / "net.py"


async def test_capabilities(client: LanguageClient) -> None:
    result = INITIALIZED["result"]
    capabilities = result.capabilities
    assert result.server_info is not None and result.server_info.name == "paramlens"
    assert capabilities.position_encoding == types.PositionEncodingKind.Utf16
    assert capabilities.hover_provider and capabilities.code_lens_provider
    assert capabilities.diagnostic_provider is None  # VS Code 1.65 cannot pull: push instead
    assert capabilities.execute_command_provider is not None
    assert set(capabilities.execute_command_provider.commands) >= {
        "paramlens.showSummary",
        "paramlens.inspect",
    }
    kinds = capabilities.code_action_provider.code_action_kinds  # type: ignore[union-attr]
    assert "quickfix" in kinds and "source.fixAll.paramlens" in kinds


async def test_lenses_above_class_submodules_and_freeze_loops(
    client: LanguageClient, root: Path, net_uri: str
) -> None:
    titles = await wait_for_lens(client, net_uri, "params")
    assert "58 params · 58 trainable · 7 buffer values" in titles
    assert "Linear · 52 params · 52 trainable" in titles
    assert "BatchNorm1d · 6 params · 6 trainable · 7 buffer values" in titles
    assert "freezes 2 of 4 parameter tensors · 52 of 58 parameters" in titles
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=net_uri))
    )
    class_line = next(
        i for i, t in enumerate(net(root).read_text().splitlines()) if t.startswith("class net")
    )
    by_title = {lens.command.title: lens for lens in lenses if lens.command}
    assert by_title["58 params · 58 trainable · 7 buffer values"].range.start.line == class_line
    assert all(lens.command.command == "paramlens.showSummary" for lens in lenses if lens.command)
    assert LENS_REFRESHES[0][0] >= 1  # the client was told to re-request when the report landed


async def test_summary_command_returns_the_full_table(client: LanguageClient, net_uri: str) -> None:
    await wait_for_lens(client, net_uri, "params")
    text = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="paramlens.showSummary",
            arguments=[net_uri, "net"],
        )
    )
    assert "Total params: 58" in text
    assert "`fc1.weight`" in text and "[4, 12]" in text
    assert "|" in text  # a Markdown table


@pytest.mark.parametrize(
    ("line_text", "token", "expected"),
    [
        ("self.fc1 =", "fc1", ["Linear", "[4, 12]", "[4]", "52 parameters"]),
        ("x = self.bn1(", "bn1", ["BatchNorm1d", "running_mean", "6 parameters"]),
        ("class net", "net", ["58"]),
        ("print(model.fc1.weight", "weight", ["[4, 12]", "float32", "requires_grad=True"]),
        ("print(model.fc1.weight.shape, model.bn1.running_mean", "running_mean", ["buffer", "[3]"]),
        ("for name, p in model.named_parameters():", "named_parameters", ["fc1.weight"]),
        ("model.state_dict().items()", "state_dict", ["keep_vars"]),
        ("torch.optim.SGD(model.parameters()", "parameters", ["4 parameters", "58"]),
        ("for b in model.buffers()", "buffers", ["running_mean", "num_batches_tracked"]),
        ("model.named_buffers()", "named_buffers", ["bn1.running_var"]),
    ],
)
async def test_hover(
    client: LanguageClient,
    root: Path,
    line_text: str,
    token: str,
    expected: list[str],
    net_uri: str,
) -> None:
    await wait_for_lens(client, net_uri, "params")
    position = token_position(net(root), line_text, token)
    text = await hover_text(client, net_uri, position.line, position.character)
    for fragment in expected:
        assert fragment in text, (fragment, text)


async def test_hover_on_name_filters_says_what_they_match(
    client: LanguageClient, root: Path, net_uri: str
) -> None:
    await wait_for_lens(client, net_uri, "params")
    fc1 = token_position(net(root), 'if "fc1" in name', "fc1")
    fc2 = token_position(net(root), 'if "fc2" in name', "fc2")
    matching = await hover_text(client, net_uri, fc1.line, fc1.character)
    nothing = await hover_text(client, net_uri, fc2.line, fc2.character)
    assert "fc1.weight" in matching and "fc1.bias" in matching
    assert "matches 2 of the 4 names" in matching, matching
    assert "matches 0 of the 4 names" in nothing, nothing


async def test_state_dict_freeze_is_flagged_and_its_quick_fix_works(
    client: LanguageClient, root: Path, net_uri: str
) -> None:
    uri = net_uri
    diagnostic = await wait_for_diagnostic(client, uri, "FRZ01")
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    source = net(root).read_text("utf-8")
    assert diagnostic.range.start.line == next(
        i for i, t in enumerate(source.splitlines()) if "state_dict()" in t
    ) or diagnostic.range.start.line == 1 + next(
        i for i, t in enumerate(source.splitlines()) if "state_dict()" in t
    )
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    fixes = [a for a in actions or [] if isinstance(a, types.CodeAction) and a.kind == "quickfix"]
    assert fixes, actions
    fix = fixes[0]
    assert fix.edit is not None
    edits = [
        TextEdit(range_to_span(e.range, source.splitlines(), "utf-16"), e.new_text)
        for change in fix.edit.document_changes or []
        for e in change.edits  # type: ignore[union-attr]
    ] or [
        TextEdit(range_to_span(e.range, source.splitlines(), "utf-16"), e.new_text)
        for e in (fix.edit.changes or {}).get(uri, [])
    ]
    fixed = apply_edits(source, edits)
    assert "named_parameters()" in fixed and fixed != source
    compile(fixed, "net.py", "exec")


async def test_filter_that_matches_nothing_is_flagged_once_the_report_lands(
    client: LanguageClient, root: Path, net_uri: str
) -> None:
    uri = net_uri
    diagnostic = await wait_for_diagnostic(client, uri, "FRZ12")
    fc2 = token_position(net(root), 'if "fc2" in name', "fc2")
    assert diagnostic.range.start.line <= fc2.line <= diagnostic.range.end.line
    assert "fc1" not in [d.code for d in client.diagnostics[uri]]
    # the "fc1" filter matches: it is not flagged
    fc1 = token_position(net(root), 'if "fc1" in name', "fc1")
    assert not [
        d
        for d in client.diagnostics[uri]
        if d.code == "FRZ12" and d.range.start.line <= fc1.line <= d.range.end.line
    ]


async def test_fix_all_source_action(client: LanguageClient, root: Path, net_uri: str) -> None:
    uri = net_uri
    await wait_for_diagnostic(client, uri, "FRZ01")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(
                start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
            ),
            context=types.CodeActionContext(diagnostics=[], only=["source.fixAll"]),
        )
    )
    kinds = [a.kind for a in actions or [] if isinstance(a, types.CodeAction)]
    assert kinds == ["source.fixAll.paramlens"]


async def test_progress_was_reported_for_worker_start_and_inspection(
    client: LanguageClient, root: Path, net_uri: str
) -> None:
    await wait_for_lens(client, net_uri, "params")
    begins = [
        value
        for values in client.progress_reports.values()
        for value in values
        if isinstance(value, types.WorkDoneProgressBegin)
    ]
    # pre-warmed at initialize: the workspace has files that import torch
    assert any(
        b.title == "paramlens: starting the worker" and b.message == root.name for b in begins
    )
    assert all(b.title.startswith("paramlens") for b in begins)
    ends = [
        token
        for token, values in client.progress_reports.items()
        if values and isinstance(values[-1], types.WorkDoneProgressEnd)
    ]
    assert len(ends) == len(client.progress_reports)


async def test_utf16_positions_after_cjk_and_emoji(client: LanguageClient, root: Path) -> None:
    path = root / "unicode_net.py"
    uri = open_document(client, path)
    diagnostic = await wait_for_diagnostic(client, uri, "FRZ03")
    target = token_position(path, 'label = "模型🙂"', "model")
    assert diagnostic.range.start == target  # UTF-16: the emoji counts 2
    head = token_position(path, 'note = "模型🙂"', "head")
    await wait_for_lens(client, uri, "params")
    text = await hover_text(client, uri, head.line, head.character)
    assert "Linear" in text and "[2, 3]" in text


async def test_edit_updates_static_diagnostics(
    client: LanguageClient, root: Path, net_uri: str
) -> None:
    uri = net_uri
    await wait_for_diagnostic(client, uri, "FRZ01")
    source = net(root).read_text("utf-8")
    fixed = source.replace(".state_dict().items()", ".named_parameters()")
    change_document(client, uri, fixed, version=2)

    async def gone() -> bool:
        return not [d for d in client.diagnostics.get(uri, []) if d.code == "FRZ01"]

    from .helpers import eventually

    assert await eventually(gone, timeout=5)
    change_document(client, uri, source, version=3)
    await wait_for_diagnostic(client, uri, "FRZ01", timeout=5)


async def test_the_server_process_never_loads_torch(client: LanguageClient, net_uri: str) -> None:
    await wait_for_lens(client, net_uri, "params")
    server_pid = client._server.pid  # type: ignore[union-attr]
    maps = Path(f"/proc/{server_pid}/maps").read_text()
    assert "libtorch" not in maps and "/torch/" not in maps


async def test_summary_with_reports_for_clients_that_draw_tables(
    client: LanguageClient, net_uri: str
) -> None:
    await wait_for_lens(client, net_uri, "params")
    answer = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="paramlens.server.showSummary", arguments=[net_uri, "net", "fc1"]
        )
    )
    assert answer["focus"] == "fc1"
    assert [r["object"] for r in answer["reports"]] == ["net"]
    assert answer["reports"][0]["totals"]["parameters"] == 58
    assert "Total params: 58" in answer["markdown"]
