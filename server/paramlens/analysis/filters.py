"""Name filters of freeze loops, evaluated against the real names of a model report.

:func:`compile_filter` turns a loop condition (``"fc" in name``, ``name.startswith(("a", "b"))``,
``re.match(r"layer[12]\\.", name)``, ``any(k in name for k in FROZEN)``, combined with
``and`` / ``or`` / ``not``) into a predicate over names, or None when the condition is not
statically evaluable (then nothing is ever flagged). :func:`freeze_effect` applies a
:class:`~paramlens.analysis.source_map.FreezeLoop` to a report: which names it matches and how
many parameter tensors and elements it freezes or unfreezes. Pure: no torch, no I/O.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from paramlens.analysis.rules.facts import walk
from paramlens.analysis.source_map import FreezeLoop, Sink, dotted_name
from paramlens_worker.protocol import ModelReport, module_class

_STR_METHODS = frozenset(
    {
        "startswith",
        "endswith",
        "lower",
        "upper",
        "casefold",
        "strip",
        "lstrip",
        "rstrip",
        "split",
        "rsplit",
        "replace",
        "count",
        "find",
        "rfind",
        "partition",
        "rpartition",
        "removeprefix",
        "removesuffix",
        "isdigit",
        "isnumeric",
        "join",
        "format",
    }
)
_RE_FUNCS = frozenset({"match", "search", "fullmatch"})
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_INT_OPERATORS: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Mod: operator.mod,
    ast.FloorDiv: operator.floordiv,
}
_BUILTINS: dict[str, Callable[..., Any]] = {
    "len": len,
    "str": str,
    "int": int,
    "tuple": tuple,
    "list": list,
    "set": set,
    "frozenset": frozenset,
    "bool": bool,
    "sorted": sorted,
}
_MAX_REGEX_LEN = 500


_TORCH_FILE = re.compile(r"(^|[/\\])torch[/\\]")
_BATCHNORMS = frozenset(
    {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"}
    | {f"LazyBatchNorm{d}d" for d in (1, 2, 3)}
)
_INSTANCENORMS = frozenset(
    {f"InstanceNorm{d}d" for d in (1, 2, 3)} | {f"LazyInstanceNorm{d}d" for d in (1, 2, 3)}
)
_CONV_TRANSPOSE = frozenset(
    {f"ConvTranspose{d}d" for d in (1, 2, 3)} | {f"LazyConvTranspose{d}d" for d in (1, 2, 3)}
)
_CONVS = frozenset({f"Conv{d}d" for d in (1, 2, 3)} | {f"LazyConv{d}d" for d in (1, 2, 3)})
# torch.nn bases -> the torch.nn classes that are instances of them (beyond the base itself).
_TORCH_SUBCLASSES: dict[str, frozenset[str]] = {
    "_BatchNorm": _BATCHNORMS,
    "_InstanceNorm": _INSTANCENORMS,
    "_NormBase": _BATCHNORMS | _INSTANCENORMS,
    "_ConvNd": _CONVS | _CONV_TRANSPOSE,
    "_ConvTransposeNd": _CONV_TRANSPOSE,
    "Linear": frozenset({"NonDynamicallyQuantizableLinear", "LazyLinear"}),
    "RNNBase": frozenset({"RNN", "LSTM", "GRU"}),
    **{f"Conv{d}d": frozenset({f"LazyConv{d}d"}) for d in (1, 2, 3)},
}


@dataclass(frozen=True)
class ItemInfo:
    """What a loop's item is beyond its name: a module's class, or a tensor's shape.

    ``torch_class`` says the class comes from torch itself; ``bases`` are the base class names of
    a class defined in the user's file (from the source), empty when unknown.
    """

    cls: Optional[str] = None
    torch_class: bool = False
    bases: tuple[str, ...] = ()
    shape: Optional[tuple[int, ...]] = None
    requires_grad: Optional[bool] = None
    tensor: bool = False


@dataclass(frozen=True)
class _ClassRef:
    item: ItemInfo


# What a filter may raise on some names (the user's loop would raise too).
_EVALUATION_ERRORS = (
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    AttributeError,
    ArithmeticError,
    RecursionError,
    re.error,
)


class NotStatic(Exception):
    """The expression needs more than the name and literal constants to evaluate."""


class FilterError(Exception):
    """Evaluating the filter on a name raised (the user's loop would raise too)."""


@dataclass(frozen=True)
class NameFilter:
    """A compiled loop condition: call it with a name to know whether the condition holds."""

    expr: ast.expr
    name_var: Optional[str]
    constants: Mapping[str, Any]
    item_var: Optional[str] = None
    class_bases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    index_var: Optional[str] = None

    def __call__(
        self, name: str, item: Optional[ItemInfo] = None, index: Optional[int] = None
    ) -> bool:
        """Whether the condition holds for ``name`` (and the loop's ``item``, at position
        ``index``); raises :class:`FilterError` if the condition raises for it (an index past
        the end of ``name.split('.')``) or needs facts about the item that are unknown."""
        env = dict(self.constants)
        if self.name_var:
            env[self.name_var] = name
        if self.item_var:
            env[self.item_var] = item if item is not None else _UNKNOWN
        if self.index_var:
            env[self.index_var] = index if index is not None else _UNKNOWN
        try:
            return bool(_Evaluator(env, strict=False, bases=self.class_bases).eval(self.expr))
        except NotStatic as error:  # validated at compile time; keep the contract anyway
            raise FilterError(str(error)) from error
        except _EVALUATION_ERRORS as error:
            raise FilterError(f"{type(error).__name__}: {error}") from error

    @property
    def text(self) -> str:
        """The condition as source text."""
        return ast.unparse(self.expr)


def compile_filter(
    expr: ast.expr,
    name_var: Optional[str],
    constants: Optional[Mapping[str, Any]] = None,
    item_var: Optional[str] = None,
    class_bases: Optional[Mapping[str, tuple[str, ...]]] = None,
    index_var: Optional[str] = None,
) -> Optional[NameFilter]:
    """A predicate over names for ``expr``, or None when it is not statically evaluable.

    ``name_var`` is the loop variable bound to the name; ``constants`` maps other names to
    literal values (module-level ``FROZEN = ["fc1", "bn"]``). ``item_var`` is the variable
    bound to the item (a module or parameter): conditions may then use ``isinstance(m,
    nn.BatchNorm2d)``, ``type(m).__name__``, ``p.ndim`` / ``p.dim()`` / ``p.shape``;
    ``class_bases`` gives the bases of the file's own classes for ``isinstance``;
    ``index_var`` is the counter of ``enumerate(...)``.
    """
    consts = dict(constants) if constants else {}
    for var in (name_var, item_var, index_var):
        if var:
            consts.pop(var, None)
    env = dict(consts)
    if name_var:
        env[name_var] = "probe.0.weight"
    if item_var:
        env[item_var] = _PROBE
    if index_var:
        env[index_var] = 0
    bases = dict(class_bases or {})
    try:
        _Evaluator(env, strict=True, bases=bases).eval(expr)
    except NotStatic:
        return None
    except _EVALUATION_ERRORS:
        pass  # depends on the name: some names raise, known at evaluation
    return NameFilter(expr, name_var, consts, item_var, bases, index_var)


# The evaluator's method for each node class (``_Name`` for ast.Name...), found once.
_EVAL_METHODS: dict[type, Callable[..., Any]] = {}


class _Evaluator:
    """A tiny interpreter for filter expressions. ``strict`` evaluates every operand (no
    short-circuit) so that a validation run meets every node."""

    def __init__(
        self, env: dict[str, Any], strict: bool, bases: Optional[Mapping[str, Any]] = None
    ) -> None:
        self.env = env
        self.strict = strict
        self.bases: Mapping[str, tuple[str, ...]] = bases or {}

    def eval(self, node: ast.AST) -> Any:
        cls = type(node)
        method = _EVAL_METHODS.get(cls)
        if method is None:
            method = getattr(_Evaluator, "_" + cls.__name__, None)
            if method is None:
                raise NotStatic(cls.__name__)
            _EVAL_METHODS[cls] = method
        return method(self, node)

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        if node.id in self.env:
            value = self.env[node.id]
            if value is _UNKNOWN:
                raise NotStatic(f"{node.id} is not known")
            return value
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        raise NotStatic(node.id)

    def _List(self, node: ast.List) -> Any:
        return [self.eval(e) for e in node.elts]

    def _Tuple(self, node: ast.Tuple) -> Any:
        return tuple(self.eval(e) for e in node.elts)

    def _Set(self, node: ast.Set) -> Any:
        return {self.eval(e) for e in node.elts}

    def _JoinedStr(self, node: ast.JoinedStr) -> Any:
        return "".join(str(self.eval(v)) for v in node.values)

    def _FormattedValue(self, node: ast.FormattedValue) -> Any:
        if node.format_spec is not None:
            raise NotStatic("format spec")
        return self.eval(node.value)

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        if self.strict:
            values = [self.eval(v) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node.op, ast.And):
            result: Any = True
            for value in node.values:
                result = self.eval(value)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = self.eval(value)
            if result:
                return result
        return result

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        if isinstance(node.op, ast.USub):
            return -value
        raise NotStatic("unary operator")

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.eval(node.left), self.eval(node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Mod) and isinstance(left, str):
            return left % right
        operation = _INT_OPERATORS.get(type(node.op))
        if operation is not None and all(
            isinstance(v, int) and not isinstance(v, bool) for v in (left, right)
        ):
            return operation(left, right)
        raise NotStatic("binary operator")

    def _IfExp(self, node: ast.IfExp) -> Any:
        if self.strict:
            test, body, orelse = self.eval(node.test), self.eval(node.body), self.eval(node.orelse)
            return body if test else orelse
        return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)

    def _Compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        result = True
        for op, comparator in zip(node.ops, node.comparators):
            right = self.eval(comparator)
            compare = _COMPARE.get(type(op))
            if compare is None:
                raise NotStatic("comparison")
            if not compare(left, right):
                result = False
                if not self.strict:
                    return False
            left = right
        return result

    def _Attribute(self, node: ast.Attribute) -> Any:
        base = self.eval(node.value)
        if isinstance(base, _ClassRef) and node.attr in ("__name__", "__qualname__"):
            if base.item.cls is None:
                raise NotStatic("class")
            return base.item.cls
        if not isinstance(base, ItemInfo):
            raise NotStatic(f".{node.attr}")
        if node.attr == "__class__":
            return _ClassRef(base)
        if not base.tensor:
            raise NotStatic(f"module.{node.attr}")
        if node.attr == "requires_grad" and base.requires_grad is not None:
            return base.requires_grad
        if node.attr in ("shape", "ndim"):
            shape = _shape(base)
            return shape if node.attr == "shape" else len(shape)
        if node.attr == "is_leaf":
            return True
        raise NotStatic(f"tensor.{node.attr}")

    def _item_method(self, item: ItemInfo, name: str, args: list[Any]) -> Any:
        if not item.tensor:
            raise NotStatic(f"module.{name}()")
        shape = _shape(item)
        if name == "dim" and not args:
            return len(shape)
        if name == "numel" and not args:
            total = 1
            for size in shape:
                total *= size
            return total
        if name == "size":
            return shape[args[0]] if args else shape
        raise NotStatic(f"tensor.{name}()")

    def _isinstance(self, node: ast.Call) -> bool:
        if len(node.args) != 2 or node.keywords:
            raise NotStatic("isinstance")
        item = self.eval(node.args[0])
        if not isinstance(item, ItemInfo):
            raise NotStatic("isinstance of something else than the loop's item")
        spec = node.args[1]
        elements = spec.elts if isinstance(spec, (ast.Tuple, ast.List)) else [spec]
        names = []
        for element in elements:
            dotted = dotted_name(element)
            if dotted is None:
                raise NotStatic("isinstance class")
            names.append(dotted.rsplit(".", 1)[-1])
        return any(_is_instance(item, name, self.bases) for name in names)

    def _Subscript(self, node: ast.Subscript) -> Any:
        value = self.eval(node.value)
        if isinstance(node.slice, ast.Slice):
            parts = (node.slice.lower, node.slice.upper, node.slice.step)
            return value[slice(*(None if p is None else self.eval(p) for p in parts))]
        return value[self.eval(node.slice)]

    def _comprehension_values(self, node: ast.GeneratorExp | ast.ListComp) -> list[Any]:
        if len(node.generators) != 1:
            raise NotStatic("nested comprehension")
        gen = node.generators[0]
        if gen.is_async:
            raise NotStatic("async comprehension")
        target_names = [n.id for n in walk(gen.target) if isinstance(n, ast.Name)]
        if not isinstance(gen.target, (ast.Name, ast.Tuple)):
            raise NotStatic("comprehension target")
        iterable = list(self.eval(gen.iter))
        results: list[Any] = []
        saved = {name: self.env.get(name, _MISSING) for name in target_names}
        try:
            if self.strict and not iterable:
                # validate the element once even when the iterable is empty
                iterable = ["probe"] if isinstance(gen.target, ast.Name) else []
            for value in iterable:
                _assign(gen.target, value, self.env)
                if all(self.eval(cond) for cond in gen.ifs):
                    results.append(self.eval(node.elt))
        finally:
            for name, value in saved.items():
                if value is _MISSING:
                    self.env.pop(name, None)
                else:
                    self.env[name] = value
        return results

    def _GeneratorExp(self, node: ast.GeneratorExp) -> Any:
        return self._comprehension_values(node)

    def _ListComp(self, node: ast.ListComp) -> Any:
        return self._comprehension_values(node)

    def _Call(self, node: ast.Call) -> Any:
        if any(k.arg is None for k in node.keywords) or any(
            isinstance(a, ast.Starred) for a in node.args
        ):
            raise NotStatic("star arguments")
        func = node.func
        if isinstance(func, ast.Name):
            if func.id == "isinstance" and "isinstance" not in self.env:
                return self._isinstance(node)
            if func.id == "type" and len(node.args) == 1 and "type" not in self.env:
                item = self.eval(node.args[0])
                if not isinstance(item, ItemInfo):
                    raise NotStatic("type() of something else than the loop's item")
                return _ClassRef(item)
            if func.id in ("any", "all") and len(node.args) == 1 and not node.keywords:
                values = list(self.eval(node.args[0]))
                return any(values) if func.id == "any" else all(values)
            builtin = _BUILTINS.get(func.id)
            if builtin is None or func.id in self.env:
                raise NotStatic(func.id)
            return builtin(*self._args(node), **self._kwargs(node))
        if not isinstance(func, ast.Attribute):
            raise NotStatic("call")
        if isinstance(func.value, ast.Name) and func.value.id == "re" and "re" not in self.env:
            return self._regex(func.attr, node.args, node.keywords)
        if (
            func.attr in _RE_FUNCS
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Attribute)
            and func.value.func.attr == "compile"
            and isinstance(func.value.func.value, ast.Name)
            and func.value.func.value.id == "re"
        ):
            pattern_args = func.value.args
            if len(pattern_args) != 1 or func.value.keywords:
                raise NotStatic("re.compile flags")
            return self._regex(func.attr, [pattern_args[0], *node.args], node.keywords)
        receiver = self.eval(func.value)
        if isinstance(receiver, ItemInfo):
            if node.keywords:
                raise NotStatic("keywords")
            return self._item_method(receiver, func.attr, self._args(node))
        if func.attr not in _STR_METHODS:
            raise NotStatic(func.attr)
        if not isinstance(receiver, str):
            raise NotStatic("method on a non-string")
        args = self._args(node)
        if func.attr in ("startswith", "endswith") and args and isinstance(args[0], list):
            args[0] = tuple(args[0])
        return getattr(receiver, func.attr)(*args, **self._kwargs(node))

    def _args(self, node: ast.Call) -> list[Any]:
        return [self.eval(a) for a in node.args]

    def _kwargs(self, node: ast.Call) -> dict[str, Any]:
        return {str(k.arg): self.eval(k.value) for k in node.keywords}

    def _regex(self, name: str, args: Sequence[ast.expr], keywords: Sequence[ast.keyword]) -> Any:
        if name not in _RE_FUNCS or len(args) != 2 or keywords:
            raise NotStatic(f"re.{name}")
        pattern_node, string_node = args
        pattern = self.eval(pattern_node)
        if not isinstance(pattern, str) or len(pattern) > _MAX_REGEX_LEN:
            raise NotStatic("pattern")
        string = self.eval(string_node)
        if not isinstance(string, str):
            raise NotStatic("regex subject")
        return getattr(re, name)(pattern, string) is not None


