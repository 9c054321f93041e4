"""``paramlens check`` end to end: output formats, exit codes, discovery, --fix, settings, and the
runtime-aware rules through the real worker."""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paramlens.cli import main

STATE_DICT_SCRIPT = textwrap.dedent(
    """\
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 8)


    model = Net()
    for name, value in model.state_dict().items():
        value.requires_grad = False
    """
)
FC2_SCRIPT = STATE_DICT_SCRIPT.replace(
    "for name, value in model.state_dict().items():\n    value.requires_grad = False\n",
    'for name, p in model.named_parameters():\n    if "fc2" in name:\n'
    "        p.requires_grad = False\n",
)


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from tmp_path: without a pyproject.toml above, the results cache goes to the
    current folder."""
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_state_dict_loop_is_named_and_fixed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "train.py"
    script.write_text(STATE_DICT_SCRIPT)
    code, out, _ = run(capsys, "--no-runtime", str(script))
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{script}:12:5: FRZ01 [*] ")
    assert "changes detached copies, so nothing is frozen" in first
    code, out, _ = run(capsys, "--no-runtime", "--fix", str(script))
    assert code == 0
    assert out == "Found 1 finding (1 fixed, 0 remaining).\n"
    assert "for name, value in model.named_parameters():" in script.read_text()
    assert run(capsys, "--no-runtime", str(script))[0] == 0


def test_fix_writes_a_file_back_in_its_own_encoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "import torch.nn as nn\nmodel = nn.Linear(2, 2)  # café\nmodel.requires_grad = False\n"
    latin = tmp_path / "latin.py"
    latin.write_bytes(("# -*- coding: latin-1 -*-\n" + body).encode("latin-1"))
    bom = tmp_path / "bom.py"
    bom.write_bytes(body.encode("utf-8-sig"))
    code, out, _ = run(capsys, "--no-runtime", "--fix", str(tmp_path))
    assert (code, out) == (0, "Found 2 findings (2 fixed, 0 remaining).\n")
    fixed = body.replace("model.requires_grad = False", "model.requires_grad_(False)")
    assert latin.read_bytes() == ("# -*- coding: latin-1 -*-\n" + fixed).encode("latin-1")
    assert bom.read_bytes() == fixed.encode("utf-8-sig")


def test_json_items_follow_ruffs_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "train.py"
    script.write_text(STATE_DICT_SCRIPT)
    code, out, _ = run(capsys, "--no-runtime", "--format", "json", str(script))
    assert code == 1
    (item,) = json.loads(out)
    assert set(item) == {
        "code", "message", "severity", "filename", "location", "end_location", "fix", "url"
    }  # fmt: skip
    assert item["code"] == "FRZ01" and item["severity"] == "warning"
    assert item["location"] == {"row": 12, "column": 5}
    assert item["end_location"] == {"row": 12, "column": 24}
    assert item["url"].endswith("docs/rules/FRZ01.md")
    (edit,) = item["fix"]["edits"]
    assert edit["content"] == "model.named_parameters()"
    assert edit["location"] == {"row": 11, "column": 20}


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = tmp_path / "clean.py"
    clean.write_text("import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.requires_grad_(False)\n")
    assert run(capsys, "--no-runtime", str(clean))[:2] == (0, "All checks passed!\n")
    code, _, err = run(capsys, "--no-runtime", str(tmp_path / "missing.py"))
    assert code == 2 and "no such file" in err
    assert main(["check", "--format", "xml", str(clean)]) == 2


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["--version"],
        ["bogus"],
        ["--bogus", "check"],
        ["check"],
        ["check", "--help"],
        ["check", "--format", "xml", "x.py"],
        ["check", "--no-r", "x.py", "--unknown"],
        ["summary", "--help"],
        ["summary", "--device", "gpu", "x.py"],
        ["serve", "--help"],
        ["serve", "--tcp"],
    ],
)
@pytest.mark.parametrize("columns", ["40", "200"])
def test_help_and_usage_errors_are_those_of_the_plain_parser(
    argv: list[str],
    columns: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The parser of one subcommand with a formatter set up on first use says what the parser
    of every subcommand with argparse's own formatter says."""
    from paramlens import cli_parser

    monkeypatch.setenv("COLUMNS", columns)
    fast = (main(argv), *capsys.readouterr())
    build = cli_parser.build_parser
    monkeypatch.setattr(cli_parser, "_HelpFormatter", argparse.HelpFormatter)
    monkeypatch.setattr(cli_parser, "build_parser", lambda command=None: build())
    assert fast == (main(argv), *capsys.readouterr())
    assert "paramlens" in fast[1] + fast[2]


