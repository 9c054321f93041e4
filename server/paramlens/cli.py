"""The ``paramlens`` command line: ``serve``, ``summary`` and ``check``.

Exit codes follow ruff: 0 success / clean, 1 findings or models that could not be built,
2 usage or internal error. Each subcommand lives in its own module and is imported lazily so
``paramlens check --no-runtime`` never pays for the language server's imports.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Optional

from paramlens import __version__

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


def _comma_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (the stable CLI of ARCHITECTURE.md)."""
    parser = argparse.ArgumentParser(
        prog="paramlens",
        description="The parameters of a PyTorch model on the lines of its source.",
    )
    parser.add_argument("--version", action="version", version=f"paramlens {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")

    summary = commands.add_parser("summary", help="the parameter table of each model in a file")
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

    check = commands.add_parser("check", help="report freeze code that does nothing")
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
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
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

        return run_check(args)
    parser.print_help(sys.stderr)
    return EXIT_USAGE
