"""Parsing one document again and again as it is edited, re-parsing only what an edit touched.

Python's top-level statements parse independently of each other: ``ast.parse`` of a module is
the concatenation of the parses of its top-level statements, each with its own line numbers.
So after an edit, the statements entirely before the changed lines are kept as they are, and so
are those entirely after them; only the lines in between are parsed, at their own line numbers.
A typed character in a 5,000-line file costs the parse of one function instead of the whole
file.

Nodes of the previous tree are shared with the next one. When an edit adds or removes lines,
the statements after it have moved: a parser whose caller keeps no tree past the next parse
(``owns_trees``) moves their line numbers in place, any other parses them again.
"""

from __future__ import annotations

import ast
import bisect
from typing import Optional

from paramlens.analysis.findings import PARSE_ERRORS, first_line, source_lines


class IncrementalParser:
    """Parses successive texts of one document (thread-safe); see the module docstring."""

    def __init__(self, filename: str = "<unknown>", *, owns_trees: bool = False) -> None:
        import threading  # here: the CLI, which never makes a parser, does not pay for it

        self.filename = filename
        self.owns_trees = owns_trees
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._tree: Optional[ast.Module] = None
        self._starts: list[int] = []  # first line of each top-level statement (its decorators)
        self._ends: list[int] = []  # last line of each top-level statement
        self.reparsed_lines = 0  # how many lines the last parse read (for tests and benches)

    def parse(self, source: str) -> ast.Module:
        """The tree of ``source``, as ``ast.parse`` gives it (and its errors when it raises)."""
        lines = source_lines(source)
        with self._lock:
            tree = self._tree
            if tree is not None:
                if lines == self._lines:
                    self.reparsed_lines = 0
                    return tree
                partial = self._parse_changed(tree, lines)
                if partial is not None:
                    self._keep(partial, lines)
                    return partial
            self.reparsed_lines = len(lines)
            tree = ast.parse(source, filename=self.filename)
            self._keep(tree, lines)
            return tree

    def _parse_changed(self, tree: ast.Module, lines: list[str]) -> Optional[ast.Module]:
        """The new tree from the kept statements and a parse of the changed region; None when
        the region does not parse on its own (then the whole text is parsed, for its error)."""
        old = self._lines
        shortest = min(len(old), len(lines))
        same_before = 0
        while same_before < shortest and old[same_before] == lines[same_before]:
            same_before += 1
        same_after = 0
        while (
            same_after < shortest - same_before
            and old[len(old) - 1 - same_after] == lines[len(lines) - 1 - same_after]
        ):
            same_after += 1
        first_changed = same_before + 1  # 1-based, in both texts
        last_changed = len(old) - same_after  # 1-based, in the old text
        starts, ends, body = self._starts, self._ends, tree.body
        # Kept before: statements that end before the change and share no line with the next.
        before = bisect.bisect_left(ends, first_changed)
        while 0 < before < len(body) and starts[before] <= ends[before - 1]:
            before -= 1
        # Kept after: statements that start after the change (moved, if lines were added or
        # removed and the trees are the parser's own; parsed again otherwise).
        moved = len(lines) - len(old)
        after = len(body)
        if moved == 0 or self.owns_trees:
            after = max(bisect.bisect_right(starts, last_changed), before)
            while 0 < after < len(body) and starts[after] <= ends[after - 1]:
                after += 1
        first = ends[before - 1] + 1 if before > 0 else 1
        last = starts[after] - 1 + moved if after < len(body) else len(lines)
        # Blank lines in front give the region its own line numbers (cheaper than shifting).
        region = "\n" * (first - 1) + "\n".join(lines[first - 1 : last])
        try:
            parsed = ast.parse(region, filename=self.filename)
        except PARSE_ERRORS:
            return None
        self.reparsed_lines = last - first + 1
        if moved and after < len(body):
            _move(body[after:], moved)
        return ast.Module(body=[*body[:before], *parsed.body, *body[after:]], type_ignores=[])

    def _keep(self, tree: ast.Module, lines: list[str]) -> None:
        self._tree, self._lines = tree, lines
        self._starts = [first_line(node) for node in tree.body]
        self._ends = [node.end_lineno or node.lineno for node in tree.body]


# Per node class: whether it has a position, and the fields that may hold nodes: not contexts
# and operators (shared leaves without positions), nor names, numbers and constants' values.
_PLANS: dict[type, tuple[bool, tuple[str, ...]]] = {}
_LEAF_FIELDS = frozenset(
    {"ctx", "op", "ops", "id", "attr", "arg", "name", "module", "level", "conversion",
     "is_async", "kind", "type_comment", "simple", "tag"}
)  # fmt: skip


def _plan(cls: type[ast.AST]) -> tuple[bool, tuple[str, ...]]:
    fields = () if cls is ast.Constant else tuple(f for f in cls._fields if f not in _LEAF_FIELDS)
    plan = _PLANS[cls] = ("lineno" in cls._attributes, fields)
    return plan


def _move(nodes: list[ast.stmt], lines: int) -> None:
    """Move ``nodes`` and everything under them down by ``lines`` lines (up if negative)."""
    stack: list[object] = list(nodes)
    pop, push, extend = stack.pop, stack.append, stack.extend
    plans, leaf = _PLANS, ast.AST
    while stack:
        node = pop()
        plan = plans.get(type(node))
        if plan is None:
            if not isinstance(node, leaf):
                continue  # None in a list (``{**d}`` keys, keyword-only defaults) or a name
            plan = _plan(type(node))
        positioned, fields = plan
        if positioned:
            node.lineno += lines  # type: ignore[attr-defined]
            if node.end_lineno is not None:  # type: ignore[attr-defined]
                node.end_lineno += lines  # type: ignore[attr-defined]
        for name in fields:
            value = getattr(node, name)
            if type(value) is list:
                extend(value)
            elif value is not None:
                push(value)
