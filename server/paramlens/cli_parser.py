"""The argparse parser of the ``paramlens`` command line: every ``--help`` and usage error, and
the parsing of each command line that :func:`paramlens.cli.parse_check` leaves to it. ``check``'s
arguments are built from :data:`paramlens.cli.CHECK_ARGUMENTS`, the table that parser reads.
"""

from __future__ import annotations

import argparse

from paramlens import __version__
from paramlens.cli import CHECK_ARGUMENTS, FLAG, LIST, PATHS, Argument, comma_list
from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, Optional

    _Commands = argparse._SubParsersAction[argparse.ArgumentParser]


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


def _add(parser: argparse.ArgumentParser, argument: Argument) -> None:
    if argument.kind == FLAG:
        parser.add_argument(argument.name, action="store_true", help=argument.help)
    else:
        parser.add_argument(
            argument.name,
            nargs="+" if argument.kind == PATHS else None,
            type=comma_list if argument.kind == LIST else str,
            choices=argument.choices,
            default=argument.default,
            metavar=argument.metavar,
            help=argument.help,
        )


def _check(commands: _Commands) -> None:
    check = _command(commands, "check", "report freeze code that does nothing")
    for argument in CHECK_ARGUMENTS:
        _add(check, argument)


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
