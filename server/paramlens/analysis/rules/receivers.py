"""What the receiver of a ``requires_grad`` sink really is: FRZ03 (a Module), FRZ05 (a detached
or converted copy), FRZ07 (a buffer), FRZ08 (a non-leaf tensor), FRZ16 (a generator, a list, a
tuple of ``named_*()``)."""

from __future__ import annotations

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import Fix, Severity, Span, TextEdit
from paramlens.analysis.rules.engine import Binding, Family, Kind, Scope, Sink
from paramlens.analysis.rules.fixes import call_method_instead, replace_node
from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Optional

_STATE = {False: "trainable", True: "frozen"}


def _stays(flag: Optional[bool]) -> str:
    return _STATE.get(flag, "as it was") if flag is not None else "as it was"


class ReceiverRules(Family):
    """Rules decided by the kind of the receiver of a sink."""

    def sink(self, sink: Sink, env: dict[str, Binding], scope: Scope) -> None:
        receiver = sink.receiver
        b = self.classify(receiver, env, scope)
        if b is None:
            if isinstance(receiver, ast.Subscript):
                inner = self.classify(receiver.value, env, scope)
                if inner is not None and inner.kind is Kind.GENERATOR:
                    self.ctx.report(
                        "FRZ16",
                        receiver,
                        f"{self.ctx.text(receiver.value)} is a generator: indexing it raises "
                        "TypeError ('generator' object is not subscriptable); use "
                        f"next(...) or list(...)[i]",
                    )
            return
        kind = b.kind
        where = sink.target if sink.target is not None else sink.node
        if kind is Kind.MODULE and sink.form == "assign":
            self._module(sink, b, self.ctx.text(receiver), scope)
        elif kind is Kind.DETACHED and not sink.used:
            fix = None
            if isinstance(receiver, ast.Attribute) and receiver.attr == "data":
                inner_text = self.ctx.text(receiver.value)
                fix = replace_node(self.ctx, receiver, inner_text, "Drop `.data`")
            self.ctx.report(
                "FRZ05",
                where,
                f"{b.detail} gives a new tensor that shares storage but not the flag: setting "
                f"requires_grad on it leaves the parameter {_stays(sink.flag)}",
                fix=fix,
            )
        elif kind is Kind.CONVERTED and not sink.used:
            self.ctx.report(
                "FRZ05",
                where,
                f"{b.detail} returns the parameter itself only when dtype and device already "
                "match; otherwise a copy that is not a leaf, and setting requires_grad raises",
                severity=Severity.INFO,
            )
        elif kind is Kind.BUFFER:
            self._buffer(sink, where)
        elif kind is Kind.NONLEAF and (sink.form == "assign" or sink.flag is False):
            if sink.flag is None and sink.form == "call":
                return
            self.ctx.report(
                "FRZ08",
                where,
                f"{b.detail} of a parameter is not a leaf tensor: setting requires_grad raises "
                "'you can only change requires_grad flags of leaf variables'; to freeze part "
                "of a weight, mask its gradient with a hook",
            )
        elif kind is Kind.GENERATOR:
            self.ctx.report(
                "FRZ16",
                where,
                f"{self.ctx.text(receiver)} is a generator: it has no requires_grad, so this "
                "raises AttributeError; loop over it and set each parameter",
                fix=self._loop_fix(sink, receiver),
            )
        elif kind in (Kind.CONTAINER, Kind.LAZY):
            self.ctx.report(
                "FRZ16",
                where,
                f"{self.ctx.text(receiver)} is a {b.detail}, not a tensor: setting "
                "requires_grad on it raises AttributeError; loop over it and set each parameter",
            )
        elif kind is Kind.PAIR:
            fix = None
            if isinstance(b.node, ast.Name) and isinstance(receiver, ast.Name):
                fix = replace_node(
                    self.ctx, b.node, f"_, {b.node.id}", f"Unpack `(name, {b.node.id})`"
                )
            self.ctx.report(
                "FRZ16",
                where,
                f"each item of {b.detail or 'named_parameters'}() is a (name, tensor) tuple: "
                "this raises AttributeError ('tuple' object has no attribute); unpack it",
                fix=fix,
            )
        elif kind is Kind.NAME:
            self.ctx.report(
                "FRZ16",
                where,
                f"the first item of {b.detail}() is the name (a str), not the tensor: this "
                "raises AttributeError; the targets are swapped",
            )

    def _module(self, sink: Sink, b: Binding, text: str, scope: Scope) -> None:
        value = sink.value
        assert value is not None and sink.target is not None
        if text == "self" and scope.name in ("__init__", "train", "eval") and sink.flag is None:
            return  # a constructor storing a configuration flag under that name
        self.ctx.report(
            "FRZ03",
            sink.target,
            f"sets a plain Python attribute on the Module {text}: nn.Module has no "
            f"requires_grad, so its parameters stay {_stays(sink.flag)}; "
            f"call {text}.requires_grad_({self.ctx.text(value)})",
            fix=call_method_instead(self.ctx, sink.node, sink.receiver, "requires_grad_", value),
        )

    def _buffer(self, sink: Sink, where: ast.AST) -> None:
        if sink.flag is False:
            self.ctx.report(
                "FRZ07",
                where,
                "buffers never require grad and are never optimized: this changes nothing, and "
                "BatchNorm running statistics keep updating in train mode; call .eval() on the "
                "BatchNorm layers to stop them",
                severity=Severity.INFO,
            )
        elif sink.flag is True:
            self.ctx.report(
                "FRZ07",
                where,
                "makes a buffer require grad: an integer buffer raises 'only Tensors of floating "
                "point dtype can require gradients', and BatchNorm's forward then raises 'not "
                "differentiable with respect to argument running_mean'",
                severity=Severity.ERROR,
            )

    def _loop_fix(self, sink: Sink, receiver: ast.expr) -> Optional[Fix]:
        """``X.parameters().requires_grad = V`` -> a loop over ``X.parameters()``."""
        if sink.form != "assign" or sink.value is None:
            return None
        stmt = sink.node
        span = self.ctx.span(stmt)
        line = self.ctx.lines[span.start_line]
        indent = line[: span.start_col]
        if indent.strip() or span.start_line != span.end_line:
            return None
        new = (
            f"for p in {self.ctx.text(receiver)}:\n{indent}    "
            f"p.requires_grad = {self.ctx.text(sink.value)}"
        )
        edit = TextEdit(Span(span.start_line, span.start_col, span.end_line, span.end_col), new)
        return Fix(f"Loop over `{self.ctx.text(receiver)}`", (edit,))
