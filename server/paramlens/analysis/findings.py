"""What the rules return: findings with spans and certain fixes, independent of LSP and CLI.

Positions are 0-based lines and 0-based columns counted in Unicode code points (Python ``str``
indices). Python's ``ast`` gives UTF-8 byte columns; :func:`span_of` converts them. The LSP layer
converts code points to the client's negotiated encoding (UTF-16 or UTF-8); the CLI prints
1-based rows and columns.

The records of the rule engine are named tuples or plain classes, not dataclasses: every
``paramlens check`` imports them, and each dataclass costs about 0.4 ms to define, on top of
about 6 ms for importing ``dataclasses`` itself (``inspect`` with it); their ``NamedTuple`` is
:mod:`paramlens.records`'s, which spares the import of ``typing``.
"""

from __future__ import annotations

from collections.abc import Sequence

from paramlens.analysis import syntax as ast
from paramlens.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Any, ClassVar, Optional

DOCS_URL = "https://github.com/paramlens/paramlens/blob/main/docs/rules/{code}.md"
# What ``ast.parse`` raises on text it cannot parse: a syntax error, a null byte, nesting too
# deep for the parser or the interpreter's stack.
PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)


class Severity(str):
    """How sure and how bad: error raises at run time, warning certainly does nothing, info is
    legal but often surprising.

    The three values behave as the members of a ``(str, Enum)`` would: one object each, equal to
    their ``value``, ``Severity("error") is Severity.ERROR``, copied and pickled as themselves.
    (Not an ``enum.Enum``: importing ``enum`` costs some 2.5 ms of each start of the CLI.)"""

    __slots__ = ()
    ERROR: ClassVar[Severity]
    WARNING: ClassVar[Severity]
    INFO: ClassVar[Severity]
    _members: ClassVar[dict[str, Severity]] = {}

    def __new__(cls, value: str) -> Severity:
        member = cls._members.get(value)
        if member is None:
            raise ValueError(f"{value!r} is not a valid Severity")
        return member

    @property
    def value(self) -> str:
        """The plain text: ``"error"``, ``"warning"`` or ``"info"``."""
        return str.__str__(self)

    @property
    def name(self) -> str:
        """``"ERROR"``, ``"WARNING"`` or ``"INFO"``."""
        return self.value.upper()

    def __repr__(self) -> str:
        return f"<Severity.{self.name}: {self.value!r}>"

    def __str__(self) -> str:
        return f"Severity.{self.name}"

    def __reduce__(self) -> tuple[Any, ...]:
        return Severity, (self.value,)


for _value in ("error", "warning", "info"):
    Severity._members[_value] = str.__new__(Severity, _value)
    setattr(Severity, _value.upper(), Severity._members[_value])


class Span(NamedTuple):
    """A range of source text: 0-based lines, 0-based code-point columns, end exclusive."""

    start_line: int
    start_col: int
    end_line: int
    end_col: int

    def moved(self, lines: int) -> Span:
        """The same text ``lines`` lines further down (up if negative)."""
        return Span(self.start_line + lines, self.start_col, self.end_line + lines, self.end_col)


class TextEdit(NamedTuple):
    """Replace the text of ``span`` with ``new_text``."""

    span: Span
    new_text: str


class Fix(NamedTuple):
    """A certain fix: applying every edit makes the code do what it says."""

    title: str
    edits: tuple[TextEdit, ...]


class Finding(NamedTuple):
    """One diagnostic."""

    code: str
    message: str
    severity: Severity
    span: Span
    fix: Optional[Fix] = None
    related: tuple[tuple[Span, str], ...] = ()

    @property
    def url(self) -> str:
        """The rule's documentation page."""
        return DOCS_URL.format(code=self.code)

    def spans(self) -> tuple[Span, ...]:
        """Every span it refers to: its own, related ones, its fix's edits."""
        edits = self.fix.edits if self.fix is not None else ()
        return (self.span, *(span for span, _ in self.related), *(e.span for e in edits))

    def moved(self, lines: int) -> Finding:
        """The same finding about the same code, ``lines`` lines further down."""
        fix = self.fix
        if fix is not None:
            edits = tuple(TextEdit(e.span.moved(lines), e.new_text) for e in fix.edits)
            fix = Fix(fix.title, edits)
        related = tuple((span.moved(lines), text) for span, text in self.related)
        return Finding(self.code, self.message, self.severity, self.span.moved(lines), fix, related)


def byte_to_char_col(line_text: str, byte_col: int) -> int:
    """Convert a UTF-8 byte offset within one line to a code-point offset."""
    return len(line_text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def span_of(node: ast.AST, lines: Sequence[str]) -> Span:
    """The span of an ``ast`` node in code points; ``lines`` is ``source.splitlines()``."""
    start_line = getattr(node, "lineno", 1) - 1
    end_line = (getattr(node, "end_lineno", None) or start_line + 1) - 1
    start_byte = getattr(node, "col_offset", 0)
    end_byte = getattr(node, "end_col_offset", None)
    start_text = lines[start_line] if 0 <= start_line < len(lines) else ""
    end_text = lines[end_line] if 0 <= end_line < len(lines) else ""
    start_col = byte_to_char_col(start_text, start_byte)
    end_col = byte_to_char_col(end_text, end_byte) if end_byte is not None else len(end_text)
    return Span(start_line, start_col, end_line, end_col)


_LINE_BREAK = r"\r\n|\r|\n"  # the line breaks of Python (and of LSP)


def source_lines(source: str) -> list[str]:
    """The lines as Python and LSP count them (``\\n``, ``\\r\\n``, ``\\r`` only)."""
    if "\r" in source:
        source = source.replace("\r\n", "\n").replace("\r", "\n")
    return source.split("\n")


def first_line(node: ast.stmt) -> int:
    """The 1-based line a statement starts on: its first decorator's, if it has any."""
    decorators = getattr(node, "decorator_list", None)
    if decorators:
        return min(node.lineno, *(d.lineno for d in decorators))
    return node.lineno


def apply_edits(source: str, edits: Sequence[TextEdit]) -> str:
    """Apply non-overlapping edits to ``source`` (positions as in :class:`Span`).

    Lines are counted as Python counts them (``\n``, ``\r\n``, ``\r``): unlike ``str.splitlines``,
    form feeds and other separators inside a line do not start a new one, so positions from
    ``ast`` stay right in files that contain them.
    """
    import re  # here: most runs of the CLI fix nothing

    starts = [0] + [match.end() for match in re.finditer(_LINE_BREAK, source)]

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
