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

from paramlens_worker.protocol import SAME_MODULE_METHODS

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


@dataclass(frozen=True)
class VariableBuild:
    """``name = Callee(...)``, the one binding of ``name`` in its scope: the model a script
    builds from a class it does not define (``model = nn.Sequential(...)``, ``net = Net(3)``
    with ``Net`` imported). ``key`` names the report: ``model`` at module level,
    ``main.model`` in ``def main()`` (scopes named as :mod:`paramlens.analysis.source_map`
    names them)."""

    key: str
    call: ast.Call
    line: int
    local_names: frozenset[str]  # bound in its scope (none at module level: the namespace's)


def dotted_name(node: ast.expr) -> Optional[str]:
    """``nn.Linear`` for a chain of attributes on a name; None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def variable_builds(tree: ast.Module) -> list[VariableBuild]:
    """Every :class:`VariableBuild` of the module and of its functions, in source order, but
    for variables whose Module the scope restructures (:func:`restructured_name`)."""
    found: list[VariableBuild] = []

    def scope(node: ast.AST, qual: str) -> None:
        counts: dict[str, int] = {}
        assignments: list[tuple[str, ast.Call, int]] = []
        nested: list[tuple[ast.AST, str]] = []
        prefix = f"{qual}." if qual else ""
        restructured: set[str] = set()
        for child in _own_nodes(node):
            again = _same_model_again(child)
            if again is not None:
                # model = model.to(device): the same model, bound again (its target, visited
                # next, counts one)
                counts[again] = counts.get(again, 0) - 1
                continue
            for name in _bound_names(child):
                counts[name] = counts.get(name, 0) + 1
            changed = restructured_name(child)
            if changed is not None:
                restructured.add(changed)
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                nested.append((child, prefix + child.name))
            elif isinstance(child, ast.ClassDef):
                nested.extend(_class_functions(child, prefix + child.name + "."))
            elif isinstance(child, (ast.Assign, ast.AnnAssign)):
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                if (
                    len(targets) == 1
                    and isinstance(targets[0], ast.Name)
                    and isinstance(child.value, ast.Call)
                ):
                    call = constructor_call(child.value)
                    assignments.append((targets[0].id, call, child.lineno))
        local = frozenset(counts) if qual else frozenset()
        for name, call, line in assignments:
            # A model changed after its construction (``model.fc = nn.Linear(512, 10)``) has
            # names its constructor does not give.
            if counts.get(name) == 1 and name not in restructured:
                found.append(VariableBuild(prefix + name, call, line, local))
        for function, name in nested:
            scope(function, name)

    scope(tree, "")
    found.sort(key=lambda build: build.line)
    return found


def _same_module(node: ast.expr) -> ast.expr:
    """What ``node`` calls methods returning the same module on: ``X`` in
    ``X.to(device).eval()``; ``node`` itself when it calls none."""
    while (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SAME_MODULE_METHODS
    ):
        node = node.func.value
    return node


def constructor_call(call: ast.Call) -> ast.Call:
    """The call that makes the model of ``call``: ``nn.Sequential(...)`` in
    ``nn.Sequential(...).to(device).eval()`` (those methods return the same module)."""
    made = _same_module(call)
    return made if isinstance(made, ast.Call) else call


def _same_model_again(node: ast.AST) -> Optional[str]:
    """``model`` for ``model = model.to(device)`` (and the other methods that return the same
    module); None for any other statement."""
    if not isinstance(node, ast.Assign) or len(node.targets) != 1:
        return None
    target, root = node.targets[0], _same_module(node.value)
    if root is node.value or not isinstance(target, ast.Name):
        return None
    return target.id if isinstance(root, ast.Name) and root.id == target.id else None


def _class_functions(cls: ast.ClassDef, prefix: str) -> Iterator[tuple[ast.AST, str]]:
    for statement in cls.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield statement, prefix + statement.name
        elif isinstance(statement, ast.ClassDef):
            yield from _class_functions(statement, f"{prefix}{statement.name}.")


def _bound_names(node: ast.AST) -> Iterator[str]:
    """The names a node binds in its scope (a parameter, an import, ``global``: twice, so
    that such a name never counts as bound once)."""
    if isinstance(node, ast.Name):
        if not isinstance(node.ctx, ast.Load):
            yield node.id
    elif isinstance(node, ast.arg):
        yield from (node.arg, node.arg)
    elif isinstance(node, ast.alias):
        name = (node.asname or node.name).split(".")[0]
        yield from (name, name)
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        for name in node.names:
            yield from (name, name)
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield from (node.name, node.name)
    else:
        bound = getattr(node, "name", None)  # except ... as name, match patterns
        if isinstance(bound, str):
            yield from (bound, bound)


# Methods that change which submodules, parameters or buffers a Module has.
_RESTRUCTURING_METHODS = frozenset(
    {
        "add_module",
        "register_module",
        "register_parameter",
        "register_buffer",
        "append",
        "extend",
        "insert",
        "pop",
        "update",
        "__setattr__",
        "__delattr__",
        "__setitem__",
        "__delitem__",
    }
)
# Attribute stores that change a tensor's flags or values, never the Module's structure.
_FLAG_ATTRIBUTES = frozenset({"requires_grad", "data", "grad", "training"})


def restructured_name(node: ast.AST) -> Optional[str]:
    """The variable whose Module ``node`` may restructure: ``model`` in ``model.fc = ...``,
    ``model.classifier[6] = ...``, ``del model.fc``, ``model.layers.append(...)``,
    ``setattr(model, ...)``; None for anything else (``model.fc.weight.requires_grad = x``)."""
    module = restructured_module(node)
    return None if module is None else chain_root(module)


def restructured_module(node: ast.AST) -> Optional[ast.expr]:
    """The expression whose Module ``node`` may restructure: ``model.blocks`` in
    ``model.blocks[0] = ...`` or ``model.blocks.append(...)``, ``self.model`` in
    ``self.model.head = ...``; None where ``node`` restructures nothing."""
    if isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(node.ctx, ast.Load):
        if isinstance(node, ast.Attribute) and node.attr in _FLAG_ATTRIBUTES:
            return None
        return node.value
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _RESTRUCTURING_METHODS:
            return func.value
        if isinstance(func, ast.Name) and func.id in ("setattr", "delattr") and node.args:
            return node.args[0]
    return None


def chain_root(node: ast.AST) -> Optional[str]:
    """``model`` of ``model``, ``model.fc`` or ``model.blocks[0]``; None for anything else."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


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
