"""What ``nn.Module`` registers: FRZ15C (plain tensors and Python lists of Modules/Parameters are
not registered) and FRZ15D (a buffer that requires grad is never optimized)."""

from __future__ import annotations

from paramlens.analysis import syntax as ast
from paramlens.analysis.rules.engine import Binding, Family, Scope, constant_bool, keyword

_FACTORIES = frozenset(
    {"tensor", "ones", "zeros", "randn", "rand", "empty", "full", "arange", "eye", "ones_like",
     "zeros_like", "randn_like", "rand_like", "full_like", "empty_like", "linspace", "normal",
     "randint", "as_tensor"}
)  # fmt: skip


class RegistrationRules(Family):
    """Attributes a Module subclass sets in its methods, and register_buffer calls."""

    call_methods = frozenset({"register_buffer"})
    call_names = False

    def _requires_grad_tensor(self, node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        name = self.ctx.facts.qualname(node.func) or ""
        return (
            name.startswith("torch.")
            and name.rsplit(".", 1)[-1] in _FACTORIES
            and constant_bool(keyword(node, "requires_grad")) is True
        )

    def attr_store(
        self, target: ast.Attribute, value: ast.expr, stmt: ast.stmt, scope: Scope
    ) -> None:
        if not (
            isinstance(target.value, ast.Name)
            and target.value.id == "self"
            and scope.class_name in self.ctx.facts.module_classes
        ):
            return
        if self._requires_grad_tensor(value):
            self.ctx.report(
                "FRZ15C",
                target,
                f"self.{target.attr} is a plain tensor, not a registered Parameter: it is not in "
                "parameters() or state_dict(), gets a .grad but is never updated by the "
                "optimizer; wrap it in nn.Parameter",
            )
            return
        elements: list[ast.expr] = []
        if isinstance(value, (ast.List, ast.Tuple)):
            elements = list(value.elts)
        elif isinstance(value, ast.Dict):
            elements = [v for v in value.values if v is not None]
        elif isinstance(value, ast.ListComp):
            elements = [value.elt]
        facts = self.ctx.facts
        if any(facts.is_module_ctor(e) or facts.is_parameter_ctor(e) for e in elements):
            kind = "ModuleDict" if isinstance(value, ast.Dict) else "ModuleList"
            if all(facts.is_parameter_ctor(e) for e in elements):
                kind = kind.replace("Module", "Parameter")
            self.ctx.report(
                "FRZ15C",
                target,
                f"self.{target.attr} is a plain Python {type(value).__name__.lower()}: the "
                "Modules/Parameters in it are not registered, so parameters(), "
                "requires_grad_() and the optimizer never see them; use nn." + kind,
            )

    def call(self, node: ast.Call, env: dict[str, Binding], scope: Scope) -> None:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "register_buffer"
            and len(node.args) > 1
            and self._requires_grad_tensor(node.args[1])
        ):
            self.ctx.report(
                "FRZ15D",
                node,
                "registers a buffer that requires grad: it gets a .grad but buffers are not "
                "in parameters(), so the optimizer never updates it; register an "
                "nn.Parameter instead",
            )
