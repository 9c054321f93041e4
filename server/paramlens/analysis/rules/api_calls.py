"""Rules about particular torch APIs: FRZ11 (isinstance on one BatchNorm class), FRZ14
(``remove_duplicate=False``), FRZ18 (reentrant checkpointing), FRZ19 (parametrized weights),
FRZ20 (``Embedding.from_pretrained``) and FRZ21 (freezing only ``.weight``)."""

from __future__ import annotations

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import Fix, Severity, Span, TextEdit
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
from paramlens.analysis.rules.fixes import replace_node
from paramlens.analysis.rules.records import Parametrized
from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Optional

_BATCHNORMS = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d"}
_BN_BASES = {"_BatchNorm", "_NormBase", "SyncBatchNorm"}
_PARAMETRIZATIONS = {
    "torch.nn.utils.parametrizations.weight_norm": True,
    "torch.nn.utils.parametrizations.spectral_norm": True,
    "torch.nn.utils.parametrizations.orthogonal": True,
    "torch.nn.utils.weight_norm": False,
    "torch.nn.utils.spectral_norm": False,
}
_REGISTER = "torch.nn.utils.parametrize.register_parametrization"
_CHECKPOINTS = {"torch.utils.checkpoint.checkpoint", "torch.utils.checkpoint.checkpoint_sequential"}
_NO_BIAS = {"Embedding", "EmbeddingBag"}
_QUALIFIED_CALLS = frozenset({*_CHECKPOINTS, *_PARAMETRIZATIONS, _REGISTER})


class _WeightState:
    def __init__(self) -> None:
        self.weights: dict[str, ast.AST] = {}  # module text -> sink node
        self.whole: set[str] = set()  # module texts whose bias (or all) is frozen