_MISSING = object()
_UNKNOWN = object()  # the item variable when the caller knows nothing about the item
_PROBE = ItemInfo(cls="Linear", torch_class=True, shape=(2, 3), requires_grad=True, tensor=True)


def _shape(item: ItemInfo) -> tuple[int, ...]:
    if item.shape is None:
        raise NotStatic("unknown shape (lazy parameter)")
    return tuple(item.shape)


def _is_instance(
    item: ItemInfo, base: str, bases: Mapping[str, tuple[str, ...]], depth: int = 0
) -> bool:
    """``isinstance(item, <class named base>)`` from class names; raises NotStatic when the
    class's ancestry is unknown."""
    if base in ("Module", "object"):
        return True
    if item.tensor:
        return base in ("Parameter", "Tensor")
    if item.cls is None or depth > 20:
        raise NotStatic("class")
    cls = item.cls
    if cls == base:
        return True
    if item.torch_class:
        # parametrize makes `ParametrizedLinear`, a subclass of Linear, in torch's own module
        plain = cls[len("Parametrized") :] if cls.startswith("Parametrized") else cls
        return plain == base or plain in _TORCH_SUBCLASSES.get(base, frozenset())
    parents = bases.get(cls)
    if not parents:
        raise NotStatic(f"the bases of {cls} are unknown")
    found = False
    for parent in parents:
        last = parent.rsplit(".", 1)[-1]
        if last in bases:
            found = _is_instance(ItemInfo(cls=last), base, bases, depth + 1)
        elif parent.startswith(("torch.", "nn.")):
            found = _is_instance(ItemInfo(cls=last, torch_class=True), base, bases, depth + 1)
        else:
            raise NotStatic(f"the bases of {parent} are unknown")
        if found:
            return True
    return False


