"""FRZ16 (loops and lazy iterators that never reach a parameter) and FRZ17 (optimizer parameter
lists: exhausted generators, uncalled ``parameters``)."""

from __future__ import annotations

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import Fix, Severity
from paramlens.analysis.rules.engine import (
    GENERATOR_METHODS,
    Binding,
    Family,
    Kind,
    Scope,
    keyword,
)
from paramlens.analysis.rules.facts import OPTIMIZERS, optimizer_class, walk
from paramlens.analysis.rules.fixes import rename_attribute, replace_node
from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Optional, Union

    _Loop = Union[ast.For, ast.AsyncFor]

# Calls known to iterate an argument to its end; other calls may merely store it.
_CONSUMING = frozenset(
    {"list", "tuple", "set", "frozenset", "sorted", "sum", "min", "max", "any", "all", "dict",
     "enumerate", "zip", "map", "filter", "extend", "clip_grad_norm_", "clip_grad_value_",
     "parameters_to_vector", "add_param_group"}
)  # fmt: skip
_TENSOR_ITERATORS = frozenset({"parameters", "named_parameters", "buffers", "named_buffers"})


class _Generator:
    """A name bound to a one-shot iterator, and where it was consumed."""

    __slots__ = ("binding", "consumed_at", "loop_depth", "name", "scope_id", "value")

    def __init__(
        self, name: str, value: ast.expr, binding: Binding, scope_id: int, loop_depth: int
    ) -> None:
        self.name = name
        self.value = value
        self.binding = binding  # held so that its id stays unique while tracked
        self.scope_id = scope_id
        self.loop_depth = loop_depth
        self.consumed_at: Optional[int] = None  # line


def _sets_flag_on_target(loop: _Loop) -> bool:
    """Does the loop body set requires_grad on the loop variable (a freeze loop)?"""
    if not isinstance(loop.target, ast.Name):
        return False
    name = loop.target.id
    for stmt in loop.body:
        for node in walk(stmt):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("requires_grad", "requires_grad_")
                and isinstance(node.value, ast.Name)
                and node.value.id == name
            ):
                return True
    return False


