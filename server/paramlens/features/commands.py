"""Commands: ``paramlens.showSummary`` (the full table as Markdown, for every client) and
``paramlens.inspect`` (inspect now, whatever the ``inspect`` setting says)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from paramlens.analysis.render import find_module, summary_markdown, summary_plaintext
from paramlens.log import get_logger

# At run time, not only for type checking: pygls reads command signatures with get_type_hints.
from paramlens.server import ParamlensLanguageServer

if TYPE_CHECKING:
    from paramlens_worker.protocol import ModelReport

logger = get_logger("commands")

SHOW_SUMMARY = "paramlens.showSummary"
INSPECT = "paramlens.inspect"
# For clients that render the table themselves (the VS Code extension's webview).
SHOW_SUMMARY_REPORTS = "paramlens.server.showSummary"


def _string(args: Sequence[Any], index: int) -> Optional[str]:
    value = args[index] if len(args) > index else None
    if isinstance(value, dict):  # some clients wrap arguments: {"uri": ...}
        value = value.get("uri") or value.get("object")
    return value if isinstance(value, str) and value else None


def summary_text(reports: Sequence[ModelReport], object_name: Optional[str], markdown: bool) -> str:
    """The summary of one model (or of every model of the file) as Markdown or plain text."""
    chosen = [r for r in reports if object_name is None or r.get("object") == object_name]
    render = summary_markdown if markdown else summary_plaintext
    return "\n\n".join(render(report) for report in chosen)


def register(server: ParamlensLanguageServer) -> None:
    """Register the commands."""

    @server.command(SHOW_SUMMARY)
    def show_summary(ls: ParamlensLanguageServer, *args: Any) -> str:
        """Arguments: ``uri``, optionally the object name and a submodule path."""
        uri = _string(args, 0)
        state = ls.document(uri) if uri else None
        if state is None:
            return "paramlens: open the file first."
        object_name = _string(args, 1)
        text = summary_text(state.reports, object_name, ls.prefers_markdown())
        module_path = _string(args, 2)
        if text and module_path:
            report = next((r for r in state.reports if r.get("object") == object_name), None)
            entry = find_module(report, module_path) if report is not None else None
            if entry is not None:
                text = f"`{object_name}.{module_path}` is a {entry.get('class')}.\n\n{text}"
        if text:
            return text
        if state.unavailable is not None:
            return f"paramlens: {state.unavailable}."
        if state.inspecting:
            return f"paramlens: {state.name} is being inspected; try again in a moment."
        return f"paramlens: no report for {object_name or state.name} yet."

    @server.command(SHOW_SUMMARY_REPORTS)
    def show_summary_reports(ls: Any, *args: Any) -> dict[str, Any]:
        """Same arguments as ``paramlens.showSummary``; returns the chosen reports as JSON
        (``reports``), the Markdown summary (``markdown``) and the submodule (``focus``)."""
        # `ls: Any`: pygls resolves a command handler's annotations when it is called.
        markdown = show_summary(ls, *args)
        uri = _string(args, 0)
        state = ls.document(uri) if uri else None
        object_name = _string(args, 1)
        reports = [
            r
            for r in (state.reports if state is not None else [])
            if object_name is None or r.get("object") == object_name
        ]
        return {"markdown": markdown, "reports": reports, "focus": _string(args, 2)}

    @server.command(INSPECT)
    async def inspect(ls: ParamlensLanguageServer, *args: Any) -> str:
        """Inspect the document ``uri`` (or every open document) now, bypassing the cache."""
        uri = _string(args, 0)
        uris = [uri] if uri else list(ls.documents)
        done = []
        for target in uris:
            state = ls.document(target)
            if state is None or not ls.can_inspect(state):
                continue
            await ls.inspect_document(target, force=True)
            state = ls.documents.get(target)
            if state is not None and state.inspection is not None:
                done.append(f"{state.name}: {len(state.inspection.reports)} model(s)")
        return "; ".join(done) if done else "paramlens: nothing to inspect"
