"""Diagnostics: static rules on every change, runtime-aware rules once a report lands, and
the failures of the user's model (import or build) on the line that failed.

Pull (``textDocument/diagnostic``) when the client supports it and can be told to re-pull
(``workspace/diagnostic/refresh``); ``textDocument/publishDiagnostics`` otherwise.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, cast

from lsprotocol import types

from paramlens.analysis.findings import Finding, Severity, Span
from paramlens.analysis.rules import IncrementalRules, check_source, workspace_module_classes
from paramlens.analysis.rules.workspace import import_lines
from paramlens.analysis.source_map import report_names
from paramlens.log import get_logger
from paramlens.positions import span_to_range
from paramlens.server import Inspection

if TYPE_CHECKING:
    from paramlens.server import DocumentState, ParamlensLanguageServer

logger = get_logger("diagnostics")

SOURCE = "paramlens"
MODEL_FAILED = "PLM001"  # a model class could not be built
IMPORT_FAILED = "PLM002"  # the file could not be loaded at all
NEEDS_ARGUMENTS = "PLM003"  # a model needs constructor arguments nobody gave
# No debounce: the static rules start as soon as an edit arrives (an edit that arrives while
# they run replaces the delivery; its analysis starts when the thread is free).
FULL_AFTER_EDIT_SECONDS = 0.3
# In a text's analysis cache: its full findings are on their way to a pull client (pulls of
# the same text do not postpone them again).
FULL_SCHEDULED = "full_scheduled"

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


@dataclass(frozen=True)
class Snapshot:
    """What the rules see of one document at one moment: immutable, so the rules can run in a
    thread while the event loop keeps answering hovers."""

    source: str
    path: Optional[Path]
    select: tuple[str, ...]
    ignore: tuple[str, ...]
    workspace_classes: tuple[str, ...]  # Module classes imported from workspace files
    inspection: Optional[Inspection] = None  # None: static rules only
    # What the static rules keep between texts: only what changed is parsed and walked again.
    incremental: Optional[IncrementalRules] = field(default=None, compare=False)


def workspace_classes(path: Optional[Path], source: str, root: Optional[str]) -> tuple[str, ...]:
    """Module classes the file imports from workspace files (reads those files)."""
    if path is None:
        return ()
    try:
        return tuple(sorted(workspace_module_classes(str(path), source, root)))
    except (OSError, ValueError) as error:
        logger.info("cannot follow the imports of %s: %s", path.name, error)
        return ()


async def known_workspace_classes(
    ls: ParamlensLanguageServer, state: DocumentState
) -> tuple[str, ...]:
    """:func:`workspace_classes`, recomputed only when the import lines change or a file of
    the workspace was saved (the imported files may define other classes now)."""
    root = ls.folder_for(state.path) if state.path is not None else None
    key = (ls.saves, root, import_lines(state.source))  # what the classes depend on
    cached = state.last_results.get("workspace_classes")
    if cached is not None and cached[0] == key:
        return cast("tuple[str, ...]", cached[1])
    classes = await ls.run_static(workspace_classes, state.path, state.source, root)
    state.last_results["workspace_classes"] = (key, classes)
    return classes


# What the findings of one text depend on besides the text and its report: the settings that
# select rules and the Module classes imported from the workspace.
RulesKey = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


async def rules_key(ls: ParamlensLanguageServer, state: DocumentState) -> RulesKey:
    """``select``, ``ignore`` and the workspace classes of a document, as they are now."""
    settings = ls.settings_for(state.path)
    classes = await known_workspace_classes(ls, state)
    return settings.select, settings.ignore, classes


def findings_key(inspection: Optional[Inspection], rules: RulesKey) -> tuple[Any, ...]:
    """The cache key of the findings of the current text (``inspection``: None for static)."""
    return ("findings", inspection.serial if inspection is not None else 0, rules)


async def snapshot(
    ls: ParamlensLanguageServer,
    state: DocumentState,
    runtime: bool,
    rules: Optional[RulesKey] = None,
) -> Snapshot:
    """The document as the rules should see it now (``runtime``: with its last report;
    ``rules``: its :func:`rules_key`, when the caller has it)."""
    source, inspection = state.source, state.inspection if runtime else None
    select, ignore, classes = rules if rules is not None else await rules_key(ls, state)
    # Only the static rules run one after another on one thread: they alone may use what the
    # rules keep between texts (a parser that moves the nodes of its last tree).
    incremental = state.rules if inspection is None else None
    return Snapshot(source, state.path, select, ignore, classes, inspection, incremental)


def module_classes(snap: Snapshot) -> list[str]:
    """Module classes known from elsewhere: imported from workspace files, and reported."""
    names = set(snap.workspace_classes)
    if snap.inspection is not None:
        names.update(report_names(snap.inspection.reports).modules)
    return sorted(names)


def analyse(snap: Snapshot) -> list[Finding]:
    """Every finding of a snapshot: the rules (runtime-aware ones when it has a report), its
    syntax error, and the failures of its models. Pure."""
    inspection = snap.inspection
    result = check_source(
        snap.source,
        path=str(snap.path) if snap.path else None,
        reports=list(inspection.reports) if inspection is not None else None,
        select=snap.select,
        ignore=snap.ignore,
        module_classes=module_classes(snap),
        incremental=snap.incremental,
    )
    findings = list(result.findings)
    if result.syntax_error is not None:
        findings.append(result.syntax_error)
    if inspection is not None:
        findings.extend(
            model_findings(
                inspection.reports,
                inspection.error,
                snap.path,
                snap.source.splitlines(),
                inspection.error_kind,
            )
        )
    return findings


def _identity(finding: Finding) -> tuple[str, Span, str]:
    return (finding.code, finding.span, finding.message)


def carried_over(
    full: Sequence[Finding], static: Sequence[Finding], old_source: str, new_source: str
) -> list[Finding]:
    """The runtime-only findings of an older text (``full`` minus ``static``) whose lines did
    not change, to show with the new text's static findings until its full analysis lands."""
    static_ids = {_identity(f) for f in static}
    old, new = old_source.splitlines(), new_source.splitlines()

    def same(line: int) -> bool:
        return line < len(old) and line < len(new) and old[line] == new[line]

    return [
        f
        for f in full
        if _identity(f) not in static_ids
        and all(same(line) for line in range(f.span.start_line, f.span.end_line + 1))
    ]