def _assign(target: ast.expr, value: Any, env: dict[str, Any]) -> None:
    if isinstance(target, ast.Name):
        env[target.id] = value
        return
    if isinstance(target, ast.Tuple):
        values = list(value)
        if len(values) != len(target.elts):
            raise ValueError("cannot unpack")
        for element, item in zip(target.elts, values):
            _assign(element, item, env)
        return
    raise NotStatic("assignment target")


@dataclass(frozen=True)
class FreezeEffect:
    """What a freeze loop does to one model.

    ``names`` are the names the loop iterates (as the loop sees them: receiver-relative,
    with a wrapper's prefix); ``matched`` those at least one sink acts on; ``sink_matches`` the
    names each sink acts on, in sink order. ``frozen`` / ``unfrozen`` are the canonical
    parameter names whose ``requires_grad`` the loop finally sets False / True; the counts are
    over the whole model (``total_*``), elements of lazy parameters excluded.
    """

    kind: str  # "parameters" | "modules" | "buffers"
    names: tuple[str, ...]
    matched: tuple[str, ...]
    sink_matches: tuple[tuple[str, ...], ...]
    frozen: tuple[str, ...]
    unfrozen: tuple[str, ...]
    frozen_elements: int
    unfrozen_elements: int
    total_tensors: int
    total_elements: int

    @property
    def frozen_tensors(self) -> int:
        """How many parameter tensors end frozen by the loop."""
        return len(self.frozen)

    @property
    def unfrozen_tensors(self) -> int:
        """How many parameter tensors end trainable by the loop."""
        return len(self.unfrozen)


