"""Pure source facts for the inspection child: call sites with literal arguments, the lines of
classes and of ``self.<name> = ...`` assignments, and the user's frame of a failure.

Standard library only (no torch), unit-tested without torch.
"""

from __future__ import annotations

import ast
import operator
import re
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
}
_PLAIN = (int, float, complex, str, bytes, bool, type(None), tuple, list, dict, set, frozenset)


class NotLiteral(ValueError):
    """An argument that is not a literal or a module constant."""


def evaluate_literal(node: ast.expr, namespace: Mapping[str, Any]) -> Any:
    """The value of ``node`` when it is a literal, a module-level name, an attribute of a module
    or class (``torch.float16``, ``nn.ReLU``), a container or arithmetic of those; raises
    :class:`NotLiteral` for anything that would run code (calls, comprehensions, ...)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in namespace:
            raise NotLiteral(f"{node.id} is not a module constant")
        return namespace[node.id]
    if isinstance(node, ast.Attribute):
        base = evaluate_literal(node.value, namespace)
        if not isinstance(base, (types.ModuleType, type)):
            raise NotLiteral(f"attribute of a {type(base).__name__}")
        try:
            return getattr(base, node.attr)
        except AttributeError as error:
            raise NotLiteral(str(error)) from error
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        if any(isinstance(e, ast.Starred) for e in node.elts):
            raise NotLiteral("starred element")
        values = [evaluate_literal(e, namespace) for e in node.elts]
        if isinstance(node, ast.List):
            return values
        return tuple(values) if isinstance(node, ast.Tuple) else set(values)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise NotLiteral("dict unpacking")
        return {
            evaluate_literal(k, namespace): evaluate_literal(v, namespace)
            for k, v in zip(node.keys, node.values)
            if k is not None
        }
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        operand = evaluate_literal(node.operand, namespace)
        _require_plain(operand)
        return _UNARY[type(node.op)](operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = evaluate_literal(node.left, namespace)
        right = evaluate_literal(node.right, namespace)
        _require_plain(left)
        _require_plain(right)
        try:
            return _BINARY[type(node.op)](left, right)
        except (ArithmeticError, TypeError, ValueError) as error:
            raise NotLiteral(str(error)) from error
    raise NotLiteral(f"{type(node).__name__} is not a literal")


def _require_plain(value: Any) -> None:
    if not isinstance(value, _PLAIN):
        raise NotLiteral(f"arithmetic on a {type(value).__name__}")


def call_arguments(
    call: ast.Call, namespace: Mapping[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments of ``call``; raises :class:`NotLiteral`."""
    args = []
    for arg in call.args:
        if isinstance(arg, ast.Starred):
            raise NotLiteral("*args")
        args.append(evaluate_literal(arg, namespace))
    kwargs = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise NotLiteral("**kwargs")
        kwargs[keyword.arg] = evaluate_literal(keyword.value, namespace)
    return args, kwargs


def call_sites(tree: ast.AST) -> dict[str, list[ast.Call]]:
    """Calls of plain names (``DarkNet(...)``), by name, in source order."""
    sites: dict[str, list[ast.Call]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            sites.setdefault(node.func.id, []).append(node)
    for calls in sites.values():
        calls.sort(key=lambda c: (c.lineno, c.col_offset))
    return sites


def returned_callees(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """What ``function`` may return, as callee names: its return annotation, ``return
    <name>(...)`` and ``return x`` where ``x = <name>(...)`` in the function (not nested defs)."""
    names = []
    if function.returns is not None:
        names.append(ast.unparse(function.returns))
    own = sorted(
        (n for n in _own_nodes(function) if isinstance(n, (ast.Return, ast.Assign))),
        key=lambda n: n.lineno,
    )
    assigned: dict[str, str] = {}
    for node in own:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, ast.unparse(node.value.func))
    for node in own:
        if not isinstance(node, ast.Return):
            continue
        if isinstance(node.value, ast.Call):
            names.append(ast.unparse(node.value.func))
        elif isinstance(node.value, ast.Name) and node.value.id in assigned:
            names.append(assigned[node.value.id])
    return names


def _own_nodes(function: ast.AST) -> Iterator[ast.AST]:
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


@dataclass
class ClassSource:
    """Where a class is defined and where its methods assign ``self.<name>``."""

    line: int
    assigned: dict[str, int] = field(default_factory=dict)


def class_index(tree: ast.Module) -> dict[str, ClassSource]:
    """Classes of a module by ``__qualname__``: their ``class`` line (1-based) and the first
    ``self.<name> = ...`` (or ``self.add_module("<name>", ...)``) line of each attribute,
    ``__init__`` first, then other methods."""
    index: dict[str, ClassSource] = {}

    def visit(body: Sequence[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                qualname = f"{prefix}{node.name}"
                index[qualname] = ClassSource(node.lineno, _assignments(node))
                visit(node.body, f"{qualname}.")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(node.body, f"{prefix}{node.name}.<locals>.")
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
                visit([n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt)], prefix)

    visit(tree.body, "")
    return index


def _assignments(cls: ast.ClassDef) -> dict[str, int]:
    methods = [n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    methods.sort(key=lambda m: m.name != "__init__")
    assigned: dict[str, int] = {}
    for method in methods:
        if not method.args.args:
            continue
        this = method.args.args[0].arg
        found: dict[str, int] = {}
        for node in _own_nodes(method):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = list(node.targets)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets = [node.target]
            named = [(a.attr, a.lineno) for t in targets for a in _self_attributes(t, this)]
            registered = _registered_name(node, this)
            if registered is not None:
                named.append(registered)
            for attribute, lineno in named:
                if attribute not in found or lineno < found[attribute]:
                    found[attribute] = lineno
        for name, line in found.items():
            assigned.setdefault(name, line)
    return assigned


def _registered_name(node: ast.AST, this: str) -> Optional[tuple[str, int]]:
    """``self.add_module("name", ...)`` / ``self.register_module("name", ...)``: name, line."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _REGISTERS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == this
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value, node.lineno
    return None


_REGISTERS = frozenset({"add_module", "register_module"})


def _self_attributes(target: ast.expr, this: str) -> Iterator[ast.Attribute]:
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _self_attributes(element, this)
    elif (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == this
    ):
        yield target


_FAULT_FRAME = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+)')


def fault_frames(text: str) -> list[tuple[str, int]]:
    """``(file, line)`` frames of a :mod:`faulthandler` dump, innermost first."""
    frames = []
    for raw in text.splitlines():
        match = _FAULT_FRAME.match(raw)
        if match:
            frames.append((match["file"], int(match["line"])))
    return frames


def first_user_frame(
    frames: Sequence[tuple[str, int]], is_user_file: Callable[[str], bool]
) -> tuple[Optional[str], Optional[int]]:
    """The first frame of ``frames`` in user code, else ``(None, None)``."""
    for file, line in frames:
        if is_user_file(file):
            return file, line
    return None, None
