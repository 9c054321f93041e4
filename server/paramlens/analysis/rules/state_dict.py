"""FRZ01 / FRZ02: freezing through ``state_dict()`` values."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import Fix, Severity, Span
from paramlens.analysis.rules.engine import Binding, Family, Kind, Scope, Sink
from paramlens.analysis.rules.facts import own_nodes, statements_in, walk
from paramlens.analysis.rules.fixes import replace_node
from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Optional, Union

    _Loop = Union[ast.For, ast.AsyncFor]


class StateDictRules(Family):
    """Sinks and reads whose receiver is a ``state_dict()`` value."""

    own_records = ("loops",)  # the loop of a binding's iterable

    def __init__(self, ctx: object) -> None:
        super().__init__(ctx)  # type: ignore[arg-type]
        self.loops: dict[int, _Loop] = {}

    def subscript_store(
        self, target: ast.Subscript, value: ast.expr, stmt: ast.stmt, scope: Scope
    ) -> None:
        """``sd[key] = tensor`` on a ``state_dict()`` nobody reads again changes nothing."""
        if not isinstance(target.value, ast.Name):
            return
        b = self.classify(target.value, scope.env, scope)
        if b is not None and b.kind is Kind.STATE_DICT:
            scope.own("sd_entries", dict).setdefault(target.value.id, target)
            # Only now does any call of the scope matter (one may use the dict as a whole):
            # most scopes never have the walk tell this family of every call.
            self.ctx.walker.watch_calls(self._call, scope)

    def _call(self, node: ast.Call, env: dict[str, Binding], scope: Scope) -> None:
        pending = scope.state.get("sd_entries")
        if pending:
            _forget_whole_uses(node, pending)

    def name_store(
        self, name: ast.Name, value: Optional[ast.expr], new: Optional[Binding], scope: Scope
    ) -> None:
        pending = scope.state.get("sd_entries")
        if pending and value is not None:
            _forget_whole_uses(value, pending)

    def exit_scope(self, scope: Scope) -> None:
        pending = scope.state.get("sd_entries")
        if not pending:
            return
        returned = _returned_names(getattr(scope.node, "body", []), set(pending), self.ctx.lines)
        for name, target in pending.items():
            if name in returned:
                continue
            self.ctx.report(
                "FRZ01",
                target,
                f"replaces an entry of the dict {name} = state_dict() returned, not the model's "
                f"tensor, and {name} is not used afterwards (no load_state_dict({name})): the "
                "model is unchanged; copy in place (.copy_()) or load the dict back",
                severity=Severity.INFO,
            )

    def for_loop(self, stmt: _Loop, scope: Scope) -> None:
        self.loops[id(stmt.iter)] = stmt

    def sink(self, sink: Sink, env: dict[str, Binding], scope: Scope) -> None:
        b = self.classify(sink.receiver, env, scope)
        if b is None:
            return
        where = sink.target if sink.target is not None else sink.node
        if b.kind is Kind.SD_VALUE:
            # unfreezing: the parameters were frozen before, or never were
            every, one = {
                False: ("every parameter stays trainable", "the parameter stays trainable"),
                True: ("a frozen parameter stays frozen", "the parameter stays frozen if it was"),
            }.get(sink.flag, ("every parameter stays as it was", "the parameter stays as it was"))  # type: ignore[arg-type]
            origin = self._origin_text(b)
            if self._loop_of(b) is not None:
                message = (
                    f"this loop over {origin} changes detached copies, so nothing is "
                    f"{'frozen' if sink.flag is not True else 'unfrozen'}: state_dict() values "
                    f"are never the parameters; {every}"
                )
            else:
                message = f"sets requires_grad on a detached copy from {origin}; {one}"
            related: tuple[tuple[Span, str], ...] = ()
            if b.node is not None:
                related = (
                    (self.ctx.span(b.node), "the detached state_dict() values come from here"),
                )
            self.ctx.report("FRZ01", where, message, fix=self._fix(b), related=related)
        elif b.kind is Kind.SD_KEEP_VALUE and sink.flag is True:
            self.ctx.report(
                "FRZ02",
                where,
                "unfreezing every state_dict(keep_vars=True) value also reaches the buffers: "
                "an integer buffer (BatchNorm's num_batches_tracked) raises 'only Tensors of "
                "floating point dtype can require gradients', and a float buffer that requires "
                "grad makes BatchNorm's forward raise",
                fix=self._fix(b),
            )

    def read(self, node: ast.Attribute, env: dict[str, Binding], scope: Scope) -> None:
        b = self.classify(node.value, env, scope)
        if b is not None and b.kind is Kind.SD_VALUE:
            self.ctx.report(
                "FRZ01",
                node,
                f"reads requires_grad of a detached copy from {self._origin_text(b)}: it is "
                "always False, whatever the parameter's flag; read it from parameters()",
                fix=self._fix(b, reading=True),
            )

    def _origin_text(self, b: Binding) -> str:
        if isinstance(b.node, ast.Call) and isinstance(b.node.func, ast.Attribute):
            return self.ctx.text(b.node)  # the loop's `X.items()` / `X.values()`
        if isinstance(b.origin, ast.AST):
            return self.ctx.text(b.origin)
        if isinstance(b.node, ast.Subscript):
            return self.ctx.text(b.node.value)
        return "state_dict()"

    def _loop_of(self, b: Binding) -> Optional[_Loop]:
        return self.loops.get(id(b.node)) if b.node is not None else None

    def _model_text(self, call: Optional[ast.AST]) -> Optional[str]:
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "state_dict"
        ):
            return self.ctx.text(call.func.value)
        return None

    def _fix(self, b: Binding, reading: bool = False) -> Optional[Fix]:
        node = b.node
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            model = self._model_text(b.origin)
            if model is None:
                return None
            loop = self._loop_of(b)
            if loop is not None and not _only_flag_uses(loop):
                return None
            method = {"items": "named_parameters", "values": "parameters"}.get(node.func.attr)
            if method is None:
                return None
            return replace_node(
                self.ctx, node, f"{model}.{method}()", f"Iterate `{model}.{method}()` instead"
            )
        if isinstance(node, ast.Subscript) and not reading:
            model = self._model_text(b.origin)
            if model is None:
                return None
            key = self.ctx.text(node.slice)
            return replace_node(
                self.ctx,
                node,
                f"{model}.get_parameter({key})",
                f"Use `{model}.get_parameter({key})`",
            )
        return None


def _returned_names(body: list[ast.stmt], names: set[str], lines: Sequence[str]) -> set[str]:
    """Those of ``names`` that the statements of ``body``, nested ones included, return or
    yield. Only statements whose lines have one of the names written are looked into (in a
    module, a whole file of statements, few are), and only those with a ``yield`` written
    searched for one."""
    if not body:
        return set()
    first, last = body[0].lineno, body[-1].end_lineno or body[-1].lineno
    text = "\n".join(lines[first - 1 : last])
    rows = sorted({row for name in names for row in _rows_with(text, first, name)})
    yields = _rows_with(text, first, "yield")
    values: list[ast.expr] = []
    stack = _statements_at(body, rows)
    while stack:
        stmt = stack.pop()
        if type(stmt) is ast.Return:
            if stmt.value is not None:
                values.append(stmt.value)
            continue
        if _statements_at([stmt], yields):
            values.extend(
                node.value
                for node in own_nodes(stmt)
                if isinstance(node, (ast.Yield, ast.YieldFrom)) and node.value is not None
            )
        # (a try's blocks come as body, orelse, finalbody, then its handlers)
        stack.extend(_statements_at(sorted(statements_in(stmt), key=_first_row), rows))
    return {n.id for value in values for n in walk(value) if type(n) is ast.Name} & names


def _rows_with(text: str, first: int, needle: str) -> list[int]:
    """The rows (``first`` for the first line of ``text``) on which ``needle`` is written."""
    rows: list[int] = []
    row, counted = first, 0
    at = text.find(needle)
    while at != -1:
        row += text.count("\n", counted, at)
        counted = at
        if not rows or rows[-1] != row:
            rows.append(row)
        at = text.find(needle, at + len(needle))
    return rows


def _statements_at(block: list[ast.stmt], rows: Sequence[int]) -> list[ast.stmt]:
    """The statements of ``block`` (in line order) whose lines include one of ``rows`` (1-based,
    sorted): a binary search per row, so that a module's thousands of statements are not each
    looked at."""
    found: list[ast.stmt] = []
    if not rows or not block:
        return found
    for row in rows[bisect_left(rows, block[0].lineno) :]:
        stmt = block[bisect_right(block, row, key=_first_row) - 1]
        if row <= (stmt.end_lineno or stmt.lineno) and (not found or found[-1] is not stmt):
            found.append(stmt)
    return found


def _first_row(stmt: ast.stmt) -> int:
    return stmt.lineno


def _forget_whole_uses(node: ast.AST, pending: dict[str, ast.Subscript]) -> None:
    """Drop from ``pending`` the names ``node`` uses as a whole (``f(sd)``, ``sd.items()``,
    ``x = sd``, ``[sd]``), not just indexed (``sd[k]``). Calls nested deeper are visited on
    their own."""
    parts: list[Any]
    if type(node) is ast.Call:
        func = node.func
        parts = [func.value, *node.args] if type(func) is ast.Attribute else [*node.args]
        for kw in node.keywords:
            parts.append(kw.value)
    else:
        parts = [node]
    for part in parts:  # (what a container holds is appended, and visited in turn)
        cls = type(part)
        if cls is ast.Name:
            pending.pop(part.id, None)
        elif cls is ast.Starred:
            parts.append(part.value)
        elif cls is ast.List or cls is ast.Tuple or cls is ast.Set:
            parts.extend(part.elts)
        elif cls is ast.Dict:
            parts.extend(v for v in part.values if v is not None)


def _only_flag_uses(loop: _Loop) -> bool:
    """Is the loop's value variable used only as the receiver of requires_grad(_)?"""
    target = loop.target
    if isinstance(target, ast.Tuple) and len(target.elts) == 2:
        target = target.elts[1]
    if not isinstance(target, ast.Name):
        return False
    name = target.id
    receivers: set[int] = set()
    uses: list[ast.Name] = []
    for stmt in loop.body:
        for node in walk(stmt):
            if isinstance(node, ast.Attribute) and node.attr in ("requires_grad", "requires_grad_"):
                receivers.add(id(node.value))
            elif isinstance(node, ast.Name) and node.id == name:
                uses.append(node)
    return all(id(u) in receivers for u in uses)