class ApiRules(Family):
    """Rules keyed on a torch function or method."""

    # Attribute calls: what call() tests, and the last segment of every qualified name it looks for.
    call_methods = frozenset(
        {"named_parameters", "from_pretrained"}
        | {name.rsplit(".", 1)[-1] for name in _QUALIFIED_CALLS}
    )

    def takes_call_of(self, name: str) -> bool:
        return name == "isinstance" or self.ctx.facts.name_qualname(name) in _QUALIFIED_CALLS

    def __init__(self, ctx: object) -> None:
        super().__init__(ctx)  # type: ignore[arg-type]
        self.checkpoints: list[tuple[ast.Call, Optional[ast.expr], Optional[Fix]]] = []

    def _parametrized(self, scope: Scope) -> dict[str, Parametrized]:
        table: dict[str, Parametrized] = scope.own("parametrized", dict)
        return table

    def _find_parametrized(self, key: str, scope: Optional[Scope]) -> Optional[Parametrized]:
        while scope is not None:
            found: Optional[Parametrized] = scope.state.get("parametrized", {}).get(key)
            if found is not None:
                return found
            scope = scope.parent
        return None

    def call(self, node: ast.Call, env: dict[str, Binding], scope: Scope) -> None:
        facts = self.ctx.facts
        func = node.func
        name = facts.qualname(func)
        if isinstance(func, ast.Name) and func.id == "isinstance" and len(node.args) == 2:
            self._isinstance(node, env, scope)
            return
        if isinstance(func, ast.Attribute):
            if func.attr == "named_parameters":
                flag = constant_bool(keyword(node, "remove_duplicate", 2))
                if flag is False:
                    self.ctx.report(
                        "FRZ14",
                        node,
                        "named_parameters(remove_duplicate=False) yields a tied parameter once "
                        "per name: an optimizer over it warns and updates the tensor twice, and "
                        "freezing one name freezes its aliases too",
                    )
            elif func.attr == "from_pretrained" and name is not None:
                owner = name.rsplit(".", 2)[-2] if name.count(".") >= 2 else ""
                if (
                    owner in ("Embedding", "EmbeddingBag")
                    and name.startswith("torch.nn.")
                    and keyword(node, "freeze", 1) is None
                    and not any(k.arg is None for k in node.keywords)
                ):
                    self.ctx.report(
                        "FRZ20",
                        node,
                        f"{owner}.from_pretrained() freezes the weight unless freeze=False "
                        "is passed, and shares storage with the tensor given; say freeze= "
                        "explicitly (and pass .clone() if the tensor is reused)",
                    )
        if name in _CHECKPOINTS:
            self._checkpoint(node)
        elif name in _PARAMETRIZATIONS and node.args:
            attr = keyword(node, "name", 1)
            attr_name = attr.value if isinstance(attr, ast.Constant) else "weight"
            self._record(node, node.args[0], str(attr_name), name, _PARAMETRIZATIONS[name], scope)
        elif name == _REGISTER and len(node.args) >= 2:
            attr = node.args[1]
            if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                self._record(node, node.args[0], attr.value, name, True, scope)

    def _record(self, node: ast.Call, module: ast.expr, attr: str, how: str, new_api: bool,
                scope: Scope) -> None:  # fmt: skip
        text = self.ctx.text(module)
        self._parametrized(scope)[f"{text}.{attr}"] = Parametrized(
            root_of(module), text, attr, self.ctx.line_of(node), how.rsplit(".", 1)[-1], new_api
        )

    def name_store(
        self, name: ast.Name, value: Optional[ast.expr], new: Optional[Binding], scope: Scope
    ) -> None:
        table = scope.state.get("parametrized")
        if table:
            for key in [k for k, v in table.items() if v.root == name.id]:
                del table[key]

    def _isinstance(self, node: ast.Call, env: dict[str, Binding], scope: Scope) -> None:
        subject = self.classify(node.args[0], env, scope)
        if subject is None or subject.kind is not Kind.MODULE:
            return
        spec = node.args[1]
        classes = spec.elts if isinstance(spec, ast.Tuple) else [spec]
        names = [(self.ctx.facts.qualname(c) or "").rsplit(".", 1)[-1] for c in classes]
        found = _BATCHNORMS.intersection(names)
        if found and not _BN_BASES.intersection(names) and not set(names) >= _BATCHNORMS:
            self.ctx.report(
                "FRZ11",
                spec,
                f"isinstance(..., {', '.join(sorted(found))}) misses the other BatchNorm classes "
                "(and SyncBatchNorm after convert_sync_batchnorm): those layers are neither "
                "frozen nor put in eval mode; test nn.modules.batchnorm._BatchNorm",
            )

    def _checkpoint(self, node: ast.Call) -> None:
        reentrant = keyword(node, "use_reentrant")
        if reentrant is not None and constant_bool(reentrant) is not True:
            return
        if any(k.arg is None for k in node.keywords):
            return
        if reentrant is not None:
            fix: Optional[Fix] = replace_node(
                self.ctx, reentrant, "False", "Use `use_reentrant=False`"
            )
        else:
            span = self.ctx.span(node)
            inside = self.ctx.text(node)[:-1].rstrip()
            sep = " " if inside.endswith((",", "(")) else ", "
            at = Span(span.end_line, span.end_col - 1, span.end_line, span.end_col - 1)
            fix = Fix("Pass `use_reentrant=False`", (TextEdit(at, f"{sep}use_reentrant=False"),))
        self.checkpoints.append((node, reentrant, fix))

    def finish(self) -> None:
        severity = Severity.WARNING if self.ctx.facts.freezes else Severity.INFO
        for node, reentrant, fix in self.checkpoints:
            self._report_checkpoint(node, reentrant, fix, severity)

    def _report_checkpoint(
        self, node: ast.Call, reentrant: Optional[ast.expr], fix: Optional[Fix], severity: Severity
    ) -> None:
        self.ctx.report(
            "FRZ18",
            node,
            "reentrant activation checkpointing (use_reentrant="
            f"{'True' if reentrant is not None else 'omitted, so True'}) gives the checkpointed "
            "block no gradients when none of its inputs requires grad, as behind frozen layers; "
            "pass use_reentrant=False",
            severity=severity,
            fix=fix,
        )

    def sink(self, sink: Sink, env: dict[str, Binding], scope: Scope) -> None:
        receiver = sink.receiver
        text = self.ctx.text(receiver)
        where = sink.target if sink.target is not None else sink.node
        found = self._find_parametrized(text, scope)
        if found is not None:
            fix = None
            if found.new_api and (sink.value is not None or sink.form == "call"):
                value = self.ctx.text(sink.value) if sink.value is not None else ""
                new = f"{found.module}.parametrizations.{found.name}.requires_grad_({value})"
                target = sink.node
                fix = replace_node(self.ctx, target, new, "Freeze the parametrization's originals")
            self.ctx.report(
                "FRZ19",
                where,
                f"{text} is computed by {found.how}() (line {found.line}): it is not a leaf, so "
                "setting requires_grad raises 'you can only change requires_grad flags of leaf "
                f"variables'; freeze {found.module}.parametrizations.{found.name} or "
                f"{found.module}.requires_grad_(...)",
                fix=fix,
            )
            return
        self._tied(sink, receiver, where, scope)
        weights: _WeightState = scope.own("weights", _WeightState)
        if isinstance(receiver, ast.Attribute) and receiver.attr in ("weight", "bias"):
            owner = self.ctx.text(receiver.value)
            layer = self.classify(receiver.value, env, scope)
            if (
                layer is not None
                and isinstance(layer.node, ast.Call)
                and _no_bias(layer.node, layer.detail)
            ):
                weights.whole.add(owner)  # a layer without a bias: its weight is all there is
            elif receiver.attr == "weight" and sink.flag is False:
                weights.weights.setdefault(owner, where)
            else:
                weights.whole.add(owner)
        else:
            weights.whole.add(text)

    def attr_store(
        self, target: ast.Attribute, value: ast.expr, stmt: ast.stmt, scope: Scope
    ) -> None:
        """``m.lm_head.weight = nn.Parameter(...)`` unties ``m``'s tied weights."""
        inner = target.value
        if (
            isinstance(inner, ast.Attribute)
            and f"{inner.attr}.{target.attr}" in self.ctx.facts.ties
        ):
            scope.own("untied", set).add(self.ctx.text(inner.value))

    def _untied(self, owner: str, scope: Optional[Scope]) -> bool:
        while scope is not None:
            if owner in scope.state.get("untied", ()):
                return True
            scope = scope.parent
        return False

    def _tied(self, sink: Sink, receiver: ast.expr, where: ast.AST, scope: Scope) -> None:
        if (
            sink.flag is None
            or not isinstance(receiver, ast.Attribute)
            or not isinstance(receiver.value, ast.Attribute)
        ):
            return
        tie = self.ctx.facts.ties.get(f"{receiver.value.attr}.{receiver.attr}")
        if tie is None or self._untied(self.ctx.text(receiver.value.value), scope):
            return
        other, line = tie
        state = "freezes" if sink.flag is False else "unfreezes"
        self.ctx.report(
            "FRZ14",
            where,
            f"{self.ctx.text(receiver)} is the same tensor as {other} (tied at line {line}): this "
            f"{state} both; untie them (a new nn.Parameter) to train one and freeze the other",
        )

    def exit_scope(self, scope: Scope) -> None:
        weights: Optional[_WeightState] = scope.state.get("weights")
        if not weights:
            return
        for owner, where in weights.weights.items():
            if (
                owner in weights.whole
                or owner == "self"
                or owner.endswith(".parametrizations")
                or self._bias_free(owner)
            ):
                continue
            self.ctx.report(
                "FRZ21",
                where,
                f"freezes only {owner}.weight: {owner}.bias keeps training; freeze the whole "
                f"layer with {owner}.requires_grad_(False) (or the bias too)",
            )

    def _bias_free(self, owner: str) -> bool:
        attr = owner.rsplit(".", 1)[-1]
        ctors = self.ctx.facts.submodule_attrs.get(attr, [])
        return any(_no_bias(c, self.ctx.facts.module_ctor_name(c)) for c in ctors)


def _no_bias(ctor: ast.Call, name: Optional[str]) -> bool:
    """A layer built without a bias: an embedding, or ``bias=False``."""
    return name in _NO_BIAS or constant_bool(keyword(ctor, "bias")) is False
