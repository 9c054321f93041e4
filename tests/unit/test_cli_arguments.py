"""``paramlens.cli.parse_check``, the parser of well-formed ``check`` command lines that spares
argparse's import: it says what argparse says, or leaves the command line to argparse."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paramlens.cli import CHECK_ARGUMENTS, FLAG, PATHS, parse_check
from paramlens.cli_parser import build_parser

DEFAULTS = {
    "command": "check",
    "format": "text",
    "select": None,
    "ignore": None,
    "no_runtime": False,
    "fix": False,
    "no_cache": False,
    "interpreter": None,
}
FLAGS = [a.name for a in CHECK_ARGUMENTS if a.kind == FLAG]
VALUED = [a for a in CHECK_ARGUMENTS if a.kind not in (FLAG, PATHS)]
OPTIONS = FLAGS + [a.name for a in VALUED]
VALUES = ["text", "json", "xml", "A,B", " frz01 , ,FRZ10", "", "python3", "x y", "a=b"]
BAD_VALUES = ["-x", "-", "--", "-1", "--fix", "-x y"]
PATH_NAMES = ["a.py", "src/", "x=y", "", "with space.py", "check"]


def argparse_vars(argv: list[str]) -> Optional[dict[str, Any]]:
    """What argparse's parser of every subcommand makes of ``argv``; None if it refuses it."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return vars(build_parser().parse_args(argv))
    except SystemExit:
        return None


def fast_vars(argv: list[str]) -> Optional[dict[str, Any]]:
    parsed = parse_check(argv)
    return None if parsed is None else vars(parsed)


@st.composite
def _option(draw: st.DrawFn) -> list[str]:
    """A check option spelled in full, with a value it takes in either form."""
    name = draw(st.sampled_from(OPTIONS))
    if name in FLAGS:
        return [name]
    choices = next(a.choices for a in VALUED if a.name == name)
    value = draw(st.sampled_from(choices or VALUES))
    return [f"{name}={value}"] if draw(st.booleans()) else [name, value]


@st.composite
def well_formed(draw: st.DrawFn) -> list[str]:
    """``check``, options, one run of paths (after ``--``: any tokens), options."""
    options = st.lists(_option(), max_size=4).map(
        lambda groups: [token for group in groups for token in group]
    )
    before = draw(options)
    if draw(st.booleans()):
        anything = st.sampled_from(PATH_NAMES + OPTIONS + BAD_VALUES)
        return ["check", *before, "--", *draw(st.lists(anything, min_size=1, max_size=4))]
    paths = draw(st.lists(st.sampled_from(PATH_NAMES), min_size=1, max_size=3))
    return ["check", *before, *paths, *draw(options)]


PREFIXES = sorted({name[:end] for name in OPTIONS for end in range(1, len(name))})
TOKENS = st.one_of(
    st.sampled_from([*OPTIONS, *PREFIXES, "-h", "--help", "--version", "-x", "--bogus", "--=x"]),
    st.builds(
        "{}={}".format, st.sampled_from(OPTIONS + PREFIXES), st.sampled_from(VALUES + BAD_VALUES)
    ),
    st.sampled_from(VALUES + BAD_VALUES + PATH_NAMES),
    st.text(max_size=6),
)


@st.composite
def near_misses(draw: st.DrawFn) -> list[str]:
    """A well-formed command line with a token of any kind put in anywhere."""
    argv = draw(well_formed())
    at = draw(st.integers(0, len(argv)))
    return [*argv[:at], draw(TOKENS), *argv[at:]]


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        well_formed(),
        near_misses(),
        st.lists(TOKENS, max_size=8).map(lambda tokens: ["check", *tokens]),
        st.lists(TOKENS, max_size=8),
    )
)
def test_the_fast_parser_says_what_argparse_says_or_leaves_it_to_argparse(argv: list[str]) -> None:
    fast = fast_vars(argv)
    assert fast is None or fast == argparse_vars(argv)


