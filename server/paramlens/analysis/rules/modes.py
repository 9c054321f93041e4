"""FRZ10: train/eval mode slips mistaken for freezing, and ``backward()`` on a value computed
under ``no_grad``."""

from __future__ import annotations

import ast

from paramlens.analysis.findings import Severity, Span
from paramlens.analysis.rules.engine import (
    NO_GRAD_CONTEXTS,
    Binding,
    Family,
    Kind,
    Scope,
    Sink,
    root_of,
)
from paramlens.analysis.rules.fixes import call_method_instead, replace_node


def _is_freeze_function(node: ast.AST) -> bool:
    """``def freeze_backbone(...)``: a function whose name says it freezes."""
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.lower().lstrip(
        "_"
    ).startswith("freeze")


class ModeRules(Family):
    """``.training =``, ``.train =``/``.eval =``, bare ``.eval``, no_grad + backward."""

    # eval() / train(...) / backward(), and the last segments of what is_no_grad() recognizes.
    call_methods = frozenset(
        {"eval", "train", "backward"}
        | {name.rsplit(".", 1)[-1] for name in (*NO_GRAD_CONTEXTS, "torch.set_grad_enabled")}
    )

    expr_stmt_values = frozenset({ast.Attribute})

    def takes_call_of(self, name: str) -> bool:
        facts = self.ctx.facts
        qualname = facts.name_qualname(name)
        return (
            name in facts.functions
            or qualname in NO_GRAD_CONTEXTS
            or qualname == "torch.set_grad_enabled"
        )

    def _is_plain_self(self, target: ast.Attribute, scope: Scope) -> bool:
        """``self.<attr>`` inside a non-Module class, or inside Module.train/eval overrides."""
        if not (isinstance(target.value, ast.Name) and target.value.id == "self"):
            return False
        if scope.class_name not in self.ctx.facts.module_classes:
            return True
        return scope.name in ("train", "eval", "__init__")

    def attr_store(
        self, target: ast.Attribute, value: ast.expr, stmt: ast.stmt, scope: Scope
    ) -> None:
        if target.attr not in ("training", "train", "eval") or self._is_plain_self(target, scope):
            return
        root = root_of(target.value)
        if root is None or root == "self" or root.startswith("self."):
            return  # a Module's own code switching a leaf layer's flag on purpose
        if not isinstance(value, ast.Constant):
            return  # copying a flag or binding a method (`m.train = MethodType(...)`) on purpose
        receiver = self.ctx.text(target.value)
        single = isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
        if target.attr == "training":
            self.ctx.report(
                "FRZ10",
                target,
                f"sets the mode flag of {receiver} only: its submodules (BatchNorm, Dropout) keep "
                f"their mode, and no parameter is frozen; call {receiver}.train(...) / .eval(), "
                "and requires_grad_(False) to freeze",
                fix=call_method_instead(self.ctx, stmt, target.value, "train", value)
                if single
                else None,
            )
        else:
            self.ctx.report(
                "FRZ10",
                target,
                f"replaces the method {target.attr}() of {receiver} with a value: nothing "
                f"changes, and a later {receiver}.{target.attr}() raises TypeError",
                fix=call_method_instead(self.ctx, stmt, target.value, "train", value)
                if single and target.attr == "train"
                else None,
            )

    def sink(self, sink: Sink, env: dict[str, Binding], scope: Scope) -> None:
        scope.state["mode_sink"] = True

    def exit_scope(self, scope: Scope) -> None:
        """A ``freeze*`` function that only switches to eval mode or disables grad (intent)."""
        node = scope.node
        if (
            not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            or not _is_freeze_function(node)
            or scope.state.get("mode_sink")
            or not scope.state.get("mode_only")
            or scope.state.get("mode_calls_helper")
        ):
            return
        line = node.lineno - 1
        text = self.ctx.lines[line] if line < len(self.ctx.lines) else ""
        start = len(text) - len(text.lstrip())
        self.ctx.report(
            "FRZ10",
            Span(line, start, line, len(text)),
            f"{node.name}() only switches modules to eval mode or disables grad: that changes "
            "BatchNorm/Dropout behaviour, not training; no parameter is frozen "
            "(use requires_grad_(False))",
            severity=Severity.INFO,
        )

    def expr_stmt(self, stmt: ast.Expr, scope: Scope) -> None:
        value = stmt.value
        if isinstance(value, ast.Attribute) and value.attr in ("eval", "train"):
            text = self.ctx.text(value)
            self.ctx.report(
                "FRZ10",
                value,
                f"{value.attr} is named but not called: this statement does nothing",
                fix=replace_node(self.ctx, value, f"{text}()", f"Call `{text}()`"),
            )

    def call(self, node: ast.Call, env: dict[str, Binding], scope: Scope) -> None:
        func = node.func
        freeze = scope.state.get("mode_freeze_function")
        if freeze is None:
            freeze = scope.state["mode_freeze_function"] = _is_freeze_function(scope.node)
        if not freeze:
            pass  # what the calls of other scopes do to modes is never reported
        elif (
            isinstance(func, ast.Attribute)
            and (func.attr == "eval" or (func.attr == "train" and node.args))
        ) or self.ctx.walker.is_no_grad(node):
            scope.state["mode_only"] = True
        elif isinstance(func, ast.Name) and func.id in self.ctx.facts.functions:
            scope.state["mode_calls_helper"] = True
        if isinstance(func, ast.Attribute) and func.attr == "backward" and not node.args:
            b = self.classify(func.value, env, scope)
            if b is not None and b.kind is Kind.NOGRAD_OUT and b.node is not None:
                self.ctx.report(
                    "FRZ10",
                    node,
                    f"{self.ctx.text(func.value)} was computed under no_grad/inference_mode "
                    f"(line {self.ctx.line_of(b.node)}): it has no grad_fn, so backward() raises "
                    "'element 0 of tensors does not require grad'",
                    severity=Severity.ERROR,
                )
