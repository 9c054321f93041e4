"""Spans in code points from ast's UTF-8 byte columns, and applying text edits."""

import ast

from paramlens.analysis.findings import Span, TextEdit, apply_edits, byte_to_char_col, span_of


def test_byte_columns_become_code_points_after_cjk_and_emoji() -> None:
    source = 'x = "模型🙂"; model.requires_grad = False\n'
    tree = ast.parse(source)
    target = tree.body[1].targets[0]  # type: ignore[attr-defined]
    span = span_of(target, source.splitlines())
    line = source.splitlines()[0]
    assert line[span.start_col : span.end_col] == "model.requires_grad"
    assert byte_to_char_col(line, len(line.encode())) == len(line)


def test_apply_edits_is_order_independent_and_multiline() -> None:
    source = "a = 1\nb == 2\nc = 3\n"
    edits = [
        TextEdit(Span(1, 2, 1, 4), "="),
        TextEdit(Span(0, 0, 0, 1), "alpha"),
        TextEdit(Span(2, 0, 2, 5), "c = 4"),
    ]
    assert apply_edits(source, edits) == "alpha = 1\nb = 2\nc = 4\n"


def test_apply_edits_counts_lines_as_python_does() -> None:
    # A form feed is a line break for str.splitlines but not for Python's tokenizer (nor ast).
    source = "a = 1\x0c  # page\r\nb == 2\rc = 3\n"
    edits = [TextEdit(Span(1, 2, 1, 4), "="), TextEdit(Span(2, 0, 2, 1), "d")]
    assert apply_edits(source, edits) == "a = 1\x0c  # page\r\nb = 2\rd = 3\n"
