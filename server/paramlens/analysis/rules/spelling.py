"""FRZ04 (misspelt, shadowed, uncalled, called or non-bool ``requires_grad``) and FRZ06
(``p.requires_grad == False`` as a statement)."""

from __future__ import annotations

import functools

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import Fix, Severity
from paramlens.analysis.rules.engine import Binding, Family, Kind, Scope, Sink
from paramlens.analysis.rules.fixes import call_method_instead, rename_attribute, replace_node
from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Optional

_TARGETS = ("requiresgrad", "requiresgradient")


def _distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance, cut off above ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@functools.cache  # attribute names repeat: each is judged once
def is_requires_grad_typo(attr: str) -> bool:
    """``require_grad``, ``requiresGrad``, ``requires_gradient``...: a misspelt requires_grad."""
    if attr in ("requires_grad", "requires_grad_") or attr[:1].lower() != "r":
        return False
    normal = attr.lower().replace("_", "")
    return any(_distance(normal, t, 2) <= 2 for t in _TARGETS)


def _bool_for(value: ast.expr) -> Optional[str]:
    if isinstance(value, ast.Constant) and not isinstance(value.value, bool):
        if value.value in ("False", "false", 0) and not isinstance(value.value, float):
            return "False"
        if value.value in ("True", "true", 1) and not isinstance(value.value, float):
            return "True"
    return None


class SpellingRules(Family):
    """Slips in writing ``requires_grad`` itself."""

    call_methods = frozenset({"requires_grad"})
    call_names = False
    expr_stmt_values = frozenset({ast.Attribute, ast.Compare})

    def attr_store(
        self, target: ast.Attribute, value: ast.expr, stmt: ast.stmt, scope: Scope
    ) -> None:
        fix: Optional[Fix] = None
        if target.attr == "requires_grad_":
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                fix = call_method_instead(self.ctx, stmt, target.value, "requires_grad_", value)
            self.ctx.report(
                "FRZ04",
                target,
                "assigns to the method requires_grad_: nothing is frozen, and every later "
                "requires_grad_(...) call on this object raises TypeError ('bool' object is "
                "not callable)",
                fix=fix,
            )
        elif is_requires_grad_typo(target.attr):
            receiver = self.classify(target.value, scope.env, scope)
            if (
                receiver is not None
                and receiver.kind is Kind.MODULE
                and isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
            ):
                fix = call_method_instead(self.ctx, stmt, target.value, "requires_grad_", value)
            else:
                fix = rename_attribute(self.ctx, target, "requires_grad", "Spell `requires_grad`")
            self.ctx.report(
                "FRZ04",
                target,
                f"'{target.attr}' is not requires_grad: tensors and modules accept any new "
                "attribute, so this stores an unused value and nothing is frozen",
                fix=fix,
            )

    def sink(self, sink: Sink, env: dict[str, Binding], scope: Scope) -> None:
        value = sink.value
        where = sink.target if sink.target is not None else sink.node
        if value is None:
            receiver = self.classify(sink.receiver, env, scope)
            if (
                sink.form == "call"
                and isinstance(sink.node, ast.Call)
                and not sink.node.args
                and not sink.used
                and receiver is not None
                and receiver.kind in (Kind.PARAM, Kind.MODULE)
            ):
                self.ctx.report(
                    "FRZ04",
                    sink.node,
                    "requires_grad_() without an argument means requires_grad_(True): it "
                    "unfreezes; pass True or False explicitly",
                    severity=Severity.INFO,
                )
            return
        if isinstance(value, ast.Constant) and not isinstance(value.value, bool):
            replacement = _bool_for(value)
            fix = (
                replace_node(self.ctx, value, replacement, f"Use `{replacement}`")
                if replacement
                else None
            )
            raised = (
                "RuntimeError ('requires_grad must be a bool')"
                if sink.form == "assign"
                else "TypeError (argument 'requires_grad' must be bool)"
            )
            self.ctx.report(
                "FRZ04",
                where,
                f"requires_grad takes a bool, not {type(value.value).__name__} "
                f"{value.value!r}: this raises {raised}",
                severity=Severity.ERROR,
                fix=fix,
            )

    def call(self, node: ast.Call, env: dict[str, Binding], scope: Scope) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "requires_grad":
            self.ctx.report(
                "FRZ04",
                node,
                "requires_grad is a bool property, not a method: calling it raises TypeError "
                "('bool' object is not callable); call requires_grad_(...)",
                severity=Severity.ERROR,
                fix=rename_attribute(self.ctx, func, "requires_grad_", "Call `requires_grad_`"),
            )

    def expr_stmt(self, stmt: ast.Expr, scope: Scope) -> None:
        value = stmt.value
        if isinstance(value, ast.Attribute) and value.attr == "requires_grad_":
            self.ctx.report(
                "FRZ04",
                value,
                "requires_grad_ is named but not called: this statement does nothing",
            )
        elif isinstance(value, ast.Compare) and any(
            isinstance(side, ast.Attribute) and side.attr == "requires_grad"
            for side in (value.left, *value.comparators)
        ):
            if not all(isinstance(op, (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)) for op in value.ops):
                return
            fix = None
            if (
                len(value.ops) == 1
                and isinstance(value.ops[0], (ast.Eq, ast.Is))
                and isinstance(value.left, ast.Attribute)
                and value.left.attr == "requires_grad"
            ):
                new = f"{self.ctx.text(value.left)} = {self.ctx.text(value.comparators[0])}"
                fix = replace_node(self.ctx, value, new, "Assign with `=`")
            self.ctx.report(
                "FRZ06",
                value,
                "compares requires_grad and throws the result away: nothing is assigned, so "
                "nothing is frozen; use `=`",
                fix=fix,
            )
