"""Which code actions a request admits, which findings a range touches, and the fix-all edit."""

from __future__ import annotations

from typing import Optional

import pytest

from paramlens.analysis.findings import Span, apply_edits
from paramlens.analysis.rules import check_source
from paramlens.features.code_actions import FIX_ALL, fix_all_edits, overlaps, wants


@pytest.mark.parametrize(
    ("only", "kind", "admitted"),
    [
        (None, "quickfix", True),
        (None, FIX_ALL, False),  # the light bulb does not offer fix-all
        (["quickfix"], "quickfix", True),
        (["quickfix"], FIX_ALL, False),
        (["source"], FIX_ALL, True),
        (["source.fixAll"], FIX_ALL, True),
        (["source.organizeImports"], FIX_ALL, False),
        (["source.fixAll.paramlens"], "quickfix", False),
    ],
)
def test_wants(only: Optional[list[str]], kind: str, admitted: bool) -> None:
    assert wants(only, kind) is admitted


@pytest.mark.parametrize(
    ("a", "b", "touching"),
    [
        (Span(1, 0, 1, 10), Span(1, 5, 1, 5), True),  # a cursor inside
        (Span(1, 0, 1, 10), Span(1, 10, 1, 10), True),  # a cursor at the end
        (Span(1, 0, 1, 10), Span(2, 0, 2, 1), False),
        (Span(1, 0, 3, 0), Span(2, 4, 2, 8), True),
    ],
)
def test_overlaps(a: Span, b: Span, touching: bool) -> None:
    assert overlaps(a, b) is touching


def test_fix_all_edit_replaces_the_document_with_every_certain_fix() -> None:
    source = (
        "import torch\nmodel = torch.nn.Linear(2, 2)\n"
        "for k, v in model.state_dict().items():\n    v.requires_grad = False\n"
    )
    findings = check_source(source, path="m.py").findings
    edits = fix_all_edits(source, findings)
    assert len(edits) == 1
    fixed = apply_edits(source, edits)
    assert "named_parameters()" in fixed
    assert not [f for f in check_source(fixed, path="m.py").findings if f.code == "FRZ01"]
    assert fix_all_edits(fixed, check_source(fixed, path="m.py").findings) == []
