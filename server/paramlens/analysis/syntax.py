"""The ``ast`` module for the modules that every ``paramlens check`` imports, without importing
``ast`` itself: its node classes (from ``_ast``, where ``ast`` takes them too) and ``parse``.

Importing ``ast`` brings ``enum`` and ``contextlib`` with it: some 25 million instructions,
about 4 ms of each start of the command, as much as checking 200 lines. Those modules import
this one as ``ast`` (``from paramlens.analysis import syntax as ast``); the node classes are
the very classes of ``ast``, and to mypy this module is ``ast`` as far as they use it. To walk
a tree they use :mod:`paramlens.analysis.rules.facts` (``walk``, ``child_nodes``); code that
needs more of ``ast`` (``unparse``, ``NodeVisitor``) imports ``ast`` where it runs.
"""

from __future__ import annotations

from _ast import *  # noqa: F403
from _ast import Module, PyCF_ONLY_AST

from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Union


def parse(source: Union[str, bytes], filename: str = "<unknown>") -> Module:
    """``ast.parse(source, filename)``: the tree of a whole file."""
    tree = compile(source, filename, "exec", PyCF_ONLY_AST)
    assert isinstance(tree, Module)
    return tree
