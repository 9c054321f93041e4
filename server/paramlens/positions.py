"""Positions between the analysis (code-point columns) and the client (negotiated encoding).

:class:`~paramlens.analysis.findings.Span` counts columns in Unicode code points, Python's ``str``
indices. LSP clients count UTF-16 code units unless they negotiate ``utf-8`` or ``utf-32``
(``general.positionEncodings``). Every conversion here is pure: give it the document's lines
(``source.splitlines()``) and the encoding the server chose at ``initialize``.
"""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from paramlens.analysis.findings import Span

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"


def code_units(text: str, encoding: str) -> int:
    """The length of ``text`` in the code units of ``encoding``."""
    if encoding == UTF8:
        return len(text.encode("utf-8", errors="surrogatepass"))
    if encoding == UTF32:
        return len(text)
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _line(lines: Sequence[str], line: int) -> str:
    return lines[line].rstrip("\r\n") if 0 <= line < len(lines) else ""


def to_client_column(line_text: str, col: int, encoding: str) -> int:
    """A code-point column of ``line_text`` in the client's code units."""
    return code_units(line_text[: max(col, 0)], encoding)


def from_client_column(line_text: str, units: int, encoding: str) -> int:
    """A client column (code units) of ``line_text`` as a code-point column.

    A column inside a character (half a surrogate pair, the middle of a UTF-8 sequence) maps to
    that character; a column past the end maps to the end of the line.
    """
    if encoding == UTF32:
        return min(max(units, 0), len(line_text))
    counted = 0
    for index, char in enumerate(line_text):
        if counted >= units:
            return index
        counted += code_units(char, encoding)
        if counted > units:
            return index
    return len(line_text)


def to_position(lines: Sequence[str], line: int, col: int, encoding: str) -> types.Position:
    """A code-point position as an LSP position."""
    return types.Position(line=line, character=to_client_column(_line(lines, line), col, encoding))


def from_position(lines: Sequence[str], position: types.Position, encoding: str) -> tuple[int, int]:
    """An LSP position as ``(line, code-point column)``."""
    text = _line(lines, position.line)
    return position.line, from_client_column(text, position.character, encoding)


def span_to_range(span: Span, lines: Sequence[str], encoding: str) -> types.Range:
    """A :class:`Span` as an LSP range in the client's encoding."""
    return types.Range(
        start=to_position(lines, span.start_line, span.start_col, encoding),
        end=to_position(lines, span.end_line, span.end_col, encoding),
    )


def range_to_span(range_: types.Range, lines: Sequence[str], encoding: str) -> Span:
    """An LSP range as a :class:`Span` in code points."""
    start_line, start_col = from_position(lines, range_.start, encoding)
    end_line, end_col = from_position(lines, range_.end, encoding)
    return Span(start_line, start_col, end_line, end_col)


def normalize_encoding(kind: object) -> str:
    """The encoding pygls negotiated (an enum or a string, None before ``initialize``)."""
    value = getattr(kind, "value", kind)
    return value if value in (UTF8, UTF16, UTF32) else UTF16
