"""The freeze rule engine: static rules over ``ast`` (no torch), plus the runtime-aware rules
when model reports are given.

``check_source`` is the one entry point of the CLI and the language server: one ``ast.parse``,
one walk to gather the file's facts, one ordered walk of its scopes. See ``docs/rules/`` for the
rules and how far the analysis goes.
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Sequence

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import PARSE_ERRORS, Finding, Severity, Span, source_lines
from paramlens.analysis.rules.api_calls import ApiRules
from paramlens.analysis.rules.engine import Context, Walker
from paramlens.analysis.rules.facts import FactsMemo, collect_facts
from paramlens.analysis.rules.fixes import fix_all
from paramlens.analysis.rules.iterators import IteratorRules
from paramlens.analysis.rules.modes import ModeRules
from paramlens.analysis.rules.name_filters import NameFilterRules
from paramlens.analysis.rules.ordering import OrderingRules
from paramlens.analysis.rules.receivers import ReceiverRules
from paramlens.analysis.rules.registration import RegistrationRules
from paramlens.analysis.rules.registry import RULES, SYNTAX_ERROR_CODE, RuleInfo, is_enabled
from paramlens.analysis.rules.spelling import SpellingRules
from paramlens.analysis.rules.state_dict import StateDictRules
from paramlens.analysis.rules.suppression import keep
from paramlens.analysis.rules.workspace import workspace_module_classes
from paramlens.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Optional, Union

    from paramlens.analysis.incremental import IncrementalParser
    from paramlens.analysis.rules.memo import WalkMemo
    from paramlens_worker.protocol import ModelReport

__all__ = [
    "RULES",
    "SYNTAX_ERROR_CODE",
    "CheckResult",
    "IncrementalRules",
    "RuleInfo",
    "check_source",
    "fix_all",
    "is_enabled",
    "source_lines",
    "workspace_module_classes",
]

_FAMILIES = (
    StateDictRules,
    ReceiverRules,
    SpellingRules,
    ModeRules,
    IteratorRules,
    OrderingRules,
    ApiRules,
    NameFilterRules,
    RegistrationRules,
)


class IncrementalRules:
    """What the rules keep of one document from one text to the next (an editor's keystrokes):
    a parser that re-parses only what changed, the facts of unchanged statements, and the walks
    of unchanged definitions. For one
    thread at a time; the trees it parses are its own (see :class:`IncrementalParser`)."""

    def __init__(self, filename: str = "<unknown>") -> None:
        # Imported here: the CLI checks each file once and never needs them.
        from paramlens.analysis.incremental import IncrementalParser
        from paramlens.analysis.rules.memo import WalkMemo

        self.parser: IncrementalParser = IncrementalParser(filename, owns_trees=True)
        self.facts = FactsMemo()
        self.walks: WalkMemo = WalkMemo()


class CheckResult(NamedTuple):
    """The findings of one file."""

    findings: tuple[Finding, ...]  # sorted by position; noqa and select/ignore applied
    syntax_error: Optional[Finding]  # code FRZ000, at the error; then ``findings`` is empty


def _syntax_error(error: Exception, lines: Sequence[str]) -> Finding:
    row = max((getattr(error, "lineno", None) or 1) - 1, 0)
    row = min(row, max(len(lines) - 1, 0))
    text = lines[row] if lines else ""
    col = min(max((getattr(error, "offset", None) or 1) - 1, 0), len(text))
    reason = getattr(error, "msg", None) or type(error).__name__
    if isinstance(error, (RecursionError, MemoryError)):
        reason = "too deeply nested to parse"
    return Finding(
        SYNTAX_ERROR_CODE,
        f"SyntaxError: {reason}; no freeze rule ran on this version of the file",
        Severity.ERROR,
        Span(row, col, row, len(text)),
    )


def check_source(
    source: str,
    *,
    tree: Optional[ast.Module] = None,
    path: Optional[str] = None,
    reports: Optional[Sequence[ModelReport]] = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    module_classes: Collection[str] = (),
    incremental: Optional[IncrementalRules] = None,
) -> CheckResult:
    """Run every rule on ``source``.

    ``module_classes`` names classes (and model factories) known to be ``nn.Module`` from other
    workspace files (see :func:`workspace_module_classes`). ``reports`` (from the worker) turns
    on the runtime-aware rules. ``incremental``, the document's own, re-parses and re-walks only
    what changed since its last text (an editor's keystrokes). ``tree``, ``ast.parse(source)``
    when the caller has it, is not parsed again. Never raises on any input text.
    """
    lines = source_lines(source)
    # Parsing and the walk allocate many small objects next to a large tree: cyclic
    # collections would traverse the whole tree again and again for nothing (about a fifth of
    # the parse, a tenth of the walk). Collection resumes once the tree is freed.
    collecting = gc.isenabled()
    gc.disable()
    try:
        found = _findings(source, tree, lines, path, reports, module_classes, incremental)
    finally:
        if collecting:
            gc.enable()
    if isinstance(found, Finding):
        return CheckResult((), found)
    kept = keep(found, lines, select, ignore)
    kept.sort(key=lambda f: (f.span, f.code))
    return CheckResult(tuple(kept), None)


def _findings(
    source: str,
    tree: Optional[ast.Module],
    lines: Sequence[str],
    path: Optional[str],
    reports: Optional[Sequence[ModelReport]],
    module_classes: Collection[str],
    incremental: Optional[IncrementalRules],
) -> Union[list[Finding], Finding]:
    """Every finding of the rules, before noqa and select/ignore; the syntax error instead
    when the source does not parse."""
    if tree is None:
        try:
            if incremental is not None:
                tree = incremental.parser.parse(source)
            else:
                tree = ast.parse(source, filename=path or "<unknown>")
        except PARSE_ERRORS as error:
            return _syntax_error(error, lines)
    memo = incremental.facts if incremental is not None else None
    facts = collect_facts(tree, module_classes, source, memo)
    ctx = Context(source, lines, facts)
    ctx.families.extend(family(ctx) for family in _FAMILIES)
    walker = Walker(ctx)
    # A pathological nesting depth: keep what was found before it. (Not contextlib.suppress:
    # importing contextlib costs ~1 ms of each start of the CLI.)
    try:  # noqa: SIM105
        walker.run(tree, incremental.walks if incremental is not None else None)
    except RecursionError:
        pass
    findings = list(ctx.findings)
    # The families and the walker refer to the context and it to them: untie them, so that
    # all of it (and the tree) is freed at once, not left to the cyclic collector.
    ctx.families.clear()
    walker.hooks.clear()
    del ctx.walker
    if reports is not None:
        runtime = _runtime_findings(tree, source, reports, path)
        # One loop, one finding: where a runtime rule and a static one agree on (code, line),
        # the runtime one wins (computed from the real names: the precise message, a checked fix).
        taken = {(f.code, f.span.start_line) for f in runtime}
        findings = [f for f in findings if (f.code, f.span.start_line) not in taken]
        findings.extend(runtime)
    return findings


def _runtime_findings(
    tree: ast.Module, source: str, reports: Sequence[ModelReport], path: Optional[str]
) -> list[Finding]:
    """The model-aware rules (FRZ11/12/14/15E from real names)."""
    try:
        from paramlens.analysis.rules.runtime import runtime_findings
    except ImportError:
        return []
    return runtime_findings(tree, source, reports, path)