@pytest.mark.parametrize("output", ["text", "json"])
def test_the_command_ends_its_process_with_the_same_output_and_code(
    output: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m paramlens`` (as the ``paramlens`` command) ends with ``os._exit`` once its
    output is flushed; ``main`` called as a function returns."""
    script = tmp_path / "train.py"
    script.write_text(STATE_DICT_SCRIPT + "model.training = False\n")
    argv = ["check", "--no-runtime", "--no-cache", "--format", output, str(script)]
    done = subprocess.run(
        [sys.executable, "-m", "paramlens", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (main(argv), *capsys.readouterr())
    assert done.returncode == 1 and "FRZ01" in done.stdout and "FRZ10" in done.stdout


@given(st.lists(st.sampled_from(["a", "b.py", ".", "..", "", "/", "//", "..."]), max_size=7))
def test_files_are_named_as_pathlib_writes_them(parts: list[str]) -> None:
    from paramlens.check import shown_path

    given = "/".join(parts)
    assert shown_path(given) == str(Path(given))


def test_a_static_check_imports_none_of_the_modules_it_does_without(tmp_path: Path) -> None:
    """Each costs milliseconds on every run (paramlens.records says why): a module on the path
    of ``paramlens check --no-runtime`` that imports one brings the cost back."""
    script = tmp_path / "train.py"
    script.write_text(STATE_DICT_SCRIPT)
    unwanted = {"typing", "dataclasses", "inspect", "json", "pathlib"}
    code = (
        "import sys\nfrom paramlens.cli import main\ncode = main(sys.argv[1:])\n"
        f"print(sorted({unwanted!r} & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "check", "--no-runtime", "--no-cache", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "FRZ01" in done.stdout
    assert done.stdout.endswith("\n[]\n"), done.stdout


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"x = 1\n",
        "x = 'caf\u00e9'\n".encode(),
        b"x = '\xe9'\n",  # not UTF-8, no cookie
        b"\xe9\n# -*- coding: latin-1 -*-\n",
        b"# -*- coding: latin-1 -*-\nx = '\xe9'\n",
        b"#!/usr/bin/env python\n# vim: set fileencoding=latin-1 :\nx = '\xe9'\n",
        b"x = 1\n# coding: latin-1\nx = '\xe9'\n",  # a cookie after code does not count
        b"\n\n# coding: latin-1\nx = '\xe9'\n",  # nor one on the third line
        b"# coding: latin-1\rx = '\xe9'\r",  # a carriage return does not end the line
        b"# coding: no-such-codec\nx = 1\n",
        b"# coding=utf-8\nx = 1\n",
        b"# not the coding: latin-1 you want\nx = 1\n",
        b"\xef\xbb\xbfx = 'caf\xc3\xa9'\n",
        b"\xef\xbb\xbf# coding: latin-1\nx = 1\n",
        b"\xef\xbb\xbf# coding: utf-8\nx = 1\n",
    ],
)
def test_decode_source_reads_encodings_as_tokenize_does(data: bytes) -> None:
    import tokenize
    from io import BytesIO

    from paramlens.check import decode_source

    try:
        encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
    except SyntaxError:
        encoding = "utf-8"
    try:
        expected = (data.decode(encoding).removeprefix("\ufeff"), encoding, False)
    except (UnicodeDecodeError, LookupError):
        expected = (data.decode("utf-8", errors="replace"), encoding, True)
    text, found, notice = decode_source(Path("f.py"), data)
    assert (text, found, notice is not None) == expected


def test_directories_respect_gitignore_and_go_on_after_a_syntax_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("build/\n*_generated.py\n")
    for rel in ("build/a.py", "pkg/b_generated.py", "pkg/c.py", "pkg/broken.py", ".venv/d.py"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("model.training = False\n")
    (tmp_path / "pkg" / "broken.py").write_text("def f(:\n")
    (tmp_path / "pkg" / "latin.py").write_bytes(b"# \xff\xfe\nmodel.training = False\n")
    code, out, err = run(capsys, "--no-runtime", str(tmp_path / "pkg"))
    assert code == 1
    reported = sorted({Path(line.split(":")[0]).name for line in out.splitlines()[:-1]})
    assert reported == ["broken.py", "c.py", "latin.py"]
    assert "FRZ000 SyntaxError" in out
    assert "latin.py: not valid utf-8" in err


def test_gitignore_negation_anchors_and_nested_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text(
        "# generated\n*_pb2.py\n!keep_pb2.py\n/top.py\nout/\ndata/**/*.py\n"
    )
    for rel in (
        "a_pb2.py", "keep_pb2.py", "top.py", "pkg/top.py", "out/x.py", "pkg/out.py",
        "data/raw/y.py", "pkg/data/z.py", "pkg/local.py", "pkg/sub/local.py", "pkg/sub/c.py",
    ):  # fmt: skip
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("model.training = False\n")
    (tmp_path / "pkg" / ".gitignore").write_text("local.py\n")
    (tmp_path / "pkg" / "sub" / ".gitignore").write_text("!local.py\n")
    code, out, _ = run(capsys, "--no-runtime", str(tmp_path))
    assert code == 1
    reported = sorted(
        Path(line.split(":")[0]).relative_to(tmp_path).as_posix() for line in out.splitlines()[:-1]
    )
    assert reported == [
        "keep_pb2.py", "pkg/data/z.py", "pkg/out.py", "pkg/sub/c.py", "pkg/sub/local.py",
        "pkg/top.py",
    ]  # fmt: skip


def test_pyproject_above_the_working_folder_is_found_for_a_relative_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.paramlens]\nignore = ["FRZ10"]\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("model.training = False\n")
    monkeypatch.chdir(tmp_path / "src")
    assert run(capsys, "--no-runtime", "train.py")[:2] == (0, "All checks passed!\n")


def test_pyproject_select_and_cli_ignore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.paramlens]\nignore = ["FRZ10"]\n')
    script = tmp_path / "s.py"
    script.write_text("model.training = False\nmodel.parameters().requires_grad = False\n")
    code, out, _ = run(capsys, "--no-runtime", str(script))
    assert "FRZ16" in out and "FRZ10" not in out
    code, out, _ = run(capsys, "--no-runtime", "--ignore", "FRZ16", str(script))
    assert code == 0
    code, out, _ = run(capsys, "--no-runtime", "--select", "FRZ10", str(script))
    assert "FRZ10" in out and "FRZ16" not in out


def test_worker_failure_is_a_notice_and_static_findings_remain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        FC2_SCRIPT.replace("import torch.nn", "model.training = False\nimport torch.nn")
    )
    code, out, err = run(capsys, "--interpreter", str(tmp_path / "no-python"), str(script))
    assert code == 1
    assert "FRZ10" in out
    assert err.startswith("paramlens: runtime rules off for this run")


INTERPRETER = os.environ.get("PARAMLENS_INTERPRETER")


@pytest.mark.torch
@pytest.mark.skipif(not INTERPRETER, reason="needs PARAMLENS_INTERPRETER (a Python with torch)")
def test_filter_matching_no_parameter_through_the_real_worker(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(FC2_SCRIPT)
    done = subprocess.run(
        [sys.executable, "-m", "paramlens", "check", "--format", "json", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    items = json.loads(done.stdout)
    frz12 = [i for i in items if i["code"] == "FRZ12"]
    assert frz12 and frz12[0]["location"]["row"] == 12
    assert "matches no parameter" in frz12[0]["message"]
    assert "fc1.weight" in frz12[0]["message"]


def test_an_internal_error_is_exit_2_and_other_files_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from paramlens.analysis import rules

    real = rules.check_source

    def flaky(source: str, **kwargs: object) -> rules.CheckResult:
        if "boom" in source:
            raise RuntimeError("boom")
        return real(source, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rules, "check_source", flaky)
    (tmp_path / "a.py").write_text("# boom\n")
    (tmp_path / "b.py").write_text("model.training = False\n")
    code, out, err = run(capsys, "--no-runtime", str(tmp_path))
    assert code == 2
    assert "internal error on" in err and "b.py:1:1: FRZ10" in out


def test_the_trees_of_the_last_files_are_kept_up_to_a_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from paramlens import check

    monkeypatch.setattr(check, "KEPT_SOURCE_BYTES", 10)
    monkeypatch.setattr(check, "_kept_trees", [])
    monkeypatch.setattr(check, "_kept_bytes", [0])
    trees = [ast.parse(f"x = {i}") for i in range(3)]
    check._keep_until_exit(trees[0], 4)
    check._keep_until_exit(trees[1], 6)
    assert check._kept_trees == trees[:2]  # 10 bytes: within the budget
    check._keep_until_exit(trees[2], 1)
    assert check._kept_trees == [trees[2]]  # over it: the others are let go
