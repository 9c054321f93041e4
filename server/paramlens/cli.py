"""The ``paramlens`` command line: ``serve``, ``summary`` and ``check``.

Exit codes follow ruff: 0 success / clean, 1 findings or models that could not be built,
2 usage or internal error. Each subcommand lives in its own module and is imported lazily so
``paramlens check --no-runtime`` never pays for the language server's imports.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from paramlens import __version__
from paramlens.records import TYPE_CHECKING

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

if TYPE_CHECKING:
    from typing import Any, Optional

    _Commands = argparse._SubParsersAction[argparse.ArgumentParser]


def _comma_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's own formatter, set up on first use. argparse also makes one for each
    ``add_argument``, only to check the metavar (which reads nothing of the set-up), and setting
    up measures the terminal: importing shutil for that costs ~1.7 ms, half the parser's build."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__["_deferred"] = (args, kwargs)

    def __getattr__(self, name: str) -> Any:  # only for what the instance does not have yet
        deferred = self.__dict__.pop("_deferred", None)
        if deferred is None:
            raise AttributeError(name)
        early = dict(self.__dict__)  # set before the set-up: it stays, as if set after it
        super().__init__(*deferred[0], **deferred[1])
        self.__dict__.update(early)
        return getattr(self, name)


def _command(commands: _Commands, name: str, help: str) -> argparse.ArgumentParser:
    return commands.add_parser(name, help=help, formatter_class=_HelpFormatter)


def _serve(commands: _Commands) -> None:
    serve = _command(commands, "serve", "run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")


def _summary(commands: _Commands) -> None:
    summary = _command(commands, "summary", "the parameter table of each model in a file")
    summary.add_argument("path", help="a Python file defining nn.Module classes")
    summary.add_argument("--object", metavar="NAME", help="only this class or factory")
    summary.add_argument("--format", choices=["text", "json"], default="text")
    summary.add_argument("--device", choices=["meta", "cpu"], default=None)
    summary.add_argument(
        "--load-mode",
        choices=["definitions", "module"],
        default=None,
        help="definitions (default): run only imports, defs, classes and constants",
    )
    summary.add_argument("--interpreter", help="the Python (with torch) to build models in")


def _check(commands: _Commands) -> None:
    check = _command(commands, "check", "report freeze code that does nothing")
    check.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    check.add_argument("--format", choices=["text", "json"], default="text")
    check.add_argument("--select", type=_comma_list, metavar="CODES", help="only these codes")
    check.add_argument("--ignore", type=_comma_list, metavar="CODES", help="skip these codes")
    check.add_argument(
        "--no-runtime", action="store_true", help="static rules only; never run user code"
    )
    check.add_argument("--fix", action="store_true", help="apply the fixes that are certain")
    check.add_argument(
        "--no-cache", action="store_true", help="neither read nor write .paramlens_cache/"
    )
    check.add_argument("--interpreter", help="the Python (with torch) for runtime-aware rules")


COMMANDS = {"serve": _serve, "summary": _summary, "check": _check}  # in the order of --help


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The argument parser of every subcommand (the stable CLI of ARCHITECTURE.md), or of the
    main parser and only the subcommand ``command``: what parsing a command line that starts
    with it needs (the others only show in the main parser's help and its "invalid choice")."""
    parser = argparse.ArgumentParser(
        prog="paramlens",
        description="The parameters of a PyTorch model on the lines of its source.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"paramlens {__version__}")
    # prog: what argparse would make of the main parser's usage (it has no positionals), given
    # so that building never formats
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", prog=parser.prog)
    for name, add in COMMANDS.items():
        if command is None or command == name:
            add(commands)
    return parser


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


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code. As the ``paramlens`` command itself
    (``argv`` None: the command line is the process's), ``check`` ends the process instead."""
    arguments = sys.argv[1:] if argv is None else list(argv)
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
        from paramlens.check import run_check

        code = run_check(args)
        if argv is None:  # the paramlens command itself, not a call from Python code
            _end_process(code)
        return code
    parser.print_help(sys.stderr)
    return EXIT_USAGE
