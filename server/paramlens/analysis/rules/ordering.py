"""Order rules within one scope: FRZ09 (freeze after the optimizer), FRZ15A (load_state_dict),
FRZ15B (model rebound after its optimizer), FRZ15C (a Parameter replaced after the optimizer),
FRZ15E (freeze after DDP wrapping), FRZ17 (unfreeze after a requires_grad-filtered optimizer)
and FRZ23 (blanket freeze after replacing the head)."""

from __future__ import annotations

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import Severity, Span
from paramlens.analysis.rules.engine import (
    Binding,
    Family,
    Kind,
    Scope,
    Sink,
    constant_bool,
    keyword,
    root_of,
)
from paramlens.analysis.rules.facts import mentions
from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Optional, Union

    _Loop = Union[ast.For, ast.AsyncFor]

_NOT_A_FREEZE = frozenset(
    {Kind.SD_VALUE, Kind.DETACHED, Kind.CONVERTED, Kind.BUFFER, Kind.GENERATOR, Kind.CONTAINER,
     Kind.LAZY, Kind.PAIR, Kind.NAME, Kind.NONLEAF, Kind.OPTIMIZER}
)  # fmt: skip


class _Pending:
    """A finding that a later statement of the scope may still cancel."""

    def __init__(
        self,
        code: str,
        node: ast.AST,
        message: str,
        *,
        optimizer: Optional[str] = None,  # cancelled when this optimizer variable is rebuilt
        on_add_param_group: bool = False,  # cancelled by optimizer.add_param_group(...)
        head: Optional[str] = None,  # FRZ23: cancelled by an unfreeze under this path
        root: Optional[str] = None,
        severity: Optional[Severity] = None,
        frz09: bool = False,
        related: tuple[tuple[Span, str], ...] = (),
        binding: Optional[Binding] = None,  # FRZ09: the optimizer (class, hyper-parameters)
    ) -> None:
        self.code = code
        self.node = node
        self.message = message
        self.optimizer = optimizer
        self.on_add_param_group = on_add_param_group
        self.head = head
        self.root = root
        self.severity = severity
        self.frz09 = frz09
        self.related = related
        self.binding = binding


class _State:
    """What the order rules know of one scope so far."""

    def __init__(self) -> None:
        self.pending: list[_Pending] = []
        self.heads: dict[str, list[tuple[str, int]]] = {}  # root -> [(path, line)]
        self.ddp: dict[str, tuple[str, int]] = {}  # root -> (wrapper, line)
        self.stale: set[tuple[int, str]] = set()  # (optimizer binding, root)
        self.held: list[Binding] = []  # keeps the ids in `stale` unique
        self.rebound: list[tuple[str, str, ast.AST, int]] = []
        self.after_backward = False
        self.unfrozen: set[str] = set()  # roots unfrozen somewhere in the scope
        self.direct_loop_body: set[int] = set()
        self.loop_roots: dict[int, str] = {}  # sink node -> blanket root
        self.frz09_roots: set[str] = set()  # roots of every FRZ09 ever pending


# The methods whose calls order rules follow.
_ORDER_METHODS = frozenset({"backward", "step", "add_param_group", "load_state_dict"})
_MOMENTUM_OPTIMIZERS = frozenset({"Adam", "AdamW", "Adamax", "NAdam", "RAdam", "SparseAdam"})


def _optimizer_label(opt: Optional[Binding]) -> str:
    return opt.detail if opt is not None and opt.detail else "the optimizer"


def _moves_on_zero_grad(opt: Optional[Binding]) -> bool:
    """Does the optimizer move a parameter whose gradient is zero (verified: Adam/AdamW, SGD
    with momentum or weight decay; plain SGD and RMSprop hold)?"""
    if opt is None or not isinstance(opt.node, ast.Call):
        return True
    if opt.detail in _MOMENTUM_OPTIMIZERS:
        return True
    return any(
        kw.arg in ("momentum", "weight_decay")
        and not (isinstance(kw.value, ast.Constant) and not kw.value.value)
        for kw in opt.node.keywords
    )