async def _analysed(
    ls: ParamlensLanguageServer,
    state: DocumentState,
    runtime: bool,
    rules: Optional[RulesKey] = None,
) -> list[Finding]:
    """The findings of the current text, static-only or full, computed off the event loop and
    cached per (text, inspection, settings and workspace classes)."""
    snap = await snapshot(ls, state, runtime, rules)
    inspection = snap.inspection
    rules = (snap.select, snap.ignore, snap.workspace_classes)
    key = findings_key(inspection, rules)
    cached = state.analysis_cache.get(key)
    if cached is not None:
        return list(cached)
    # One thread for static and one for runtime analysis: edits in quick succession queue
    # instead of competing for the GIL, and static rules never wait behind runtime ones.
    if inspection is not None:
        loop = asyncio.get_running_loop()
        findings = await loop.run_in_executor(ls.runtime_executor, analyse, snap)
    else:
        findings = await ls.run_static(analyse, snap)
    if state.source == snap.source:
        state.analysis_cache[key] = tuple(findings)
        static = state.analysis_cache.get(findings_key(None, rules))
        if inspection is not None and static is not None:
            # What only the report found, to show on unchanged lines of the next texts.
            state.last_results["runtime_only"] = (
                (snap.source, rules),
                tuple(carried_over(findings, static, snap.source, snap.source)),
            )
    return findings


async def findings_for(ls: ParamlensLanguageServer, state: DocumentState) -> list[Finding]:
    """Every finding of a document, with its last report (code actions use these)."""
    return await _analysed(ls, state, runtime=True)


async def quick_findings(ls: ParamlensLanguageServer, state: DocumentState) -> list[Finding]:
    """What to show at once after an edit: the full findings if they are known for this text,
    else its static findings plus the runtime findings of unchanged lines."""
    rules = await rules_key(ls, state)
    full = state.analysis_cache.get(findings_key(state.inspection, rules))
    if full is not None:
        return list(full)
    static = await _analysed(ls, state, runtime=False, rules=rules)
    runtime_only = state.last_results.get("runtime_only")
    if state.inspection is None or runtime_only is None:
        return static
    (old_source, old_rules), found = runtime_only
    if old_rules != rules:
        return static  # other settings: the old runtime findings may not apply
    return static + carried_over(found, static, old_source, state.source)


def to_diagnostics(
    ls: ParamlensLanguageServer, state: DocumentState, findings: Sequence[Finding]
) -> list[types.Diagnostic]:
    """Findings of a document as diagnostics in the client's encoding."""
    lines = state.source.splitlines()
    diagnostics = [to_diagnostic(f, lines, ls.encoding) for f in findings]
    for diagnostic in diagnostics:
        for info in diagnostic.related_information or []:
            info.location.uri = state.uri
    return diagnostics


