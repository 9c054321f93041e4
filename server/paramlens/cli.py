"""The ``paramlens`` command line: ``serve``, ``summary`` and ``check``.

Exit codes follow ruff: 0 success / clean, 1 findings or models that could not be built,
2 usage or internal error. Each subcommand lives in its own module and is imported lazily so
``paramlens check --no-runtime`` never pays for the language server's imports.

Nor for argparse's: importing it (gettext and locale with it) and building the parser cost some
14 million instructions of every check, a tenth of a run on an empty file. So a well-formed
``check`` command line is parsed here, by :func:`parse_check`, from the table of ``check``'s
arguments that :mod:`paramlens.cli_parser` builds argparse's parser from; any other command line
goes to argparse, which keeps every message and exit code its own.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from types import SimpleNamespace

from paramlens.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import argparse
    from typing import Optional, Union

    # What run_check is given: argparse's namespace, or parse_check's with the same attributes.
    Arguments = Union[argparse.Namespace, SimpleNamespace]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

# The kinds of argument: an option without a value (store_true), one with a value, one whose
# value is a comma-separated list, and the positionals (one or more).
FLAG = "flag"
VALUE = "value"
LIST = "list"
PATHS = "paths"


class Argument(NamedTuple):
    """One argument of ``paramlens check``: its option string (for the positionals, their
    destination), its kind, and what argparse shows of it. argparse's parser is built from these
    and :func:`parse_check` reads them."""

    name: str
    kind: str
    help: Optional[str] = None
    metavar: Optional[str] = None
    choices: Optional[tuple[str, ...]] = None
    default: Optional[str] = None

    @property
    def dest(self) -> str:
        """The attribute of the parsed arguments, named as argparse names it."""
        return self.name.lstrip("-").replace("-", "_")


CHECK_ARGUMENTS = (
    Argument("paths", PATHS, "files or directories", metavar="PATH"),
    Argument("--format", VALUE, choices=("text", "json"), default="text"),
    Argument("--select", LIST, "only these codes", metavar="CODES"),
    Argument("--ignore", LIST, "skip these codes", metavar="CODES"),
    Argument("--no-runtime", FLAG, "static rules only; never run user code"),
    Argument("--fix", FLAG, "apply the fixes that are certain"),
    Argument("--no-cache", FLAG, "neither read nor write .paramlens_cache/"),
    Argument("--interpreter", VALUE, "the Python (with torch) for runtime-aware rules"),
)
_CHECK_OPTIONS = {argument.name: argument for argument in CHECK_ARGUMENTS if argument.kind != PATHS}


def comma_list(value: str) -> list[str]:
    """The parts of a comma-separated value, stripped, the empty ones left out."""
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_check(arguments: Sequence[str]) -> Optional[SimpleNamespace]:
    """What argparse's ``parse_args`` makes of ``arguments``, a ``check`` command line, when
    that is certain; None for any other command line, for argparse to parse or refuse: ``--help``,
    an option not spelled in full, an option's value that is missing or starts with ``-``, an
    invalid choice, no path, paths that an option splits in two (argparse takes only the first
    run of them), and so on."""
    if not arguments or arguments[0] != "check":
        return None
    paths: list[str] = []
    values: dict[str, object] = {"command": "check"}
    for argument in CHECK_ARGUMENTS:
        if argument.kind == PATHS:
            values[argument.dest] = paths
        else:
            values[argument.dest] = False if argument.kind == FLAG else argument.default
    options_ended = False
    paths_ended = False  # by an option: argparse takes one run of paths, refuses a second
    tokens = iter(arguments[1:])
    for token in tokens:
        if options_ended or not token.startswith("-"):
            if paths_ended:
                return None
            paths.append(token)
        elif token == "--":
            if paths_ended:
                return None
            options_ended = True
        else:
            name, equals, value = token.partition("=")
            option = _CHECK_OPTIONS.get(name)
            if option is None:
                return None
            paths_ended = bool(paths)
            if option.kind == FLAG:
                if equals:
                    return None
                values[option.dest] = True
                continue
            if not equals:
                value = next(tokens, "-")  # none left: refused as a value starting with - is
            # after "=" too, where argparse accepts them but drops a "--" (3.11: the value [])
            if value.startswith("-") or (
                option.choices is not None and value not in option.choices
            ):
                return None
            values[option.dest] = comma_list(value) if option.kind == LIST else value
    return SimpleNamespace(**values) if paths else None


def _end_process(code: int) -> None:
    """Exit with ``code`` now that the output is written, skipping the interpreter's teardown
    (finalising every module, freeing every object: ~1-1.5 ms after a check), as mypy does. Returns,
    for the usual exit, when a flush fails (a closed pipe: the usual exit reports it) or another
    thread still runs (the usual exit waits for it)."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        return
    os._exit(code)


def _check(args: Arguments, ends_process: bool) -> int:
    # The cyclic collector is off for the whole check: its imports allocate much and free
    # little, the engine unties what it builds, and collections would walk the engine and the
    # files' trees again and again for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        from paramlens.check import run_check

        code = run_check(args)
        if ends_process:
            _end_process(code)
        return code
    finally:
        if collecting:
            gc.enable()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code. As the ``paramlens`` command itself
    (``argv`` None: the command line is the process's), ``check`` ends the process instead."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    ends_process = argv is None  # the paramlens command itself, not a call from Python code
    check_args = parse_check(arguments)
    if check_args is not None:
        return _check(check_args, ends_process)
    from paramlens.cli_parser import COMMANDS, build_parser

    parser = build_parser(arguments[0] if arguments and arguments[0] in COMMANDS else None)
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exit_:  # argparse exits 2 on usage errors, 0 on --help
        return int(exit_.code or 0)
    if args.command == "serve":
        from paramlens.server import serve

        return serve(tcp=args.tcp)
    if args.command == "summary":
        from paramlens.summary import run_summary

        return run_summary(args)
    if args.command == "check":
        return _check(args, ends_process)
    parser.print_help(sys.stderr)
    return EXIT_USAGE
