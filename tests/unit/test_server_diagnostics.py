"""Pure parts of the server's diagnostics: model failures on the right line, runtime findings
carried over unchanged lines, LSP conversion."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Optional

import pytest
from lsprotocol import types

from paramlens.analysis.findings import Finding, Severity, Span
from paramlens.features.diagnostics import (
    IMPORT_FAILED,
    MODEL_FAILED,
    NEEDS_ARGUMENTS,
    carried_over,
    model_findings,
    refresh,
    to_diagnostic,
)
from paramlens.server import create_server

PATH = Path("/work/model.py")
LINES = ["import torch", "", "class Net(nn.Module):", "    def __init__(self):", "        boom()"]


def report(status: str, error: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    return {
        "object": "Net",
        "file": str(PATH),
        "line": 3,
        "status": status,
        "error": error,
        "built_as": "Net()",
    }


@pytest.mark.parametrize(
    ("reports", "error", "kind", "expected"),
    [
        ([report("ok")], None, None, []),
        (
            [
                report(
                    "error", {"type": "ValueError", "message": "no", "file": str(PATH), "line": 5}
                )
            ],
            None,
            None,
            [(MODEL_FAILED, 4, "Net() failed to build: ValueError: no")],
        ),
        (
            [report("error", {"type": "KeyError", "message": "k", "file": "/lib/x.py", "line": 9})],
            None,
            None,
            [(MODEL_FAILED, 2, "Net() failed to build: KeyError: k")],  # the class line
        ),
        ([report("needs_arguments")], None, None, [(NEEDS_ARGUMENTS, 2, "Net needs constructor")]),
        (
            [],
            {"type": "ModuleNotFoundError", "message": "x", "file": str(PATH), "line": 1},
            "error",
            [(IMPORT_FAILED, 0, "paramlens could not load this file: ModuleNotFoundError: x")],
        ),
        (
            [],
            {"type": "Timeout", "message": "stopped", "file": str(PATH), "line": 5},
            "timeout",
            [(IMPORT_FAILED, 4, "timed out here: Timeout: stopped")],
        ),
        (
            [],
            {"type": "ImportError", "message": "y", "file": "/work/other.py", "line": 7},
            "error",
            [(IMPORT_FAILED, 0, "(/work/other.py:7)")],
        ),
    ],
)
def test_model_findings(
    reports: list[dict[str, Any]],
    error: Optional[dict[str, Any]],
    kind: Optional[str],
    expected: list[tuple[str, int, str]],
) -> None:
    found = model_findings(reports, error, PATH, LINES, kind)
    assert [(f.code, f.span.start_line) for f in found] == [(c, line) for c, line, _ in expected]
    for finding, (_, _, text) in zip(found, expected):
        assert text in finding.message
        text_line = LINES[finding.span.start_line]
        assert text_line[finding.span.start_col : finding.span.end_col] == text_line.strip()


def finding(code: str, line: int) -> Finding:
    return Finding(code, f"{code} here", Severity.WARNING, Span(line, 0, line, 3))


@pytest.mark.parametrize(
    ("new_source", "kept"),
    [
        ("a\nb\nc\n", ["FRZ12"]),  # nothing changed
        ("a\nB\nc\n", []),  # the runtime finding's line changed
        ("a\nb\nc\nd\n", ["FRZ12"]),  # a line added below
        ("x\na\nb\nc\n", []),  # a line added above: line 1 now holds other text
    ],
)
def test_runtime_findings_are_carried_over_unchanged_lines(
    new_source: str, kept: list[str]
) -> None:
    static = [finding("FRZ01", 0)]
    full = [*static, finding("FRZ12", 1)]
    carried = carried_over(full, static, "a\nb\nc\n", new_source)
    assert [f.code for f in carried] == kept


def test_to_diagnostic_in_utf16_after_emoji() -> None:
    lines = ['s = "🙂"; model.requires_grad = False']
    col = lines[0].index("model")
    diagnostic = to_diagnostic(
        Finding("FRZ03", "m", Severity.WARNING, Span(0, col, 0, col + 5)), lines, "utf-16"
    )
    assert diagnostic.range.start.character == col + 1
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    assert diagnostic.code_description is not None
    assert diagnostic.code_description.href.endswith("FRZ03.md")
    assert diagnostic.source == "paramlens"


async def test_an_edit_holds_source_maps_until_its_static_findings_are_known() -> None:
    ls = create_server()
    uri = "file:///work/held.py"  # never opened: the delivery ends at once
    refresh(ls, uri, debounce=True)
    assert ls.rules_running.is_set()  # from the edit on, before the rules even start
    refresh(ls, uri, debounce=True)  # a newer edit cancels the first delivery before it ran
    await asyncio.wait_for(asyncio.gather(*ls.diagnostic_tasks.values()), 10)
    await asyncio.sleep(0)  # done callbacks
    assert not ls.rules_running.is_set()
    release = ls.hold_maps()
    release()
    release()  # twice is harmless
    assert not ls.rules_running.is_set()
    ls.stop_analysis()
