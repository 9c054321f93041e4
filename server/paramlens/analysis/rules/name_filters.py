"""Literal name filters in ``named_*()`` loops: FRZ12 (matches nothing or too much, decidable
without the model) and FRZ15E (a wrapper's prefix missing from the filter)."""

from __future__ import annotations

from collections.abc import Iterator

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import Severity
from paramlens.analysis.rules.engine import Binding, Family, Kind, Scope
from paramlens.analysis.rules.facts import walk
from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Union

    _Loop = Union[ast.For, ast.AsyncFor]

_LEAF_NAMES = frozenset({"weight", "bias", "in_proj_weight", "in_proj_bias", "pos_embed",
                         "cls_token", "scale", "alpha", "gamma", "beta"})  # fmt: skip
# Containers name their parameters "0.weight": a plain name never matches. Other torch layers
# (nn.LSTM's "weight_ih_l0") have undotted names of their own.
_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})


def _literals(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [
            e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        ]
    return []


def comparisons(test: ast.expr, name: str) -> Iterator[tuple[str, str, ast.expr]]:
    """``(how, literal, node)`` for each positive literal test of the variable ``name``:
    how is ``eq`` (==, in [...]), ``contains`` ('x' in name), ``prefix`` or ``suffix``."""
    stack: list[ast.expr] = [test]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.BoolOp):
            stack.extend(node.values)
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, op, right = node.left, node.ops[0], node.comparators[0]
            if isinstance(left, ast.Name) and left.id == name:
                if isinstance(op, (ast.Eq, ast.In)):
                    for lit in _literals(right)[:1]:
                        yield "eq", lit, node
            elif isinstance(right, ast.Name) and right.id == name and isinstance(op, ast.In):
                for lit in _literals(left):
                    yield "contains", lit, node
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == name
            and node.func.attr in ("startswith", "endswith")
            and node.args
        ):
            how = "prefix" if node.func.attr == "startswith" else "suffix"
            for lit in _literals(node.args[0])[:1]:
                yield how, lit, node


class NameFilterRules(Family):
    """Filters whose literals cannot match the names the loop yields."""

    def for_loop(self, stmt: _Loop, scope: Scope) -> None:
        it = stmt.iter
        target = stmt.target
        if not (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Attribute)
            and it.func.attr in ("named_parameters", "named_children", "named_modules")
            and isinstance(target, ast.Tuple)
            and len(target.elts) == 2
            and isinstance(target.elts[0], ast.Name)
        ):
            return
        method = it.func.attr
        name = target.elts[0].id
        tests: list[tuple[str, str, ast.expr]] = []
        for child in stmt.body:
            for node in walk(child):
                if isinstance(node, (ast.If, ast.IfExp, ast.While)):
                    tests.extend(comparisons(node.test, name))
                elif type(node) is ast.Name and node.id == name and type(node.ctx) is not ast.Load:
                    return  # `name = name.split(".")[0]`: the tests see other names
        if tests:
            owner = self.classify(it.func.value, scope.env, scope)
            for how, lit, where in tests:
                self._check(method, how, lit, where, owner, it.func.value)

    def _root_lacks(self, owner: Union[Binding, None], lit: str) -> bool:
        """Is ``owner`` known to have no root-level parameter named ``lit``? Only a container
        or a class of this file says so: library models may have root parameters."""
        if owner is None or owner.kind is not Kind.MODULE or not owner.detail:
            return False
        if owner.detail in _CONTAINERS:
            return True
        own = self.ctx.facts.own_parameters(owner.detail)
        return own is not None and lit not in own

    def _check(
        self, method: str, how: str, lit: str, where: ast.expr, owner: Union[Binding, None],
        receiver: ast.expr,
    ) -> None:  # fmt: skip
        if owner is not None and owner.kind is Kind.WRAPPER:
            prefix = owner.detail.replace("ddp", "")
            if how in ("eq", "prefix") and not lit.startswith(prefix):
                text = self.ctx.text(receiver)
                self.ctx.report(
                    "FRZ15E",
                    where,
                    f"{text} is a wrapper (line {self.ctx.line_of(owner.node or where)}): its "
                    f"names start with '{prefix}', so '{lit}' matches nothing; filter "
                    f"{text}.{prefix.rstrip('.')}.{method}() instead",
                )
            return
        if method == "named_children" and "." in lit and how in ("eq", "prefix"):
            self.ctx.report(
                "FRZ12",
                where,
                f"named_children() yields only direct children, never a dotted name like "
                f"'{lit}': this filter matches nothing; use get_submodule('{lit}')",
            )
        elif (
            method == "named_parameters"
            and how == "eq"
            and "." not in lit
            and lit not in _LEAF_NAMES
            and self._root_lacks(owner, lit)
        ):
            self.ctx.report(
                "FRZ12",
                where,
                f"parameter names are dotted paths ('{lit}.0.weight'): '{lit}' equals a name only "
                "for a parameter of the root module, so this filter matches nothing; use "
                f"name.startswith('{lit}.')",
            )
        elif method == "named_parameters" and how in ("contains", "prefix") and _numbered(lit):
            self.ctx.report(
                "FRZ12",
                where,
                f"'{lit}' also matches '{lit}0' ... '{lit}9' (and deeper numbers): the filter "
                f"over-matches; use name.startswith('{lit}.')",
                severity=Severity.INFO,
            )


def _numbered(literal: str) -> bool:
    """Does ``literal`` end in a dot and a number other than 0, an index that other indices
    extend (``'blocks.1'`` is a prefix of ``'blocks.10'``; ``'blocks.0'`` never is: indices
    have no leading zeros)? What the pattern ``\\.(?!0$)\\d+$`` finds, without importing ``re``."""
    _, dot, number = literal.removesuffix("\n").rpartition(".")
    return bool(dot) and number.isdecimal() and number != "0"
