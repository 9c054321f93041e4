"""The findings of unchanged top-level definitions, kept from one text of a document to the next.

An editor re-checks a file on every keystroke, and most of a model file is class and function
definitions the keystroke did not touch. With :class:`~paramlens.analysis.incremental.
IncrementalParser`, an unchanged definition is the very same node in the next tree, so its walk
can be reused when nothing it depends on changed:

* the definition itself: the same node (so the same text), at the same position, or moved
  by whole lines when no finding points outside it or gives a line number in its message;
* the file's facts it can read (the classes; the imports of the names it mentions; the
  attributes it mentions that are stored, registered, tied or built as submodules): the same
  values (:meth:`WalkMemo.facts_for`);
* the other statements: the walk reads them only through module-level bindings it names,
  optimizers over models it names, helper functions of the file it names, and module-level
  parametrizations or untied weights. The walker checks these before reusing (and before
  recording);
* the statements after it: a recorded walk left nothing for them (no call site of a file helper,
  no optimizer, no call-level fact, no family record), checked by comparing the size of all of
  that before and after the walk.

A definition is recorded from the first check of its document (so the first keystroke after
opening a file is already fast), and only when its header (decorators, bases, defaults, walked
in the module's scope) cannot raise an event. ``tests/unit/test_incremental.py`` compares the
findings with and without the memo over random edit sequences.
"""

from __future__ import annotations

import ast
import re
from typing import Any, NamedTuple, Optional, Union

from paramlens.analysis.findings import Finding, first_line
from paramlens.analysis.rules.facts import FileFacts, walk

Definition = Union[ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef]
DEFINITIONS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_LINE_NUMBER = re.compile(r"\blines? \d")  # "line 12", "lines 3-4" in a message
# What a header may hold and still raise no event in the module's scope.
_INERT_HEADER = (
    ast.Name, ast.Attribute, ast.Constant, ast.Tuple, ast.List, ast.UnaryOp, ast.expr_context,
    ast.unaryop,
)  # fmt: skip


class Mentions(NamedTuple):
    """What a definition's text can make the walk look up."""

    names: frozenset[str]  # names loaded, stored or taken as parameters
    attrs: frozenset[str]  # attribute names (``x.fc1`` -> ``fc1``)


class Recorded(NamedTuple):
    """One definition's walk."""

    node: Definition
    position: tuple[int, int, int, int]
    mentions: Mentions
    facts: tuple[Any, ...]  # the facts it can read (:meth:`WalkMemo.facts_for`) then
    findings: tuple[Finding, ...]
    # Whether the findings stay true of the definition moved to other lines: none points
    # outside it, and no message gives a line number.
    movable: bool


class WalkMemo:
    """The recorded walks of one document's top-level definitions (see the module docstring)."""

    def __init__(self) -> None:
        self.reused = 0  # definitions not walked in the last check (for tests and benches)
        self._recorded: dict[int, Recorded] = {}
        self._facts = FileFacts()
        self._whole_file: tuple[Any, ...] = ()
        self._ctors: dict[str, tuple[Any, ...]] = {}

    def begin(self, tree: ast.Module, facts: FileFacts) -> None:
        """A new text: forget what is not in its tree, note its facts."""
        current = {id(node): node for node in tree.body if isinstance(node, DEFINITIONS)}
        self._recorded = {
            key: entry for key, entry in self._recorded.items() if current.get(key) is entry.node
        }
        self._facts, self._ctors = facts, {}
        # Read by class name, whatever a definition mentions (bases lead to other classes).
        self._whole_file = (
            {name: (c.bases, frozenset(c.parameters)) for name, c in facts.classes.items()},
            frozenset(facts.module_classes),
        )
        self.reused = 0

    def facts_for(self, mentions: Mentions) -> tuple[Any, ...]:
        """The facts a walk of a definition with these mentions can read, as values: imports
        of its names, the attributes stored, registered, tied or built as submodules (by what
        the rules read of the constructor) among its attribute names, and the classes."""
        facts, names, attrs = self._facts, mentions.names, mentions.attrs
        submodules = (attrs | names) & facts.submodule_attrs.keys()
        return (
            self._whole_file,
            {name: facts.imports[name] for name in names & facts.imports.keys()},
            attrs & facts.stored_attrs,
            attrs & facts.parameter_attrs,
            attrs & facts.buffer_attrs,
            {attr: self._constructors(attr) for attr in submodules},
            {key: tie for key, tie in facts.ties.items() if set(key.split(".")) <= attrs},
        )

    def lookup(self, node: Definition) -> Optional[tuple[Recorded, int]]:
        """The recorded walk of ``node`` and how many lines it moved since, when its findings
        hold where it is now."""
        entry = self._recorded.get(id(node))
        if entry is None or entry.node is not node:
            return None
        first, col, last, end_col = _position(node)
        moved = first - entry.position[0]
        if moved and not entry.movable:
            return None
        if (first - moved, col, last - moved, end_col) != entry.position:
            return None
        return entry, moved

    def mentions(self, node: Definition) -> Optional[Mentions]:
        """What ``node`` mentions, when it may be recorded: its header raises no event. None
        otherwise."""
        if not _inert_header(node):
            return None
        names: set[str] = set()
        attrs: set[str] = set()
        for sub in walk(node):
            if isinstance(sub, ast.Name):
                names.add(sub.id)
            elif isinstance(sub, ast.Attribute):
                attrs.add(sub.attr)
            elif isinstance(sub, ast.arg):
                names.add(sub.arg)
        return Mentions(frozenset(names), frozenset(attrs))

    def record(
        self,
        node: Definition,
        mentions: Mentions,
        facts: tuple[Any, ...],
        findings: tuple[Finding, ...],
    ) -> None:
        """Keep the walk of ``node``: its findings, and what they depended on."""
        position = _position(node)
        movable = not any(
            _LINE_NUMBER.search(text)
            for f in findings
            for text in (f.message, *(note for _, note in f.related))
        ) and all(
            position[0] - 1 <= span.start_line and span.end_line <= position[2] - 1
            for f in findings
            for span in f.spans()
        )
        self._recorded[id(node)] = Recorded(node, position, mentions, facts, findings, movable)

    def _constructors(self, attr: str) -> tuple[Any, ...]:
        known = self._ctors.get(attr)
        if known is None:
            known = self._ctors[attr] = tuple(
                (
                    self._facts.module_ctor_name(call),
                    len(call.args),
                    tuple(
                        (k.arg, k.value.value if isinstance(k.value, ast.Constant) else None)
                        for k in call.keywords
                    ),
                )
                for call in self._facts.submodule_attrs[attr]
            )
        return known


def _position(node: Definition) -> tuple[int, int, int, int]:
    return (
        first_line(node),
        node.col_offset,
        node.end_lineno or node.lineno,
        node.end_col_offset or 0,
    )


def _inert_header(node: Definition) -> bool:
    parts: list[ast.AST] = list(node.decorator_list)
    if isinstance(node, ast.ClassDef):
        parts += node.bases
        parts += [k.value for k in node.keywords]
    else:
        parts += node.args.defaults
        parts += [d for d in node.args.kw_defaults if d is not None]
    return all(
        isinstance(sub, _INERT_HEADER)
        and not (isinstance(sub, ast.Attribute) and sub.attr == "requires_grad")
        for part in parts
        for sub in ast.walk(part)
    )