class IteratorRules(Family):
    """One-shot generators, uncalled methods, unpacking slips, lazy statements."""

    call_methods = _CONSUMING | OPTIMIZERS | {"len"}
    own_records = ("generators",)  # by binding, in the scope that made it
    expr_stmt_values = frozenset({ast.GeneratorExp, ast.Call})
    expr_stmt_calls = frozenset({"map", "filter"})

    def __init__(self, ctx: object) -> None:
        super().__init__(ctx)  # type: ignore[arg-type]
        self.generators: dict[int, _Generator] = {}

    def takes_call_of(self, name: str) -> bool:
        return (
            name in self.call_methods
            or optimizer_class(self.ctx.facts.name_qualname(name)) is not None
        )

    def name_store(
        self, name: ast.Name, value: Optional[ast.expr], new: Optional[Binding], scope: Scope
    ) -> None:
        if new is not None and value is not None and new.kind in (Kind.GENERATOR, Kind.LAZY):
            self.generators[id(new)] = _Generator(name.id, value, new, id(scope), scope.loop_depth)

    def _consume(self, node: ast.expr, env: dict[str, Binding], scope: Scope) -> None:
        if not isinstance(node, ast.Name):
            return
        b = env.get(node.id)
        gen = self.generators.get(id(b)) if b is not None else None
        if gen is None or gen.binding is not b or gen.scope_id != id(scope):
            return
        line = self.ctx.line_of(node)
        repeated = scope.loop_depth > gen.loop_depth
        if gen.consumed_at is None and not repeated:
            gen.consumed_at = line
            return
        where = (
            f"already consumed at line {gen.consumed_at}"
            if gen.consumed_at is not None
            else "consumed again on every pass of the enclosing loop"
        )
        value = self.ctx.text(gen.value)
        fix: Optional[Fix] = None
        if isinstance(gen.value, ast.Call):
            fix = replace_node(self.ctx, gen.value, f"list({value})", f"Bind `list({value})`")
        self.ctx.report(
            "FRZ17",
            node,
            f"{gen.name} is a one-shot iterator ({value}) {where}: here it is empty, so an "
            "optimizer raises 'optimizer got an empty parameter list' and a loop does nothing",
            fix=fix,
        )

    def _is_module(self, node: ast.expr, scope: Scope) -> bool:
        b = self.classify(node, scope.env, scope)
        return b is not None and b.kind is Kind.MODULE

    def for_loop(self, stmt: _Loop, scope: Scope) -> None:
        it = stmt.iter
        self._consume(it, scope.env, scope)
        if (
            isinstance(it, ast.Attribute)
            and it.attr in GENERATOR_METHODS
            and it.attr not in self.ctx.facts.stored_attrs
            and (self._is_module(it.value, scope) or _sets_flag_on_target(stmt))
        ):
            self.ctx.report(
                "FRZ16",
                it,
                f"iterates the method {it.attr} itself: this raises TypeError ('method' object "
                f"is not iterable); call {it.attr}()",
                fix=replace_node(self.ctx, it, f"{self.ctx.text(it)}()", f"Call `{it.attr}()`"),
            )
            return
        if (
            isinstance(stmt.target, ast.Tuple)
            and len(stmt.target.elts) == 2
            and isinstance(it, ast.Call)
            and isinstance(it.func, ast.Attribute)
            and it.func.attr in ("parameters", "buffers", "modules", "children")
        ):
            method = it.func.attr
            self.ctx.report(
                "FRZ16",
                it,
                f"{method}() yields single tensors, not (name, tensor) pairs: unpacking raises "
                "ValueError, or with a first dimension of 2 silently unpacks a weight's rows; "
                f"iterate named_{method}()",
                severity=Severity.ERROR,
                fix=rename_attribute(
                    self.ctx, it.func, f"named_{method}", f"Iterate `named_{method}()`"
                ),
            )

    def comprehension(self, gen: ast.comprehension, env: dict[str, Binding], scope: Scope) -> None:
        self._consume(gen.iter, env, scope)

    def call(self, node: ast.Call, env: dict[str, Binding], scope: Scope) -> None:
        func = node.func
        optimizer = self.ctx.facts.optimizer_name(node)
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if not self.generators:
            pass  # no one-shot iterator to consume or forget
        elif called == "len":  # a sized result: a list after all (GradBucket.parameters())
            for arg in node.args:
                b = env.get(arg.id) if isinstance(arg, ast.Name) else None
                self.generators.pop(id(b), None)
        elif called in _CONSUMING or optimizer is not None:
            for arg in node.args:
                self._consume(arg, env, scope)
            params = keyword(node, "params")
            if params is not None:
                self._consume(params, env, scope)
        if optimizer is not None:
            first = keyword(node, "params", 0)
            if (
                isinstance(first, ast.Attribute)
                and first.attr in ("parameters", "named_parameters")
                and first.attr not in self.ctx.facts.stored_attrs
            ):
                text = self.ctx.text(first)
                self.ctx.report(
                    "FRZ17",
                    first,
                    f"passes the method {first.attr} itself: the optimizer raises TypeError "
                    f"('method' object is not iterable); call {first.attr}()",
                    fix=replace_node(self.ctx, first, f"{text}()", f"Call `{first.attr}()`"),
                )

    def expr_stmt(self, stmt: ast.Expr, scope: Scope) -> None:
        value = stmt.value
        lazy = None
        if isinstance(value, ast.GeneratorExp):
            lazy = "a generator expression"
        elif (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id in ("map", "filter")
        ):
            lazy = f"{value.func.id}()"
        if lazy is None:
            return
        if any(
            isinstance(n, ast.Attribute) and n.attr in ("requires_grad", "requires_grad_")
            for n in walk(value)
        ):
            self.ctx.report(
                "FRZ16",
                value,
                f"{lazy} is lazy and is never iterated here: the requires_grad calls inside it "
                "never run, so nothing is frozen; use a for loop",
                severity=Severity.WARNING,
            )