@dataclass(frozen=True)
class ParameterIndex:
    """The parameter tensors of a report, by every name they have (aliases included)."""

    canonical: dict[str, str]  # any name -> the name named_parameters() yields
    numel: dict[str, Optional[int]]  # canonical -> elements
    order: tuple[str, ...]  # every name, canonical and aliases, in report order

    @classmethod
    def of(cls, report: ModelReport) -> ParameterIndex:
        """Index the ``parameters`` of a report."""
        canonical: dict[str, str] = {}
        numel: dict[str, Optional[int]] = {}
        order: list[str] = []
        for param in report.get("parameters") or []:
            name = param["name"]
            numel[name] = param.get("numel")
            for alias in [name, *(param.get("aliases") or [])]:
                if alias not in canonical:
                    canonical[alias] = name
                    order.append(alias)
        return cls(canonical, numel, tuple(order))

    def under(self, path: str) -> list[str]:
        """Every name (aliases included) below the module ``path`` (``""``: the root)."""
        if not path:
            return list(self.order)
        start = path + "."
        return [name for name in self.order if name.startswith(start)]


def loop_names(loop: FreezeLoop, report: ModelReport) -> list[tuple[str, str]]:
    """The items a loop iterates over on this model, as (name the loop sees, full name in the
    report). Full names of module items are module paths; of parameters, any parameter name."""
    path = loop.receiver_path
    relative = _relative(path)
    items: list[tuple[str, str]] = []
    if loop.method in ("named_parameters", "parameters"):
        index = ParameterIndex.of(report)
        seen: set[str] = set()
        for name in index.under(path):
            tensor = index.canonical[name]
            if loop.remove_duplicate and tensor in seen:
                continue
            seen.add(tensor)
            items.append((relative(name), name))
        if not loop.recurse:
            items = [item for item in items if "." not in item[0]]
    elif loop.method in ("named_buffers", "buffers"):
        names = [b["name"] for b in report.get("buffers") or []]
        items = [(relative(n), n) for n in names if not path or n.startswith(path + ".")]
        if not loop.recurse:
            items = [item for item in items if "." not in item[0]]
    elif loop.method in ("named_modules", "modules"):
        modules = [str(m.get("name", "")) for m in report.get("modules") or []]
        if "" not in modules:
            modules.insert(0, "")
        items = [
            (relative(n) if n != path else "", n)
            for n in modules
            if not path or n == path or n.startswith(path + ".")
        ]
    elif loop.method in ("named_children", "children"):
        modules = [str(m.get("name", "")) for m in report.get("modules") or []]
        items = [
            (relative(n), n)
            for n in modules
            if n and (not path or n.startswith(path + ".")) and "." not in relative(n)
        ]
        if loop.prefix:
            # a wrapper has one child: the model (`module` / `_orig_mod`)
            items = [("", "")]
    seen_items = [(_prefixed(loop, seen_name), full) for seen_name, full in items]
    if loop.prefix and loop.method in ("named_modules", "modules"):
        seen_items.insert(0, ("", ""))  # the wrapper itself; freezing it freezes the model
    if loop.item_slice is not None:
        seen_items = seen_items[slice(*loop.item_slice)]
    return seen_items


