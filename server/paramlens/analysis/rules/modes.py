"""FRZ10: train/eval mode slips mistaken for freezing, and ``backward()`` on a value computed
under ``no_grad``."""

from __future__ import annotations

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import Severity, Span
from paramlens.analysis.rules.engine import (
    NO_GRAD_CONTEXTS,
    Binding,
    Family,
    Kind,
    Scope,
    Sink,
    is_train_call,
    root_of,
    submodule_owner,
)
from paramlens.analysis.rules.facts import classes_keeping_eval, mentions
from paramlens.analysis.rules.fixes import call_method_instead, replace_node
from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Optional


def _is_freeze_function(node: ast.AST) -> bool:
    """``def freeze_backbone(...)``: a function whose name says it freezes."""
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.lower().lstrip(
        "_"
    ).startswith("freeze")


class ModeRules(Family):
    """``.training =``, ``.train =``/``.eval =``, bare ``.eval``, no_grad + backward."""

    # eval() / train(...) / backward() / apply(fn), and the last segments of what
    # is_no_grad() recognizes.
    call_methods = frozenset(
        {"eval", "train", "backward", "apply"}
        | {name.rsplit(".", 1)[-1] for name in (*NO_GRAD_CONTEXTS, "torch.set_grad_enabled")}
    )

    expr_stmt_values = frozenset({ast.Attribute})

    def __init__(self, ctx: object) -> None:
        super().__init__(ctx)  # type: ignore[arg-type]
        self._keeping_eval: Optional[frozenset[str]] = None

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
        """A ``freeze*`` function that only switches to eval mode or disables grad (intent);
        ``model.train()`` after submodules of the model were put in eval mode."""
        for model, (train, undone) in scope.state.get("mode_undone", {}).items():
            self._report_undone(model, train, undone)
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
        self._track_modes(node, env, scope)
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

    def _track_modes(self, node: ast.Call, env: dict[str, Binding], scope: Scope) -> None:
        """Submodules put in eval mode (``m.eval()`` in a ``modules()`` loop, ``model.bn.eval()``,
        a helper of the file doing it), then ``model.train()`` (or a helper calling it) undoing
        that, in one scope's order: the ``train()`` is kept for :meth:`exit_scope` until an
        eval of the submodules comes again after it."""
        func = node.func
        if isinstance(func, ast.Name):
            summary = self.ctx.summary(func.id)
            if summary is None:
                return
            for i in summary.evals | summary.trains | summary.hands_on:
                model = root_of(node.args[i]) if i < len(node.args) else None
                if model is None:
                    continue
                if i in summary.evals:
                    self._mode_event(model, node, "eval", env, scope)
                else:  # a train() after which the helper may put layers back in eval mode
                    train = i in summary.trains and i not in summary.hands_on
                    self._mode_event(model, node, "train" if train else "other", env, scope)
            return
        if not isinstance(func, ast.Attribute):
            return
        if isinstance(func.value, ast.Name) and (is_train_call(node) or func.attr == "apply"):
            event = "train" if func.attr == "train" else "other"  # apply(fn): fn may eval
            self._mode_event(func.value.id, node, event, env, scope)
            return
        model = submodule_owner(node, lambda name: _module_root(name, env))
        if model is not None:
            self._mode_event(model, node, "eval", env, scope)

    def name_store(
        self, name: ast.Name, value: Optional[ast.expr], new: Optional[Binding], scope: Scope
    ) -> None:
        """A name bound to another model: what its evals and train() did is settled
        (``model = model.to(device)`` keeps the model)."""
        evaluated = scope.state.get("mode_evals")
        if not evaluated or name.id not in evaluated or mentions(value, name.id):
            return
        del evaluated[name.id]
        pending = scope.state["mode_undone"].pop(name.id, None)
        if pending is not None:
            self._report_undone(name.id, *pending)

    def _report_undone(self, model: str, train: ast.Call, undone: ast.Call) -> None:
        self.ctx.report(
            "FRZ11",
            train,
            f"{self.ctx.text(train)} puts every submodule of {model} back in train mode, "
            f"undoing {self.ctx.text(undone)} (line {self.ctx.line_of(undone)}): BatchNorm "
            "running statistics update again on every forward and Dropout is active "
            f"again; put those layers in eval mode again after each {model}.train(), or "
            "override train() to keep them there",
            severity=Severity.WARNING,
        )

    def _mode_event(
        self, model: str, node: ast.Call, event: str, env: dict[str, Binding], scope: Scope
    ) -> None:
        """``event``: "eval" (of submodules of ``model``), "train", or "other" (what may put
        layers back in eval mode: ``model.apply(fn)``, a helper that passes the model on)."""
        evaluated: dict[str, ast.Call] = scope.own("mode_evals", dict)
        undone: dict[str, tuple[ast.Call, ast.Call]] = scope.own("mode_undone", dict)
        if event == "eval":
            evaluated[model] = node
        if event != "train":
            undone.pop(model, None)
        elif model in evaluated and not self._keeps_eval(env.get(model), scope):
            undone.setdefault(model, (node, evaluated[model]))

    def _keeps_eval(self, model: Optional[Binding], scope: Scope) -> bool:
        """Is ``model`` an instance of a class of the file whose ``train()`` puts layers back in
        eval mode?"""
        if model is None or model.kind is not Kind.MODULE or not model.detail:
            return False
        name = model.detail.rsplit(".", 1)[-1]
        if name not in self.ctx.facts.classes:
            return False  # not a class of the file
        if self._keeping_eval is None:
            while scope.parent is not None:
                scope = scope.parent
            tree = scope.node
            self._keeping_eval = frozenset(
                classes_keeping_eval(tree) if isinstance(tree, ast.Module) else ()
            )
        return name in self._keeping_eval


def _module_root(name: str, env: dict[str, Binding]) -> Optional[str]:
    """The model a name bound to one of its submodules (a ``modules()`` loop variable) is of."""
    b = env.get(name)
    if b is not None and b.kind is Kind.MODULE and b.root and b.root != name:
        return b.root
    return None