@settings(max_examples=300, deadline=None)
@given(well_formed())
def test_a_well_formed_check_command_line_is_parsed_without_argparse(argv: list[str]) -> None:
    fast = fast_vars(argv)
    assert fast is not None and fast == argparse_vars(argv)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["x.py"], {"paths": ["x.py"]}),
        (["--format", "json", "a", "b"], {"format": "json", "paths": ["a", "b"]}),
        (["--format=json", "a"], {"format": "json", "paths": ["a"]}),
        (["--format", "json", "--format=text", "a"], {"paths": ["a"]}),  # the last one wins
        (
            ["--select", " frz01, ,FRZ10", "--ignore=FRZ02", "a"],
            {"select": ["frz01", "FRZ10"], "ignore": ["FRZ02"], "paths": ["a"]},
        ),
        (
            ["--select=", "--select=A", "--ignore=", "a"],
            {"select": ["A"], "ignore": [], "paths": ["a"]},
        ),
        (
            ["--no-runtime", "a", "b", "--fix", "--no-cache", "--interpreter", "py -X dev"],
            {
                "no_runtime": True,
                "fix": True,
                "no_cache": True,
                "interpreter": "py -X dev",
                "paths": ["a", "b"],
            },
        ),
        (["--", "--fix", "-x"], {"paths": ["--fix", "-x"]}),
        (["--fix", "a", "--", "b", "--", "-"], {"fix": True, "paths": ["a", "b", "--", "-"]}),
        (["a", "--"], {"paths": ["a"]}),
        ([""], {"paths": [""]}),
    ],
)
def test_well_formed_command_lines(argv: list[str], expected: dict[str, Any]) -> None:
    expected = {**DEFAULTS, **expected}
    assert fast_vars(["check", *argv]) == argparse_vars(["check", *argv]) == expected


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["--version"],
        ["summary", "a"],
        ["--no-runtime", "check", "a"],
        ["a", "check"],
        ["check"],
        ["check", "--fix"],
        ["check", "--"],
        ["check", "-h", "a"],
        ["check", "--help", "a"],
        ["check", "--version", "a"],
        ["check", "--bogus", "a"],
        ["check", "-x", "a"],
        ["check", "-", "a"],  # argparse: a path
        ["check", "--no-run", "a"],  # argparse: --no-runtime
        ["check", "--form=json", "a"],  # argparse: --format=json
        ["check", "--interpreter", "-1", "a"],  # argparse: a value that looks like a number
        ["check", "-x y", "a"],  # argparse: a path, for the space
        ["check", "--format", "xml", "a"],
        ["check", "--format=", "a"],
        ["check", "--format", "-x", "a"],
        ["check", "--interpreter=-x", "a"],  # argparse: the value -x
        ["check", "--interpreter=--", "a"],  # argparse 3.11: the value []
        ["check", "--select", "--fix", "a"],
        ["check", "--select", "--", "a"],
        ["check", "a", "--ignore"],
        ["check", "--fix=yes", "a"],
        ["check", "a", "--fix", "b"],
        ["check", "a", "--fix", "--", "b"],
        ["check", "a", "--fix", "--"],
    ],
)
def test_what_the_fast_parser_leaves_to_argparse(argv: list[str]) -> None:
    assert parse_check(argv) is None


IMPORTS_ARGPARSE = (
    "import sys\nfrom paramlens.cli import main\nmain(sys.argv[1:])\n"
    "print('argparse' in sys.modules)\n"
)


def _run(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS_ARGPARSE, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout


def test_a_check_command_line_never_imports_argparse(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("import torch\n")
    assert _run("check", "--no-runtime", "--no-cache", str(script)) == "All checks passed!\nFalse\n"


def test_check_help_is_still_argparses() -> None:
    out = _run("check", "--help")
    assert out.startswith("usage: paramlens check [-h]")
    assert "--no-runtime" in out and out.endswith("\nTrue\n")