class OrderingRules(Family):
    """Rules about what happens before and after an optimizer, a wrapper or a new head."""

    call_methods = _ORDER_METHODS
    expr_stmt_values = frozenset({ast.Call})
    expr_stmt_calls = frozenset({"load_state_dict"})

    def __init__(self, ctx: object) -> None:
        super().__init__(ctx)  # type: ignore[arg-type]
        self.frz09: list[_Pending] = []

    def takes_call_of(self, name: str) -> bool:
        return name in self.ctx.facts.functions  # what a helper of the file does

    def _state(self, scope: Scope) -> _State:
        state: Optional[_State] = scope.state.get("ordering")
        if state is None:
            state = scope.state["ordering"] = _State()
        return state

    def _optimizers(self, root: str, scope: Scope) -> list[tuple[str, Binding]]:
        if not self.ctx.optimizers_seen or root not in self.ctx.optimizer_roots:
            return []
        state = self._state(scope)
        return [
            (name, b)
            for name, b in self.ctx.optimizers_in(scope.env, root)
            if (id(b), root) not in state.stale
        ]

    # -- events ---------------------------------------------------------------------------------

    def for_loop(self, stmt: _Loop, scope: Scope) -> None:
        state = self._state(scope)
        it = stmt.iter
        if (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Attribute)
            and it.func.attr in ("parameters", "named_parameters")
            and isinstance(it.func.value, ast.Name)
        ):
            for child in stmt.body:
                state.direct_loop_body.add(id(child))
                if isinstance(child, ast.Expr):
                    state.direct_loop_body.add(id(child.value))
                    state.loop_roots[id(child.value)] = it.func.value.id
                state.loop_roots[id(child)] = it.func.value.id

    def sink(self, sink: Sink, env: dict[str, Binding], scope: Scope) -> None:
        b = self.classify(sink.receiver, env, scope)
        if b is not None and b.kind in _NOT_A_FREEZE:
            return
        root = (b.root if b is not None else None) or root_of(sink.receiver)
        if root is None:
            return
        if sink.flag is False:
            blanket = None
            if isinstance(sink.receiver, ast.Name) and sink.form == "call":
                blanket = sink.receiver.id
            elif id(sink.node) in self._state(scope).direct_loop_body:
                blanket = self._state(scope).loop_roots.get(id(sink.node))
            self._freeze(root, sink.node, scope, blanket)
        elif sink.flag is True:
            self._unfreeze(root, self.ctx.text(sink.receiver), b, sink.node, scope)

    def call(self, node: ast.Call, env: dict[str, Binding], scope: Scope) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            summary = self.ctx.summary(func.id)
            if summary is not None:
                for i in summary.freezes | summary.unfreezes:
                    root = root_of(node.args[i]) if i < len(node.args) else None
                    if root is None:
                        continue
                    if i in summary.freezes:
                        self._freeze(root, node, scope, None)
                    else:
                        self._unfreeze(root, self.ctx.text(node.args[i]), None, node, scope)
                for i in summary.steps:
                    owner = root_of(node.args[i]) if i < len(node.args) else None
                    if owner is not None:
                        self._stepped(owner, node, scope)
            return
        if not isinstance(func, ast.Attribute) or func.attr not in _ORDER_METHODS:
            return
        method = func.attr
        state = self._state(scope)
        if method == "backward":
            state.after_backward = True
        elif method == "step":
            state.after_backward = False
            owner = root_of(func.value)
            if owner is not None:
                self._stepped(owner, node, scope)
        elif method == "add_param_group":
            owner = root_of(func.value)
            state.pending = [
                p for p in state.pending if not (p.on_add_param_group and p.optimizer == owner)
            ]
        elif method == "load_state_dict":
            assign = constant_bool(keyword(node, "assign"))
            root = root_of(func.value)
            if assign and root:
                for name, opt in self._optimizers(root, scope):
                    state.pending.append(
                        _Pending(
                            "FRZ15A",
                            node,
                            f"load_state_dict(assign=True) replaces {root}'s Parameter objects, "
                            f"but the optimizer {name} (line {self.ctx.line_of(opt.node)}) holds "
                            "the old ones: it updates nothing; build the optimizer after loading",
                            optimizer=name,
                            related=self._built_here(name, opt),
                        )
                    )

    def expr_stmt(self, stmt: ast.Expr, scope: Scope) -> None:
        call = stmt.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "load_state_dict"
            and constant_bool(keyword(call, "strict", 1)) is False
        ):
            self.ctx.report(
                "FRZ15A",
                call,
                "load_state_dict(..., strict=False) result ignored: missing and unexpected keys "
                "(a 'module.' prefix, renamed layers) are skipped silently, and nothing may be "
                "loaded; check result.missing_keys / result.unexpected_keys",
            )

    def attr_store(
        self, target: ast.Attribute, value: ast.expr, stmt: ast.stmt, scope: Scope
    ) -> None:
        root = root_of(target)
        if root is None:
            return
        state = self._state(scope)
        if self.ctx.facts.is_parameter_ctor(value):
            for name, opt in self._optimizers(root, scope):
                state.pending.append(
                    _Pending(
                        "FRZ15C",
                        target,
                        f"replaces {self.ctx.text(target)} with a new Parameter after the "
                        f"optimizer {name} (line {self.ctx.line_of(opt.node)}) was built: the "
                        "optimizer keeps the old one, so the new one is never trained",
                        optimizer=name,
                    )
                )
        self._head(target, value, scope)

    def subscript_store(
        self, target: ast.Subscript, value: ast.expr, stmt: ast.stmt, scope: Scope
    ) -> None:
        self._head(target, value, scope)

    def _head(self, target: ast.expr, value: ast.expr, scope: Scope) -> None:
        if not self.ctx.facts.is_module_ctor(value):
            return
        root = root_of(target)
        if root is None or root == "self" or root.startswith("self."):
            return
        path = self.ctx.text(target)
        self._state(scope).heads.setdefault(root, []).append((path, self.ctx.line_of(target)))

    def name_store(
        self, name: ast.Name, value: Optional[ast.expr], new: Optional[Binding], scope: Scope
    ) -> None:
        state = self._state(scope)
        env = scope.env
        bound = name.id
        old = env.get(bound)
        if old is not None and old.kind is Kind.OPTIMIZER:
            state.pending = [p for p in state.pending if p.optimizer != bound]
            state.rebound = [r for r in state.rebound if r[0] != bound]
        if self.ctx.optimizers_seen and bound in self.ctx.optimizer_roots:
            self._rebound(bound, name, value, state, env)
        if bound in state.frz09_roots:
            for p in state.pending:
                if p.frz09 and p.root == bound:
                    p.optimizer = None  # a rebuild after the model changed is not its fix
        if state.heads:
            state.heads.pop(bound, None)
        if state.ddp:
            state.ddp.pop(bound, None)
        if new is not None and new.kind is Kind.WRAPPER and new.detail.endswith("ddp"):
            wrapped = new.root
            if wrapped:
                state.ddp[wrapped] = (bound, self.ctx.line_of(name))
                state.ddp[bound] = (bound, self.ctx.line_of(name))

    def _rebound(
        self,
        model: str,
        name: ast.Name,
        value: Optional[ast.expr],
        state: _State,
        env: dict[str, Binding],
    ) -> None:
        """``model`` is bound again: the optimizers built over it keep the old parameters."""
        built = [
            (opt_name, opt)
            for opt_name, opt in self.ctx.optimizers_in(env, model)
            if (id(opt), model) not in state.stale
        ]
        # `model = model.to(device)`, `torch.compile(model)`: the same parameters
        if not built or mentions(value, model):
            return
        for opt_name, opt in built:
            state.stale.add((id(opt), model))
            state.held.append(opt)
            state.rebound.append((opt_name, model, name, self.ctx.line_of(name)))

    def exit_scope(self, scope: Scope) -> None:
        state = self._state(scope)
        for p in state.pending:
            if p.frz09 and p.root in state.unfrozen:
                continue  # toggled on and off (a GAN's discriminator): the optimizer owns them
            if p.frz09:
                self.frz09.append(p)
            else:
                self.ctx.report(p.code, p.node, p.message, severity=p.severity, related=p.related)
        state.pending.clear()

    def finish(self) -> None:
        facts = self.ctx.facts
        for p in self.frz09:
            name, severity = p.optimizer or "the optimizer", p.severity
            if severity is not None:
                reason = "it sits between backward() and step(), so this step still applies the "
                reason += "gradient"
            elif facts.zero_grad_calls == 0:
                severity = Severity.WARNING
                reason = "nothing clears gradients in this file, so their last gradient stays and "
                reason += f"{name} keeps applying it"
            elif facts.zero_grad_keeps_grads and _moves_on_zero_grad(p.binding):
                severity = Severity.WARNING
                reason = "zero_grad(set_to_none=False) leaves them a zero gradient, and "
                reason += (
                    f"{_optimizer_label(p.binding)} keeps moving them (momentum, weight decay)"
                )
            elif facts.zero_grad_keeps_grads:
                severity = Severity.INFO
                reason = f"{_optimizer_label(p.binding)} skips a zero gradient, so the freeze "
                reason += "holds; momentum or weight decay would keep moving them"
            else:
                severity = Severity.INFO
                reason = "with the default zero_grad() the freeze holds, but zero_grad("
                reason += "set_to_none=False), gradient accumulation, momentum or weight decay "
                reason += "would keep moving them"
            self.ctx.report(
                "FRZ09",
                p.node,
                p.message.format(reason=reason),
                severity=severity,
                related=p.related,
            )

    # -- helpers --------------------------------------------------------------------------------

    def _stepped(self, owner: str, node: ast.AST, scope: Scope) -> None:
        """``owner.step()`` (or a helper stepping it) after its model was rebound: FRZ15B."""
        state = self._state(scope)
        for name, root, where, line in list(state.rebound):
            if name == owner:
                self.ctx.report(
                    "FRZ15B",
                    where,
                    f"{root} is rebound after the optimizer {name} was built over its "
                    f"parameters, and {name}.step() (line {self.ctx.line_of(node)}) still "
                    f"updates the old ones: the new {root} is never trained; build the "
                    "optimizer after the model",
                )
                state.rebound.remove((name, root, where, line))

    def _built_here(self, name: str, opt: Binding) -> tuple[tuple[Span, str], ...]:
        if opt.node is None:
            return ()
        return ((self.ctx.span(opt.node), f"the optimizer {name} is built here"),)

    def _freeze(self, root: str, node: ast.AST, scope: Scope, blanket: Optional[str]) -> None:
        state = self._state(scope)
        for name, opt in self._optimizers(root, scope):
            if opt.filtered:
                continue
            between = state.after_backward
            state.frz09_roots.add(root)
            state.pending.append(
                _Pending(
                    "FRZ09",
                    node,
                    f"freezes {root}'s parameters after the optimizer {name} (line "
                    f"{self.ctx.line_of(opt.node)}) was built over them: {{reason}}; set p.grad "
                    "= None and rebuild the optimizer over the trainable parameters",
                    binding=opt,
                    optimizer=name,
                    severity=Severity.WARNING if between else None,
                    frz09=True,
                    root=root,
                    related=self._built_here(name, opt),
                )
            )
        if root in state.ddp:
            wrapper, line = state.ddp[root]
            self.ctx.report(
                "FRZ15E",
                node,
                f"freezes after DistributedDataParallel wrapped the model ({wrapper}, line "
                f"{line}): DDP expects a gradient for every parameter it registered, so the "
                "second step raises 'Expected to have finished reduction'; freeze before wrapping",
            )
        if blanket is not None:
            for path, line in state.heads.get(blanket, []):
                state.pending.append(
                    _Pending(
                        "FRZ23",
                        node,
                        f"freezes every parameter of {blanket}, including the new head {path} "
                        f"assigned at line {line}: nothing is left to train (backward raises, a "
                        "filtered optimizer is empty); freeze first, then replace the head",
                        head=path,
                        root=blanket,
                    )
                )

    def _unfreeze(
        self, root: str, path: str, b: Optional[Binding], node: ast.AST, scope: Scope
    ) -> None:
        state = self._state(scope)
        state.unfrozen.add(root)
        origin = b.origin if b is not None else None
        if isinstance(origin, ast.Call) and isinstance(origin.func, ast.Attribute):
            path = self.ctx.text(origin.func.value)
        state.pending = [
            p
            for p in state.pending
            if not (p.head and (path == p.head or path.startswith(p.head + ".")))
        ]
        for name, opt in self._optimizers(root, scope):
            if opt.filtered:
                state.pending.append(
                    _Pending(
                        "FRZ17",
                        node,
                        f"unfreezes after the optimizer {name} (line {self.ctx.line_of(opt.node)}) "
                        "was built from the trainable parameters only: it never updates these, "
                        f"and their gradients accumulate; call {name}.add_param_group(...)",
                        optimizer=name,
                        on_add_param_group=True,
                        severity=Severity.WARNING,
                    )
                )
