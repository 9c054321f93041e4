"""Certain fixes as text edits (pure), and applying every non-overlapping fix of a file."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from paramlens.analysis.findings import Finding, Fix, Span, TextEdit

if TYPE_CHECKING:
    from paramlens.analysis.rules.engine import Context


def replace_node(ctx: Context, node: ast.AST, new_text: str, title: str) -> Fix:
    """A fix replacing the source of ``node`` with ``new_text``."""
    return Fix(title, (TextEdit(ctx.span(node), new_text),))


def call_method_instead(ctx: Context, stmt: ast.AST, receiver: ast.AST, method: str,
                        value: ast.AST) -> Fix:  # fmt: skip
    """``X.attr = V`` -> ``X.method(V)``."""
    new = f"{ctx.text(receiver)}.{method}({ctx.text(value)})"
    return replace_node(ctx, stmt, new, f"Call `{method}({ctx.text(value)})` instead")


def rename_attribute(ctx: Context, node: ast.Attribute, new_attr: str, title: str) -> Fix:
    """Replace the attribute name of ``node`` (the text after the last dot)."""
    span = ctx.span(node)
    start = Span(span.end_line, span.end_col - len(node.attr), span.end_line, span.end_col)
    return Fix(title, (TextEdit(start, new_attr),))


def _overlaps(a: Span, b: Span) -> bool:
    return (a.start_line, a.start_col) < (b.end_line, b.end_col) and (
        b.start_line,
        b.start_col,
    ) < (a.end_line, a.end_col)


def fix_all(source: str, findings: Sequence[Finding]) -> str:
    """Apply every fix whose edits overlap no edit of an earlier fix (in position order).

    Identical edits offered by several findings (two sinks of one loop) are applied once.
    """
    accepted: list[TextEdit] = []
    seen: set[TextEdit] = set()
    for finding in sorted(findings, key=lambda f: f.span):
        if finding.fix is None:
            continue
        edits = [e for e in finding.fix.edits if e not in seen]
        if not edits:
            continue
        if any(_overlaps(e.span, a.span) or e.span == a.span for e in edits for a in accepted):
            continue
        accepted.extend(edits)
        seen.update(edits)
    return _apply(source, accepted) if accepted else source


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _apply(source: str, edits: Sequence[TextEdit]) -> str:
    """Apply non-overlapping edits, counting lines as Python does (``\n``, ``\r\n``, ``\r``).

    Unlike ``str.splitlines``, form feeds and other separators inside a line do not start a new
    line, so positions from ``ast`` stay right in files that contain them.
    """
    starts = [0] + [m.end() for m in _LINE_BREAK.finditer(source)]

    def offset(line: int, col: int) -> int:
        if line >= len(starts):
            return len(source)
        return min(starts[line] + col, len(source))

    result = source
    for edit in sorted(edits, key=lambda e: (e.span.start_line, e.span.start_col), reverse=True):
        start = offset(edit.span.start_line, edit.span.start_col)
        end = offset(edit.span.end_line, edit.span.end_col)
        result = result[:start] + edit.new_text + result[end:]
    return result