def _relative(path: str) -> Callable[[str], str]:
    cut = len(path) + 1 if path else 0
    return lambda name: name[cut:]


def _prefixed(loop: FreezeLoop, name: str) -> str:
    """The name as the loop sees it: under the wrapper's attribute, then the ``prefix=``."""
    if loop.prefix:
        wrapper = loop.prefix.rstrip(".")
        name = f"{wrapper}.{name}" if name else wrapper
    if loop.name_prefix:
        name = f"{loop.name_prefix}.{name}" if name else loop.name_prefix
    return name


def loop_filter(loop: FreezeLoop, expr: ast.expr) -> Optional[NameFilter]:
    """``expr`` (a condition or computed value of ``loop``) compiled with the loop's variables,
    constants and the file's class bases; None if not statically evaluable."""
    return compile_filter(
        expr, loop.name_var, loop.constants, loop.item_var, loop.class_bases, loop.index_var
    )


def sink_filters(loop: FreezeLoop, sink: Sink) -> Optional[list[tuple[NameFilter, bool]]]:
    """The compiled conditions of a sink with their expected truth; None if any is not static."""
    compiled: list[tuple[NameFilter, bool]] = []
    for test, expected in sink.conditions:
        name_filter = loop_filter(loop, test)
        if name_filter is None:
            return None
        compiled.append((name_filter, expected))
    return compiled


