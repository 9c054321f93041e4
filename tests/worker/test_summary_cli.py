"""``paramlens summary`` end to end: the real CLI process, the real worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from worker_support import ROOT, worker_interpreter

pytestmark = pytest.mark.torch


def summary(*arguments: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PARAMLENS_INTERPRETER=worker_interpreter())
    return subprocess.run(
        [sys.executable, "-m", "paramlens", "summary", *arguments],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def test_darknet_table() -> None:
    done = summary("examples/darknet.py")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "DarkNet — examples/darknet.py:15 — built as DarkNet([1, 2, 8, 8, 4]) on meta"
    )
    rows = [line.split() for line in lines]
    assert ["0", "conv1.weight", "param", "[32,", "3,", "3,", "3]", "float32", "True"] in rows
    assert ["6", "layer1.residual_0.conv1.weight", "param", "[32,", "64,", "1,", "1]"] in [
        r[:7] for r in rows
    ]
    assert "  Total params: 40,584,928 (40.6M)" in lines
    assert "  Parameter tensors: 156" in lines
    assert not (ROOT / "darknet-training.log").exists()
    assert not (ROOT / "darknet.pt").exists()


def test_json_is_the_list_of_reports() -> None:
    done = summary("examples/tied_lm.py", "--format", "json", "--object", "TiedLM")
    assert done.returncode == 0, done.stderr
    reports = json.loads(done.stdout)
    assert [r["object"] for r in reports] == ["TiedLM"]
    assert reports[0]["parameters"][1]["aliases"] == ["decoder.weight"]


def test_cpu_device_flag() -> None:
    done = summary("examples/net.py", "--format", "json", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["device"] == "cpu"


@pytest.mark.parametrize(
    ("arguments", "code", "stderr_has"),
    [
        (["tests/fixtures/failures/raise_in_init.py"], 1, ""),
        (["tests/fixtures/failures/syntax_error.py"], 1, "syntax_error.py:5: SyntaxError"),
        (["examples/darknet.py", "--object", "NoSuchModel"], 2, "NoSuchModel"),
        (["examples/no_such_file.py"], 2, "no such file"),
        (["examples/net.py", "--format", "yaml"], 2, "invalid choice"),
    ],
)
def test_exit_codes(arguments: list[str], code: int, stderr_has: str) -> None:
    done = summary(*arguments)
    assert done.returncode == code, done.stderr
    assert stderr_has in done.stderr


def test_not_built_models_say_why(tmp_path: Path) -> None:
    script = tmp_path / "needs.py"
    script.write_text(
        "from torch import nn\n\n\nclass Needs(nn.Module):\n"
        "    def __init__(self, width):\n        super().__init__()\n"
    )
    done = summary(str(script))
    assert done.returncode == 1
    assert "needs constructor arguments (width)" in done.stdout


def test_models_table_of_pyproject_gives_constructor_arguments(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.paramlens.models]\n"needs:Needs" = "Needs(width=7)"\n'
    )
    script = tmp_path / "needs.py"
    script.write_text(
        "from torch import nn\n\n\nclass Needs(nn.Module):\n"
        "    def __init__(self, width):\n        super().__init__()\n"
        "        self.fc = nn.Linear(width, 1)\n"
    )
    done = summary(str(script), "--format", "json")
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(done.stdout)
    assert report["built_as"] == "Needs(width=7)"
    assert report["totals"]["parameters"] == 8
