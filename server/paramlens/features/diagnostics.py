"""Diagnostics: static rules on every change, runtime-aware rules once a report lands, and
the failures of the user's model (import or build) on the line that failed.

Pull (``textDocument/diagnostic``) when the client supports it and can be told to re-pull
(``workspace/diagnostic/refresh``); ``textDocument/publishDiagnostics`` otherwise.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, cast

from lsprotocol import types

from paramlens.analysis.findings import Finding, Severity, Span
from paramlens.analysis.rules import check_source, workspace_module_classes
from paramlens.log import get_logger
from paramlens.positions import span_to_range

if TYPE_CHECKING:
    from paramlens.server import DocumentState, Inspection, ParamlensLanguageServer

logger = get_logger("diagnostics")

SOURCE = "paramlens"
MODEL_FAILED = "PLM001"  # a model class could not be built
IMPORT_FAILED = "PLM002"  # the file could not be loaded at all
NEEDS_ARGUMENTS = "PLM003"  # a model needs constructor arguments nobody gave
DEBOUNCE_SECONDS = 0.02

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


def _same_file(a: Optional[str], b: Optional[Path]) -> bool:
    if not a or b is None:
        return False
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(str(b)))


def _line_span(lines: Sequence[str], line: Optional[int]) -> Span:
    """The text of a 1-based line (indentation excluded); line 1 when unknown."""
    index = max((line or 1) - 1, 0)
    if index >= len(lines):
        index = max(len(lines) - 1, 0)
    text = lines[index] if lines else ""
    start = len(text) - len(text.lstrip())
    return Span(index, start, index, max(len(text.rstrip()), start))


def _error_text(error: Mapping[str, Any]) -> str:
    kind = error.get("type") or "Error"
    message = str(error.get("message") or "").strip()
    return f"{kind}: {message}" if message else str(kind)


_FAILURE_TEXT = {
    "timeout": "building the models of this file timed out here",
    "memory": "building the models of this file ran out of memory here",
    "crashed": "building the models of this file crashed the inspection process here",
}


def model_findings(
    reports: Sequence[Mapping[str, Any]],
    error: Optional[Mapping[str, Any]],
    path: Optional[Path],
    lines: Sequence[str],
    error_kind: Optional[str] = None,
) -> list[Finding]:
    """Findings for models that could not be built and files that could not be imported.

    The failing frame's line when it is in this file, else the class (or first) line.
    ``error_kind`` is the worker's kind of a failed inspection (``error``, ``timeout``, ...).
    """
    findings: list[Finding] = []
    if error is not None:
        line = error.get("line") if _same_file(error.get("file"), path) else None
        where = "" if line or not error.get("file") else f" ({error['file']}:{error.get('line')})"
        lead = _FAILURE_TEXT.get(error_kind or "error", "paramlens could not load this file")
        findings.append(
            Finding(
                IMPORT_FAILED,
                f"{lead}: {_error_text(error)}{where}",
                Severity.ERROR,
                _line_span(lines, line),
            )
        )
    for report in reports:
        if not _same_file(str(report.get("file") or ""), path):
            continue
        status = report.get("status")
        name = report.get("object", "?")
        if status == "error":
            failure = report.get("error") or {}
            in_file = _same_file(failure.get("file"), path)
            line = failure.get("line") if in_file and failure.get("line") else report.get("line")
            built = report.get("built_as") or f"{name}()"
            findings.append(
                Finding(
                    MODEL_FAILED,
                    f"{built} failed to build: {_error_text(failure)}",
                    Severity.ERROR,
                    _line_span(lines, line),
                )
            )
        elif status == "needs_arguments":
            findings.append(
                Finding(
                    NEEDS_ARGUMENTS,
                    f"{name} needs constructor arguments: add a call such as "
                    f"`model = {name}(...)` with literal arguments, or [tool.paramlens.models] "
                    f'"module:{name}" = "{name}(...)" in pyproject.toml',
                    Severity.INFO,
                    _line_span(lines, report.get("line")),
                )
            )
    return findings


def to_diagnostic(finding: Finding, lines: Sequence[str], encoding: str) -> types.Diagnostic:
    """One finding as an LSP diagnostic in the client's position encoding."""
    related = [
        types.DiagnosticRelatedInformation(
            location=types.Location(uri="", range=span_to_range(span, lines, encoding)),
            message=message,
        )
        for span, message in finding.related
    ]
    return types.Diagnostic(
        range=span_to_range(finding.span, lines, encoding),
        message=finding.message,
        severity=_SEVERITY.get(finding.severity, types.DiagnosticSeverity.Warning),
        code=finding.code,
        code_description=types.CodeDescription(href=finding.url)
        if not finding.code.startswith("PLM")
        else None,
        source=SOURCE,
        related_information=related or None,
    )