def select(
    filters: Sequence[tuple[NameFilter, bool]],
    names: Iterable[str],
    items: Optional[Mapping[str, ItemInfo]] = None,
) -> list[str]:
    """The names for which every condition has its expected truth (``items``: what each name's
    item is, for conditions on the item; a name's position is its ``enumerate`` index);
    raises FilterError."""
    known = items or {}
    return [
        n
        for i, n in enumerate(names)
        if all(f(n, known.get(n), i) == expected for f, expected in filters)
    ]


def item_infos(loop: FreezeLoop, report: ModelReport) -> dict[str, ItemInfo]:
    """Name as the loop sees it -> what the item is (module class or tensor facts)."""
    items = loop_names(loop, report)
    infos: dict[str, ItemInfo] = {}
    if loop.method in ("named_modules", "modules", "named_children", "children"):
        modules = {str(m.get("name", "")): m for m in report.get("modules") or []}
        for seen, full in items:
            module = modules.get(full)
            if module is not None:
                infos[seen] = ItemInfo(
                    cls=module_class(module),
                    torch_class=bool(_TORCH_FILE.search(str(module.get("class_file") or ""))),
                )
        return infos
    tensors: dict[str, dict[str, Any]] = {}
    for param in report.get("parameters") or []:
        for name in [param["name"], *(param.get("aliases") or [])]:
            tensors[name] = {**param, "requires_grad": bool(param.get("requires_grad"))}
    for buffer in report.get("buffers") or []:
        tensors.setdefault(buffer["name"], {**buffer, "requires_grad": False})
    for seen, full in items:
        tensor = tensors.get(full)
        if tensor is not None:
            shape = tensor.get("shape")
            infos[seen] = ItemInfo(
                shape=None if shape is None else tuple(shape),
                requires_grad=tensor["requires_grad"],
                tensor=True,
            )
    return infos


