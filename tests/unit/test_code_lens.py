"""Code lenses from a source map and a report (pure; the report is written by hand here)."""

from __future__ import annotations

import ast
from typing import Any, Optional

import pytest

from paramlens.analysis.source_map import build_source_map
from paramlens.features.code_lens import code_lenses

SOURCE = """from torch import nn


class net(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn1 = nn.BatchNorm1d(3)
        self.fc1 = nn.Linear(12, 4)


model = net()
for name, p in model.named_parameters():
    if "fc1" in name:
        p.requires_grad = False
"""


def parameter(name: str, shape: list[int]) -> dict[str, Any]:
    numel = 1
    for size in shape:
        numel *= size
    return {
        "name": name,
        "shape": shape,
        "dtype": "float32",
        "requires_grad": True,
        "numel": numel,
        "aliases": [],
    }


def module(name: str, cls: str, params: int, buffers: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "class": cls,
        "parameters": params,
        "trainable": params,
        "buffers": buffers,
        "class_file": None,
        "class_line": None,
        "assigned_line": None,
    }


REPORT: dict[str, Any] = {
    "object": "net",
    "file": "/w/net.py",
    "line": 4,
    "built_as": "net()",
    "device": "meta",
    "status": "ok",
    "error": None,
    "parameters": [
        parameter("bn1.weight", [3]),
        parameter("bn1.bias", [3]),
        parameter("fc1.weight", [4, 12]),
        parameter("fc1.bias", [4]),
    ],
    "buffers": [],
    "state_dict_keys": [],
    "modules": [
        module("", "net", 58, 7),
        module("bn1", "BatchNorm1d", 6, 7),
        module("fc1", "Linear", 52),
    ],
    "totals": {
        "parameters": 58,
        "trainable": 58,
        "frozen": 0,
        "parameter_tensors": 4,
        "buffers": 7,
        "buffer_tensors": 3,
        "bytes": 264,
        "bytes_by_dtype": {},
        "lazy_parameters": 0,
    },
}
FAILED = {
    **REPORT,
    "status": "error",
    "totals": None,
    "error": {"type": "ValueError", "message": "bad", "file": "/w/net.py", "line": 7},
}


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (
            REPORT,
            [
                (3, "58 params · 58 trainable · 7 buffer values"),
                (6, "BatchNorm1d · 6 params · 6 trainable · 7 buffer values"),
                (7, "Linear · 52 params · 52 trainable"),
                (11, "freezes 2 of 4 parameter tensors · 52 of 58 parameters"),
            ],
        ),
        (None, [(3, "paramlens: inspecting…")]),
        (FAILED, [(3, "failed: ValueError: bad (line 7)")]),
    ],
)
def test_lenses(report: Optional[dict[str, Any]], expected: list[tuple[int, str]]) -> None:
    source_map = build_source_map(ast.parse(SOURCE), SOURCE, ["net"])
    lenses = code_lenses(
        source_map,
        [report] if report is not None else [],  # type: ignore[list-item]
        "/w/net.py",
        "file:///w/net.py",
        SOURCE.splitlines(),
        "utf-16",
        "paramlens: inspecting…",
    )
    found = [(lens.range.start.line, lens.command.title) for lens in lenses if lens.command]
    assert found == expected
    assert all(
        lens.command.command == "paramlens.showSummary" and lens.command.arguments
        for lens in lenses
        if lens.command
    )


VARIABLE_SOURCE = """from torch import nn

model = nn.Sequential(nn.BatchNorm1d(3), nn.Linear(12, 4))
alias = model
for name, p in alias.named_parameters():
    if name.startswith("1."):
        p.requires_grad = False
"""


def test_a_variables_model_has_its_lens_on_the_line_that_binds_it() -> None:
    report = {
        **REPORT,
        "object": "model",
        "kind": "variable",
        "line": 3,
        "built_as": "nn.Sequential(nn.BatchNorm1d(3), nn.Linear(12, 4))",
        "parameters": [
            {**parameter(f"0.{p['name'][4:]}", p["shape"])} if p["name"].startswith("bn1") else
            {**parameter(f"1.{p['name'][4:]}", p["shape"])}
            for p in REPORT["parameters"]
        ],
        "modules": [
            module("", "Sequential", 58, 7),
            module("0", "BatchNorm1d", 6, 7),
            module("1", "Linear", 52),
        ],
    }  # fmt: skip
    source_map = build_source_map(
        ast.parse(VARIABLE_SOURCE), VARIABLE_SOURCE, [], variables=["model"]
    )
    lenses = code_lenses(
        source_map,
        [report],  # type: ignore[list-item]
        "/w/net.py",
        "file:///w/net.py",
        VARIABLE_SOURCE.splitlines(),
        "utf-16",
        "paramlens: inspecting…",
    )
    found = [(lens.range.start.line, lens.command.title) for lens in lenses if lens.command]
    assert found == [
        (2, "58 params · 58 trainable · 7 buffer values"),  # not again on `alias = model`
        (4, "freezes 2 of 4 parameter tensors · 52 of 58 parameters"),
    ]