def workspace_classes(ls: ParamlensLanguageServer, state: DocumentState) -> frozenset[str]:
    """Module classes the document imports from workspace files (cached per text)."""
    if state.path is None:
        return frozenset()
    key = ("workspace_classes",)
    cached = state.analysis_cache.get(key)
    if cached is None:
        try:
            cached = workspace_module_classes(
                str(state.path), state.source, ls.folder_for(state.path)
            )
        except (OSError, ValueError) as error:
            logger.info("cannot follow the imports of %s: %s", state.name, error)
            cached = frozenset()
        state.analysis_cache[key] = cached
    return cast(frozenset[str], cached)


def findings_for(ls: ParamlensLanguageServer, state: DocumentState) -> list[Finding]:
    """Every finding of a document: static rules, runtime-aware rules, model failures.

    Cached per (text, inspection) on the document.
    """
    inspection: Optional[Inspection] = state.inspection
    key = ("findings", inspection.serial if inspection is not None else 0)
    cached = state.analysis_cache.get(key)
    if cached is not None:
        return list(cached)
    settings = ls.settings_for(state.path)
    reports = state.reports if inspection is not None else None
    path = str(state.path) if state.path else None
    module_classes = set(workspace_classes(ls, state))
    module_classes.update(str(r.get("object")) for r in reports or [])
    result = check_source(
        state.source,
        path=path or state.uri,
        reports=reports,
        select=settings.select,
        ignore=settings.ignore,
        module_classes=sorted(module_classes),
    )
    findings = list(result.findings)
    if result.syntax_error is not None:
        findings.append(result.syntax_error)
    if inspection is not None:
        findings.extend(
            model_findings(
                inspection.reports,
                inspection.error,
                state.path,
                state.source.splitlines(),
                inspection.error_kind,
            )
        )
    state.analysis_cache[key] = tuple(findings)
    return findings


def diagnostics_for(ls: ParamlensLanguageServer, uri: str) -> list[types.Diagnostic]:
    """The diagnostics of an open document (empty if it is not open)."""
    state = ls.document(uri)
    if state is None:
        return []
    try:
        findings = findings_for(ls, state)
    except Exception:  # a rule bug must not take the other diagnostics down
        logger.exception("computing diagnostics for %s failed", state.name)
        return []
    lines = state.source.splitlines()
    encoding = ls.encoding
    diagnostics = [to_diagnostic(f, lines, encoding) for f in findings]
    for diagnostic in diagnostics:
        for info in diagnostic.related_information or []:
            info.location.uri = uri
    return diagnostics


def publish(ls: ParamlensLanguageServer, uri: str) -> None:
    """Push the current diagnostics of ``uri``."""
    state = ls.documents.get(uri)
    if state is None:
        return
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(
            uri=uri, version=state.version, diagnostics=diagnostics_for(ls, uri)
        )
    )


def refresh(ls: ParamlensLanguageServer, uri: str, debounce: bool = False) -> None:
    """The diagnostics of ``uri`` may have changed: push them (debounced), or ask a pull
    client to pull again."""
    if ls.pull_diagnostics:
        if not debounce:
            try:
                ls.workspace_diagnostic_refresh(None)
            except Exception as error:  # the client went away
                logger.debug("diagnostic refresh failed: %r", error)
        return
    timers = ls.diagnostic_timers
    timer = timers.pop(uri, None)
    if timer is not None:
        timer.cancel()
    if not debounce:
        publish(ls, uri)
        return
    loop = asyncio.get_event_loop()

    def fire() -> None:
        timers.pop(uri, None)
        publish(ls, uri)

    timers[uri] = loop.call_later(DEBOUNCE_SECONDS, fire)


def clear(ls: ParamlensLanguageServer, uri: str) -> None:
    """The document closed: drop its diagnostics."""
    timer = ls.diagnostic_timers.pop(uri, None)
    if timer is not None:
        timer.cancel()
    if not ls.pull_diagnostics:
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )


def register_pull(server: ParamlensLanguageServer) -> None:
    """Serve ``textDocument/diagnostic`` (called at ``initialize`` for pull clients)."""

    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(
            identifier=SOURCE, inter_file_dependencies=False, workspace_diagnostics=False
        ),
    )
    def document_diagnostic(
        ls: ParamlensLanguageServer, params: types.DocumentDiagnosticParams
    ) -> types.RelatedFullDocumentDiagnosticReport:
        return types.RelatedFullDocumentDiagnosticReport(
            items=diagnostics_for(ls, params.text_document.uri)
        )


def register(server: ParamlensLanguageServer) -> None:
    """Republish when a report lands."""
    server.on_report(lambda uri: refresh(server, uri))
