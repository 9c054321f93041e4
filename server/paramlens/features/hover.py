"""Hover: class names, ``self.<sub>``, attribute chains on built models, collection calls and
name-filter strings, from the last report of the document. Never waits for an inspection and
never fails the request: before a report lands the hover says so."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from lsprotocol import types

from paramlens.analysis.render import hover_markdown, hover_plaintext
from paramlens.analysis.source_map import HoverTarget, report_for, target_at
from paramlens.log import get_logger
from paramlens.positions import from_position, span_to_range

if TYPE_CHECKING:
    from paramlens.server import DocumentState, ParamlensLanguageServer

logger = get_logger("hover")


def waiting_text(state: DocumentState, target: HoverTarget, never: Optional[str]) -> Optional[str]:
    """What a hover says when there is no report for the target's model (yet); ``never``:
    why there will be none."""
    if target.object is None:
        return None
    if never is None:
        never = state.unavailable
    if never is not None:
        return f"{target.object}: {never}"
    if state.inspecting or state.inspection is None:
        return f"{target.object}: being inspected — the numbers appear when the model is built"
    if state.inspection.error is not None:
        error = state.inspection.error
        return f"{target.object}: the file could not be loaded — {error.get('type')}: " + str(
            error.get("message")
        )
    return None


async def hover_at(
    ls: ParamlensLanguageServer, state: DocumentState, position: types.Position
) -> Optional[types.Hover]:
    """The hover of one position (None: nothing to say)."""
    source_map = await ls.source_map_of(state)
    if source_map is None:
        return None
    lines = state.source.splitlines()
    line, col = from_position(lines, position, ls.encoding)

    target = target_at(source_map, line, col)
    if target is None:
        return None
    markdown = ls.prefers_markdown()
    path = str(state.path) if state.path else None
    report = report_for(state.reports, target.object, path)
    text: Optional[str] = None
    if report is not None:
        text = (hover_markdown if markdown else hover_plaintext)(target, report)
    else:
        text = waiting_text(state, target, ls.why_not_inspected(state))
    if not text:
        return None
    return types.Hover(
        contents=types.MarkupContent(
            kind=types.MarkupKind.Markdown if markdown else types.MarkupKind.PlainText,
            value=text,
        ),
        range=span_to_range(target.span, lines, ls.encoding),
    )


def register(server: ParamlensLanguageServer) -> None:
    """Register ``textDocument/hover``."""

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(
        ls: ParamlensLanguageServer, params: types.HoverParams
    ) -> Optional[types.Hover]:
        try:
            state = ls.document(params.text_document.uri)
            if state is None:
                return None
            return await hover_at(ls, state, params.position)
        except Exception:  # a hover never fails the request: the log has the bug
            logger.exception("hover in %s failed", params.text_document.uri)
            return None
