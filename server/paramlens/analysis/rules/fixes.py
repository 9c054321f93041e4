"""Certain fixes as text edits (pure), and applying every non-overlapping fix of a file."""

from __future__ import annotations

from collections.abc import Sequence

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import Finding, Fix, Span, TextEdit, apply_edits
from paramlens.records import TYPE_CHECKING

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
    return apply_edits(source, accepted) if accepted else source
