"""The acceptance tried as a new user would: headless Neovim 0.7 with ``docs/editors/neovim.lua``
and nothing else, on the acceptance model, then on the failure fixtures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from .nvim import NVIM, ROOT, run_probe

WORKSPACE = ROOT / "tests" / "e2e" / "workspace"

pytestmark = pytest.mark.skipif(NVIM is None, reason="nvim missing: run `make system-deps`")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return Path(shutil.copytree(WORKSPACE, tmp_path / "workspace"))


def byte_column(path: Path, line_text: str, token: str) -> dict[str, int]:
    lines = path.read_text("utf-8").splitlines()
    line = next(i for i, text in enumerate(lines) if line_text in text)
    column = lines[line].index(token, lines[line].index(line_text))
    return {"line": line, "byte": len(lines[line][:column].encode("utf-8"))}


def hover_value(step: dict[str, Any]) -> str:
    result = step.get("result") or {}
    contents = result.get("contents") if isinstance(result, dict) else None
    if isinstance(contents, dict):
        return str(contents.get("value", ""))
    return json.dumps(contents)


def test_acceptance_in_neovim(workspace: Path, tmp_path: Path) -> None:
    net = workspace / "net.py"
    result = run_probe(
        net,
        [
            {"do": "wait_lens", "contains": "58 params", "timeout_ms": 60000},
            {"do": "hover", **byte_column(net, "self.fc1 =", "fc1")},
            {"do": "wait_diagnostic", "code": "FRZ12", "timeout_ms": 30000},
            {"do": "code_action", "code": "FRZ01", "apply": True},
            {"do": "wait_diagnostic_gone", "code": "FRZ01"},
            {"do": "command", "command": "paramlens.showSummary", "arguments": [net.as_uri()]},
        ],
        keep=tmp_path,
    )
    assert "fatal" not in result, result
    assert result["nvim_version"].startswith("0.")
    lens, hover, diagnostics, action, fixed, summary = result["steps"]
    assert lens["found"], lens
    assert "58 params · 58 trainable · 7 buffer values" in lens["titles"]
    class_lens = next(
        item for item in lens["result"] if item["command"]["title"].startswith("58 params")
    )
    assert class_lens["range"]["start"]["line"] == byte_column(net, "class net", "net")["line"]
    text = hover_value(hover)
    assert "[4, 12]" in text and "[4]" in text and "52 parameters" in text, text
    assert diagnostics["found"]
    codes = {d.get("code") for d in diagnostics["diagnostics"]}
    assert {"FRZ01", "FRZ12"} <= codes, codes
    fc2_line = byte_column(net, 'if "fc2" in name', "fc2")["line"]
    flagged = [d for d in diagnostics["diagnostics"] if d.get("code") == "FRZ12"]
    assert [d["lnum"] for d in flagged] == [fc2_line], flagged
    assert action["applied"], action
    assert "named_parameters()" in action["text"] and "state_dict().items()" not in action["text"]
    assert fixed["gone"], fixed  # the server saw the edit: the warning is gone
    assert "Total params: 58" in summary["result"]
    assert result["graceful_shutdown"] is True


def test_failures_do_not_take_the_server_down_in_neovim(workspace: Path) -> None:
    healthy = workspace / "healthy.py"
    hover = {"do": "hover", **byte_column(healthy, "self.fc =", "fc")}
    steps: list[dict[str, Any]] = [{"do": "wait_lens", "contains": "9 params"}]
    for name in ("hang.py", "flood.py", "crash.py", "build_error.py", "import_error.py"):
        steps += [
            {"do": "edit", "file": str(workspace / name)},
            {"do": "edit", "file": str(healthy)},
            hover,
        ]
    result = run_probe(healthy, steps)
    assert "fatal" not in result, result
    hovers = [s for s in result["steps"] if s["do"] == "hover"]
    assert len(hovers) == 5
    for step in hovers:
        assert "[3, 2]" in hover_value(step), step
        assert step["elapsed_ms"] < 1000, step
    edits = [s for s in result["steps"] if s["do"] == "edit"]
    assert all(e["attached"] and e["same_client"] for e in edits), edits