def freeze_effect(loop: FreezeLoop, report: ModelReport) -> Optional[FreezeEffect]:
    """What ``loop`` does to the model of ``report``; None when the report has no parameters
    list (not built) or a condition or value is not statically evaluable."""
    if report.get("status") != "ok":
        return None
    items = loop_names(loop, report)
    index = ParameterIndex.of(report)
    kind = (
        "buffers"
        if "buffer" in loop.method
        else "modules"
        if loop.method in ("named_modules", "modules", "named_children", "children")
        else "parameters"
    )
    final: dict[str, bool] = {}
    sink_matches: list[tuple[str, ...]] = []
    matched: set[str] = set()
    infos = item_infos(loop, report)
    values: list[Optional[NameFilter]] = []
    try:
        for sink in loop.sinks:
            filters = sink_filters(loop, sink)
            value_filter = loop_filter(loop, sink.value_expr) if sink.value_expr else None
            if filters is None or (sink.value_expr is not None and value_filter is None):
                return None
            values.append(value_filter)
            hits = tuple(select(filters, [seen for seen, _ in items], infos))
            sink_matches.append(hits)
            matched.update(hits)
        for position, (seen, full) in enumerate(items):
            for sink, hits, value_filter in zip(loop.sinks, sink_matches, values):
                if seen not in hits:
                    continue
                value = sink.value
                if value_filter is not None:
                    value = value_filter(seen, infos.get(seen), position)
                if value is None:
                    continue
                for tensor in _tensors_of(kind, sink, full, index):
                    final[tensor] = value
    except FilterError:
        return None
    order = [name for name in index.numel]
    frozen = tuple(n for n in order if final.get(n) is False)
    unfrozen = tuple(n for n in order if final.get(n) is True)
    return FreezeEffect(
        kind=kind,
        names=tuple(seen for seen, _ in items),
        matched=tuple(seen for seen, _ in items if seen in matched),
        sink_matches=tuple(sink_matches),
        frozen=frozen,
        unfrozen=unfrozen,
        frozen_elements=sum(index.numel[n] or 0 for n in frozen),
        unfrozen_elements=sum(index.numel[n] or 0 for n in unfrozen),
        total_tensors=len(order),
        total_elements=sum(v or 0 for v in index.numel.values()),
    )


def _tensors_of(kind: str, sink: Sink, full: str, index: ParameterIndex) -> list[str]:
    """The canonical parameter tensors a sink acting on item ``full`` changes."""
    if kind == "buffers":
        return []
    if kind == "parameters":
        if sink.kind != "item":
            return []
        return [index.canonical[full]] if full in index.canonical else []
    if sink.kind == "item_attr":
        name = f"{full}.{sink.attr}" if full else sink.attr
        return [index.canonical[name]] if name in index.canonical else []
    tensors: list[str] = []
    for name in index.under(full):
        tensor = index.canonical[name]
        if tensor not in tensors:
            tensors.append(tensor)
    return tensors


def module_classes(report: ModelReport) -> dict[str, str]:
    """Module path -> class name for every module of a report."""
    return {str(m.get("name", "")): module_class(m) for m in report.get("modules") or []}
