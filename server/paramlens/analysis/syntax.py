"""The ``ast`` module for the modules that every ``paramlens check`` imports, without importing
``ast`` itself: its node classes (from ``_ast``, where ``ast`` takes them too) and the three
functions of it the rules call.

Importing ``ast`` brings ``enum`` and ``contextlib`` with it: some 25 million instructions,
about 4 ms of each start of the command, as much as checking 200 lines. Those modules import
this one as ``ast`` (``from paramlens.analysis import syntax as ast``); the node classes are
the very classes of ``ast``, and to mypy this module is ``ast`` as far as they use it. Code
that needs more of ``ast`` (``unparse``, ``NodeVisitor``) imports ``ast`` where it runs.
"""

from __future__ import annotations

from _ast import *  # noqa: F403
from _ast import AST, Module, PyCF_ONLY_AST

from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Union


def parse(source: Union[str, bytes], filename: str = "<unknown>") -> Module:
    """``ast.parse(source, filename)``: the tree of a whole file."""
    tree = compile(source, filename, "exec", PyCF_ONLY_AST)
    assert isinstance(tree, Module)
    return tree


def iter_child_nodes(node: AST) -> Iterator[AST]:
    """``ast.iter_child_nodes``: the direct children of ``node``, in field order."""
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, AST):
            yield value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, AST):
                    yield item


def walk(node: AST) -> Iterator[AST]:
    """``ast.walk``: ``node`` and all its descendants, breadth first."""
    todo = [node]
    for current in todo:
        todo.extend(iter_child_nodes(current))
        yield current
