"""Code-point columns to the client's UTF-16 / UTF-8 / UTF-32 columns and back."""

from __future__ import annotations

import pytest
from lsprotocol import types

from paramlens.analysis.findings import Span
from paramlens.positions import (
    code_units,
    from_client_column,
    normalize_encoding,
    range_to_span,
    span_to_range,
    to_client_column,
)

LINE = 'x = "模型🙂"; model.fc1'  # CJK (1 UTF-16 unit, 3 bytes) and an emoji (2 units, 4 bytes)
MODEL = LINE.index("model")


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-16", MODEL + 1),  # the emoji is a surrogate pair
        ("utf-8", MODEL + 2 * 2 + 3),  # two CJK characters of 3 bytes, an emoji of 4
        ("utf-32", MODEL),
    ],
)
def test_column_after_cjk_and_emoji(encoding: str, expected: int) -> None:
    assert to_client_column(LINE, MODEL, encoding) == expected
    assert from_client_column(LINE, expected, encoding) == MODEL


@pytest.mark.parametrize(
    ("text", "encoding", "units"),
    [
        ("", "utf-16", 0),
        ("abc", "utf-16", 3),
        ("🙂", "utf-16", 2),
        ("🙂", "utf-8", 4),
        ("模", "utf-8", 3),
        ("模", "utf-16", 1),
        ("🙂", "utf-32", 1),
    ],
)
def test_code_units(text: str, encoding: str, units: int) -> None:
    assert code_units(text, encoding) == units


@pytest.mark.parametrize(
    ("units", "encoding", "column"),
    [
        (LINE.index("🙂") + 1, "utf-16", LINE.index("🙂")),  # inside the surrogate pair
        (1000, "utf-16", len(LINE)),  # past the end of the line
        (-3, "utf-8", 0),
        (1000, "utf-32", len(LINE)),
    ],
)
def test_columns_inside_a_character_or_outside_the_line(
    units: int, encoding: str, column: int
) -> None:
    assert from_client_column(LINE, units, encoding) == column


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_span_round_trip(encoding: str) -> None:
    lines = ["import torch", LINE, "y = 1"]
    span = Span(1, MODEL, 2, 1)
    range_ = span_to_range(span, lines, encoding)
    assert range_.end == types.Position(line=2, character=1)
    assert range_to_span(range_, lines, encoding) == span


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (types.PositionEncodingKind.Utf8, "utf-8"),
        ("utf-32", "utf-32"),
        (None, "utf-16"),
        ("latin-1", "utf-16"),
    ],
)
def test_normalize_encoding(kind: object, expected: str) -> None:
    assert normalize_encoding(kind) == expected
