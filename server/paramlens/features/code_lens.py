"""Code lenses: totals above each Module class, each submodule assignment in ``__init__`` and
each freeze loop; ``workspace/codeLens/refresh`` when a report lands.

Every lens runs ``paramlens.showSummary`` (the full table as Markdown). Lenses never wait for an
inspection: before a report lands a class says it is being inspected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from lsprotocol import types

from paramlens.analysis.filters import freeze_effect
from paramlens.analysis.findings import Span
from paramlens.analysis.render import (
    class_lens_title,
    find_module,
    freeze_loop_lens_title,
    submodule_lens_title,
)
from paramlens.analysis.source_map import SourceMap, report_for
from paramlens.log import get_logger
from paramlens.positions import span_to_range
from paramlens_worker.protocol import ModelReport, is_variable_report, variable_key

if TYPE_CHECKING:
    from paramlens.server import DocumentState, ParamlensLanguageServer

logger = get_logger("code_lens")

SHOW_SUMMARY = "paramlens.showSummary"


def _lens(
    span: Span, title: str, lines: Sequence[str], encoding: str, arguments: list[Any]
) -> types.CodeLens:
    return types.CodeLens(
        range=span_to_range(span, lines, encoding),
        command=types.Command(title=title, command=SHOW_SUMMARY, arguments=arguments),
    )


def pending_title(state: DocumentState, never: Optional[str], mode: str) -> str:
    """What a class lens says before its numbers arrive (``never``: why they never will)."""
    if never is not None:
        return f"paramlens: {never}"
    if state.unavailable is not None:
        return f"paramlens: {state.unavailable}"
    if state.inspecting or (state.inspection is None and mode == "onOpen"):
        return "paramlens: inspecting…"
    if state.inspection is not None and state.inspection.error is not None:
        error = state.inspection.error
        return f"paramlens: could not load the file: {error.get('type')}: {error.get('message')}"
    if state.inspection is not None:
        return "paramlens: not built (no report for this class)"
    return "paramlens: not inspected yet (run paramlens.inspect)"


def code_lenses(
    source_map: SourceMap,
    reports: Sequence[ModelReport],
    path: Optional[str],
    uri: str,
    lines: Sequence[str],
    encoding: str,
    pending: str,
) -> list[types.CodeLens]:
    """The lenses of one document (pure: the source map, the reports and the text)."""
    lenses: list[types.CodeLens] = []
    for cls in source_map.classes:
        report = report_for(reports, cls.name, path)
        title = class_lens_title(report) if report is not None else pending
        span = Span(cls.line, 0, cls.line, 0)
        lenses.append(_lens(span, title, lines, encoding, [uri, cls.name]))
    for factory in source_map.factories:
        report = report_for(reports, factory.name, path)
        if report is not None:
            span = Span(factory.line, 0, factory.line, 0)
            lenses.append(
                _lens(span, class_lens_title(report), lines, encoding, [uri, factory.name])
            )
    for binding in source_map.bindings:
        # A variable's model (``model = nn.Sequential(...)``), on the line that binds it
        if binding.object is None or binding.object != variable_key(binding.scope, binding.name):
            continue
        report = report_for(reports, binding.object, path)
        if report is not None and is_variable_report(report):
            span = Span(binding.line, 0, binding.line, 0)
            lenses.append(
                _lens(span, class_lens_title(report), lines, encoding, [uri, binding.object])
            )
    for assignment in source_map.submodules:
        report = report_for(reports, assignment.class_name, path)
        if report is None or report.get("status") != "ok":
            continue
        entry = find_module(report, assignment.attr)
        if entry is None:
            continue
        lenses.append(
            _lens(
                assignment.span,
                submodule_lens_title(entry),
                lines,
                encoding,
                [uri, assignment.class_name, assignment.attr],
            )
        )
    for loop in source_map.loops:
        report = report_for(reports, loop.object, path)
        if report is None or report.get("status") != "ok":
            continue
        effect = freeze_effect(loop, report)
        if effect is None:
            continue
        lenses.append(
            _lens(
                loop.span,
                freeze_loop_lens_title(effect),
                lines,
                encoding,
                [uri, loop.object, loop.receiver_path],
            )
        )
    return lenses


def refresh(ls: ParamlensLanguageServer) -> None:
    """Ask the client to re-request lenses, when it can be asked."""
    if not ls.client_supports("workspace", "code_lens", "refresh_support"):
        return
    try:
        ls.workspace_code_lens_refresh(None)
    except Exception as error:  # the client went away
        logger.debug("codeLens refresh failed: %r", error)


def register(server: ParamlensLanguageServer) -> None:
    """Register ``textDocument/codeLens`` and the refresh on new reports."""

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False))
    async def code_lens(
        ls: ParamlensLanguageServer, params: types.CodeLensParams
    ) -> list[types.CodeLens]:
        try:
            state = ls.document(params.text_document.uri)
            if state is None:
                return []
            source_map = await ls.source_map_of(state)
            if source_map is None:
                return []
            mode = ls.settings_for(state.path).inspect
            return code_lenses(
                source_map,
                state.reports,
                str(state.path) if state.path else None,
                state.uri,
                state.source.splitlines(),
                ls.encoding,
                pending_title(state, ls.why_not_inspected(state), mode),
            )
        except Exception:  # lenses never fail the request: the log has the bug
            logger.exception("code lenses of %s failed", params.text_document.uri)
            return []

    server.on_report(lambda uri: refresh(server))
