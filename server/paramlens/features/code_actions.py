"""Code actions: the quick fix of every finding that has a certain fix, and
``source.fixAll.paramlens`` applying all of them at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Optional

from lsprotocol import types

from paramlens.analysis.findings import Finding, Span, TextEdit
from paramlens.analysis.rules import fix_all
from paramlens.features.diagnostics import findings_for, to_diagnostic
from paramlens.log import get_logger
from paramlens.positions import range_to_span, span_to_range

if TYPE_CHECKING:
    from paramlens.server import DocumentState, ParamlensLanguageServer

logger = get_logger("code_actions")

FIX_ALL = "source.fixAll.paramlens"
KINDS = [types.CodeActionKind.QuickFix, types.CodeActionKind.SourceFixAll, FIX_ALL]


def overlaps(a: Span, b: Span) -> bool:
    """Whether two spans touch (an empty request range on a finding counts)."""
    return (a.start_line, a.start_col) <= (b.end_line, b.end_col) and (
        b.start_line,
        b.start_col,
    ) <= (a.end_line, a.end_col)


def wants(only: Optional[Sequence[str]], kind: str) -> bool:
    """Whether ``context.only`` admits ``kind`` (a prefix admits its sub-kinds)."""
    if not only:
        return kind != FIX_ALL
    return any(kind == want or kind.startswith(want + ".") for want in only)


def workspace_edit(
    ls: ParamlensLanguageServer, state: DocumentState, edits: Sequence[TextEdit]
) -> types.WorkspaceEdit:
    """Edits of one document, versioned when the client takes ``documentChanges``."""
    lines = state.source.splitlines()
    text_edits = [
        types.TextEdit(range=span_to_range(e.span, lines, ls.encoding), new_text=e.new_text)
        for e in edits
    ]
    if ls.client_supports("workspace", "workspace_edit", "document_changes"):
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=state.uri, version=state.version
                    ),
                    edits=list(text_edits),
                )
            ]
        )
    return types.WorkspaceEdit(changes={state.uri: list(text_edits)})


def fix_all_edits(source: str, findings: Sequence[Finding]) -> list[TextEdit]:
    """One edit replacing the document with every certain fix applied (none if nothing
    changes)."""
    fixed = fix_all(source, list(findings))
    if fixed == source:
        return []
    lines = source.splitlines()
    end = Span(len(lines), 0, len(lines), 0)
    return [TextEdit(Span(0, 0, end.end_line, end.end_col), fixed)]


async def code_actions(
    ls: ParamlensLanguageServer, state: DocumentState, params: types.CodeActionParams
) -> list[types.CodeAction]:
    """The actions for a range of one document."""
    findings = await findings_for(ls, state)
    lines = state.source.splitlines()
    wanted = range_to_span(params.range, lines, ls.encoding)
    only = params.context.only
    actions: list[types.CodeAction] = []
    if wants(only, types.CodeActionKind.QuickFix):
        for finding in findings:
            if finding.fix is None or not overlaps(finding.span, wanted):
                continue
            actions.append(
                types.CodeAction(
                    title=finding.fix.title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[to_diagnostic(finding, lines, ls.encoding)],
                    edit=workspace_edit(ls, state, finding.fix.edits),
                    is_preferred=True,
                )
            )
    if wants(only, FIX_ALL) and any(f.fix is not None for f in findings):
        edits = fix_all_edits(state.source, findings)
        if edits:
            actions.append(
                types.CodeAction(
                    title="paramlens: fix all certain problems",
                    kind=FIX_ALL,
                    edit=workspace_edit(ls, state, edits),
                )
            )
    return actions


def register(server: ParamlensLanguageServer) -> None:
    """Register ``textDocument/codeAction``."""

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=KINDS, resolve_provider=False),
    )
    async def code_action(
        ls: ParamlensLanguageServer, params: types.CodeActionParams
    ) -> list[types.CodeAction]:
        try:
            state = ls.document(params.text_document.uri)
            return await code_actions(ls, state, params) if state is not None else []
        except Exception:  # never fail the request: the log has the bug
            logger.exception("code actions of %s failed", params.text_document.uri)
            return []