async def _deliver(
    ls: ParamlensLanguageServer,
    uri: str,
    full_wanted_after: float = 0.0,
    repull: bool = False,
    quick_done: Optional[Callable[[], None]] = None,
) -> None:
    """Push (or have pulled) the quick findings, then the full ones when a report exists.
    ``repull``: a pull client must pull even if there is no report (the settings changed).
    ``quick_done``: called once the quick findings are known."""
    state = ls.document(uri)
    if state is None:
        return
    version, source = state.version, state.source
    quick = await quick_findings(ls, state)
    if quick_done is not None:
        quick_done()
    if state.source != source:
        return  # a newer edit has its own delivery
    if not ls.pull_diagnostics:
        _publish(ls, state, version, quick)
    if state.inspection is None:
        if ls.pull_diagnostics and repull:
            _ask_to_pull(ls)
        return
    if full_wanted_after:
        await asyncio.sleep(full_wanted_after)  # runtime rules wait for a pause in typing
    full = await findings_for(ls, state)
    if state.source != source:
        return
    if ls.pull_diagnostics:
        _ask_to_pull(ls)
    elif full != quick:
        _publish(ls, state, version, full)


def _publish(
    ls: ParamlensLanguageServer,
    state: DocumentState,
    version: Optional[int],
    findings: Sequence[Finding],
) -> None:
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(
            uri=state.uri, version=version, diagnostics=to_diagnostics(ls, state, findings)
        )
    )


def _ask_to_pull(ls: ParamlensLanguageServer) -> None:
    try:
        ls.workspace_diagnostic_refresh(None)
    except Exception as error:  # the client went away
        logger.debug("diagnostic refresh failed: %r", error)


def refresh(
    ls: ParamlensLanguageServer,
    uri: str,
    debounce: bool = False,
    after_pull: bool = False,
    repull: bool = False,
) -> None:
    """The diagnostics of ``uri`` may have changed: deliver them (debounced after edits).

    A newer delivery replaces one still computing. A pull client pulls by itself after edits;
    it is told to pull again once the runtime findings are ready (``after_pull``: it just
    pulled the quick ones), a report lands, or at once with ``repull`` (settings changed)."""
    if ls.pull_diagnostics and debounce:
        return  # the client pulls after each edit
    tasks = ls.diagnostic_tasks
    previous = tasks.pop(uri, None)
    if previous is not None:
        previous.cancel()
    state = ls.documents.get(uri)
    if after_pull and state is not None:
        state.analysis_cache[FULL_SCHEDULED] = True
    # From the edit on, source maps (lenses, hovers) wait for its static findings.
    release_maps = ls.hold_maps() if debounce else None

    async def deliver() -> None:
        try:
            if debounce:
                await asyncio.sleep(0)  # edits already read in the same batch: only the last
            pause = FULL_AFTER_EDIT_SECONDS if debounce or after_pull else 0.0
            await _deliver(ls, uri, pause, repull, release_maps)
        except asyncio.CancelledError:
            raise
        except Exception:  # a rule bug must not take the server down: the log has it
            logger.exception("diagnostics of %s failed", uri)
        finally:
            if tasks.get(uri) is task:
                del tasks[uri]
                if state is not None:
                    state.analysis_cache.pop(FULL_SCHEDULED, None)

    task = asyncio.ensure_future(deliver())
    tasks[uri] = task
    if release_maps is not None:
        # Also when the task is cancelled before it ever ran (its ``finally`` never does).
        task.add_done_callback(lambda _: release_maps())


async def workspace_saved(ls: ParamlensLanguageServer) -> None:
    """A file was saved: the Module classes each open document imports from the workspace may
    differ now; deliver the diagnostics of those whose classes changed."""
    ls.saves += 1
    for uri, state in list(ls.documents.items()):
        before = state.last_results.get("workspace_classes")
        try:
            classes = await known_workspace_classes(ls, state)
        except Exception:  # a bug here must not take the server down: the log has it
            logger.exception("workspace classes of %s failed", uri)
            continue
        if before is not None and before[1] != classes:
            refresh(ls, uri, repull=True)


def clear(ls: ParamlensLanguageServer, uri: str) -> None:
    """The document closed: drop its diagnostics."""
    task = ls.diagnostic_tasks.pop(uri, None)
    if task is not None:
        task.cancel()
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
    async def document_diagnostic(
        ls: ParamlensLanguageServer, params: types.DocumentDiagnosticParams
    ) -> types.RelatedFullDocumentDiagnosticReport:
        uri = params.text_document.uri
        state = ls.document(uri)
        items: list[types.Diagnostic] = []
        if state is not None:
            full_known = True
            try:
                items = to_diagnostics(ls, state, await quick_findings(ls, state))
                full_known = state.inspection is None or (
                    findings_key(state.inspection, await rules_key(ls, state))
                    in state.analysis_cache
                )
            except Exception:  # a rule bug must not fail the request: the log has it
                logger.exception("diagnostics of %s failed", uri)
            if not full_known and FULL_SCHEDULED not in state.analysis_cache:
                refresh(ls, uri, after_pull=True)  # the full findings, then a re-pull
        return types.RelatedFullDocumentDiagnosticReport(items=items)


def register(server: ParamlensLanguageServer) -> None:
    """Republish when a report lands."""
    server.on_report(lambda uri: refresh(server, uri))
