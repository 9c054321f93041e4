"""The map from a script's source to the models the worker builds: pure ``ast``, no torch.

:func:`build_source_map` finds the ``nn.Module`` classes of a file, its zero-argument factory
functions, the ``self.<name> = ...`` submodule assignments, the variables bound to built models
(``model = Net()``, wrapped by ``torch.compile`` / ``DataParallel``), and the freeze loops
(``for n, p in model.named_parameters(): if <filter>: p.requires_grad = False``).
:func:`target_at` says what a cursor position is on, for hovers.

Lines are 0-based everywhere in this module (as in :class:`~paramlens.analysis.findings.Span`);
the worker's reports use 1-based ``line`` / ``class_line`` / ``assigned_line``.
"""

from __future__ import annotations

import ast
import dataclasses
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional, TypeVar

from paramlens.analysis.findings import Span, span_of
from paramlens.analysis.rules.facts import (
    import_bindings,
    own_nodes,
    statements_breadth_first,
)
from paramlens_worker.protocol import (
    SAME_MODULE_METHODS,
    ModelReport,
    is_variable_report,
    variable_key,
)
from paramlens_worker.sites import chain_root, restructured_module

COLLECTION_METHODS = (
    "named_parameters",
    "parameters",
    "named_buffers",
    "buffers",
    "state_dict",
    "named_modules",
    "modules",
    "named_children",
    "children",
)
LOOP_METHODS = (
    "named_parameters",
    "parameters",
    "named_buffers",
    "buffers",
    "named_modules",
    "modules",
    "named_children",
    "children",
)
# nn.Module subclasses of common libraries, recognised as bases without their source.
LIBRARY_MODULE_BASES = frozenset({"LightningModule", "PreTrainedModel"})
COMPILE_PREFIX = "_orig_mod."
PARALLEL_PREFIX = "module."
_PARALLEL_WRAPPERS = frozenset({"DataParallel", "DistributedDataParallel"})


@dataclass(frozen=True)
class ModuleClass:
    """An ``nn.Module`` subclass defined at the top level of the file."""

    name: str
    span: Span  # the class name token
    line: int  # the ``class`` line (0-based; decorators excluded)
    bases: tuple[str, ...]
    node: ast.ClassDef = field(compare=False, repr=False)


@dataclass(frozen=True)
class Factory:
    """A top-level function callable without arguments that returns a Module."""

    name: str
    span: Span  # the function name token
    line: int
    node: ast.FunctionDef = field(compare=False, repr=False)


@dataclass(frozen=True)
class SubmoduleAssignment:
    """``self.<attr> = <value>`` in the ``__init__`` of a Module class."""

    class_name: str
    attr: str
    span: Span  # the ``self.<attr>`` target
    line: int
    constructor: Optional[str]  # dotted callee of the value (``nn.Linear``), None if no call


@dataclass(frozen=True)
class ModelBinding:
    """A variable bound to a model the worker can build (or shadowed: ``object`` None).

    ``prefix`` is what a wrapper adds to every name: ``"_orig_mod."`` for ``torch.compile``,
    ``"module."`` for ``DataParallel`` / ``DistributedDataParallel``, ``""`` when unwrapped.
    """

    name: str
    object: Optional[str]
    prefix: str
    span: Span  # the assigned name
    line: int
    scope: str  # "" for module scope, else the function's qualified name
    imported: bool = False

    @property
    def wrapped(self) -> bool:
        """Whether a wrapper adds a prefix to the names."""
        return bool(self.prefix)


@dataclass(frozen=True)
class Sink:
    """One place a loop sets ``requires_grad``, with the conditions that guard it.

    ``kind``: ``"item"`` (``p.requires_grad = v`` / ``x.requires_grad_(v)`` on the loop's item),
    ``"item_parameters"`` (``for q in m.parameters(): q.requires_grad = v`` on a module item),
    ``"item_attr"`` (``m.<attr>.requires_grad = v``; ``attr`` holds the dotted rest).
    ``value`` is the constant set (False freezes), None when ``value_expr`` computes it.
    ``conditions`` are ``(test, expected truth)`` pairs that must all hold.
    """

    span: Span
    kind: str
    value: Optional[bool]
    value_expr: Optional[ast.expr] = field(compare=False, repr=False)
    conditions: tuple[tuple[ast.expr, bool], ...] = field(compare=False, repr=False)
    attr: str = ""


@dataclass(frozen=True)
class FreezeLoop:
    """A loop (or comprehension) over a model collection that sets ``requires_grad``.

    ``receiver`` is the variable (``model``, ``self``), ``receiver_path`` the attribute path
    below it (``"backbone"`` for ``model.backbone.named_parameters()``); ``object`` and
    ``prefix`` come from the receiver's binding (None: unknown model, never flag).
    ``name_var`` is the loop variable holding the name (None for ``parameters()`` loops).
    """

    span: Span  # the loop header: ``for`` ... iterable (comprehension: the whole expression)
    line: int
    method: str
    receiver: str
    receiver_path: str
    object: Optional[str]
    prefix: str
    name_var: Optional[str]
    item_var: Optional[str]
    sinks: tuple[Sink, ...]
    iter_span: Span
    recurse: bool = True
    remove_duplicate: bool = True
    name_prefix: str = ""  # ``named_parameters(prefix=...)``
    scope: str = ""
    imported: bool = False
    calls_eval: bool = False  # the body calls ``<item>.eval()``
    constants: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    node: ast.AST = field(default_factory=ast.Pass, compare=False, repr=False)
    # the file's Module classes -> their bases, qualified (``torch.nn.Linear``), for isinstance
    class_bases: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    index_var: Optional[str] = None  # ``for i, (n, p) in enumerate(...)``
    # ``for p in list(model.parameters())[:-2]``: (start, stop, step) of the literal slice
    item_slice: Optional[tuple[Optional[int], Optional[int], Optional[int]]] = None

    def filter_strings(self) -> Iterator[ast.Constant]:
        """The string literals inside the loop's filters."""
        seen: set[int] = set()
        for sink in self.sinks:
            exprs = [test for test, _ in sink.conditions]
            if sink.value_expr is not None:
                exprs.append(sink.value_expr)
            for expr in exprs:
                for node in ast.walk(expr):
                    if (
                        isinstance(node, ast.Constant)
                        and isinstance(node.value, str)
                        and id(node) not in seen
                    ):
                        seen.add(id(node))
                        yield node


@dataclass(frozen=True)
class FreezeCall:
    """``<model chain>.requires_grad_(value)`` as a statement: freezes (False) or unfreezes a
    whole model or submodule. ``receiver_path`` is the module path below the variable."""

    span: Span
    line: int
    receiver: str
    receiver_path: str
    object: Optional[str]
    value: Optional[bool]
    scope: str = ""
    imported: bool = False


@dataclass(frozen=True)
class HoverTarget:
    """What the cursor is on.

    ``kind``: ``"class"`` | ``"submodule"`` | ``"attribute_chain"`` | ``"collection_call"`` |
    ``"filter_string"``. ``object`` is the class/factory name a report's ``object`` matches
    (None if unknown); ``path`` the dotted path inside that model (``"fc1.weight"``; ``""`` for
    the model itself), already without a wrapper's prefix; ``prefix`` the wrapper's prefix of
    the variable. ``method`` / ``keep_vars`` / ``recurse`` describe collection calls;
    ``text`` is the literal of a filter string, ``loop`` the loop it filters.
    """

    kind: str
    span: Span
    object: Optional[str]
    path: str = ""
    method: Optional[str] = None
    keep_vars: bool = False
    recurse: bool = True
    prefix: str = ""
    variable: Optional[str] = None
    text: Optional[str] = None
    imported: bool = False
    loop: Optional[FreezeLoop] = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SourceMap:
    """Everything :func:`build_source_map` found in one file."""

    classes: tuple[ModuleClass, ...]
    factories: tuple[Factory, ...]
    submodules: tuple[SubmoduleAssignment, ...]
    bindings: tuple[ModelBinding, ...]
    loops: tuple[FreezeLoop, ...]
    targets: tuple[HoverTarget, ...]
    constants: Mapping[str, Any] = field(default_factory=dict, compare=False)
    freeze_calls: tuple[FreezeCall, ...] = ()
    by_line: Mapping[int, tuple[HoverTarget, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def module_class(self, name: str) -> Optional[ModuleClass]:
        """The Module class of that name, if the file defines one."""
        return next((c for c in self.classes if c.name == name), None)

    def binding_at(self, name: str, line: int, scope: str = "") -> Optional[ModelBinding]:
        """The binding of ``name`` in effect at ``line`` (0-based) in ``scope``."""
        return _BindingIndex(self.bindings).at(name, line, scope)


def report_for(
    reports: Sequence[ModelReport], object_name: Optional[str], path: Optional[str] = None
) -> Optional[ModelReport]:
    """The report whose ``object`` is ``object_name``: the one of ``path`` first, else the only
    report of that name (an imported class built from another file)."""
    if object_name is None:
        return None
    named = [r for r in reports if r.get("object") == object_name]
    if path is not None:
        wanted = _norm(path)
        for report in named:
            if _norm(str(report.get("file") or "")) == wanted:
                return report
    if len(named) == 1 or (named and path is None):
        return named[0]
    return None


def _norm(path: str) -> str:
    return os.path.normcase(os.path.normpath(path)) if path else ""


class Superseded(Exception):
    """The map being built is not wanted any more (raised by a ``checkpoint``)."""


_UNKNOWN = object()  # a value known only at run time
# What a value bound to a model is: (object, wrapper prefix, imported).
_Model = tuple[Optional[str], str, bool]


class _Passed(NamedTuple):
    """What one call of a helper passes one parameter: a model (or None), a literal value (or
    ``_UNKNOWN``)."""

    model: Optional[_Model]
    value: Any


class ReportNames(NamedTuple):
    """The ``object`` of each report of a file, sorted: classes and factories, variables."""

    modules: tuple[str, ...]
    variables: tuple[str, ...]


def report_names(reports: Sequence[ModelReport]) -> ReportNames:
    """The names a source map takes from ``reports`` (see :func:`build_source_map`)."""
    modules: set[str] = set()
    variables: set[str] = set()
    for report in reports:
        name = report.get("object")
        if name:
            (variables if is_variable_report(report) else modules).add(str(name))
    return ReportNames(tuple(sorted(modules)), tuple(sorted(variables)))


def build_source_map(
    tree: ast.Module,
    source: str,
    module_names: Collection[str] = (),
    checkpoint: Optional[Callable[[], None]] = None,
    variables: Collection[str] = (),
) -> SourceMap:
    """Map one parsed file. ``module_names`` are extra names (bases, callees) known to be
    Modules, e.g. the ``object`` of every class or factory report, so imported classes count
    too; ``variables`` the ``object`` of every variable's report (``model``, ``main.net``: see
    :func:`~paramlens_worker.protocol.variable_key`), bound to their reports where assigned.
    ``checkpoint`` is called between statements: it may raise :class:`Superseded` to give up
    (the text changed), or wait (more urgent work runs)."""
    return _Builder(tree, source, frozenset(module_names), checkpoint, frozenset(variables)).build()


def _go_on() -> None:
    pass


def target_at(source_map: SourceMap, line: int, col: int) -> Optional[HoverTarget]:
    """The innermost hover target containing the position (0-based line, code-point column)."""
    best: Optional[HoverTarget] = None
    candidates = source_map.by_line.get(line, ()) if source_map.by_line else source_map.targets
    for target in candidates:
        span = target.span
        inside = (span.start_line, span.start_col) <= (line, col) < (span.end_line, span.end_col)
        # A cursor just after the token (end of a word) still means that token.
        at_end = (span.end_line, span.end_col) == (line, col) and span.start_col != span.end_col
        if (inside or (at_end and best is None)) and (
            best is None or _span_size(span) < _span_size(best.span)
        ):
            best = target
    return best


def _index_by_line(targets: Sequence[HoverTarget]) -> dict[int, tuple[HoverTarget, ...]]:
    index: dict[int, list[HoverTarget]] = {}
    for target in targets:
        for line in range(target.span.start_line, target.span.end_line + 1):
            index.setdefault(line, []).append(target)
    return {line: tuple(found) for line, found in index.items()}


def _span_size(span: Span) -> tuple[int, int]:
    return (span.end_line - span.start_line, span.end_col - span.start_col)


def dotted_name(node: ast.AST) -> Optional[str]:
    """``a.b.c`` for a chain of Names/Attributes, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _BindingIndex:
    """Bindings by (name, scope), in the order they were made."""

    def __init__(self, bindings: Sequence[ModelBinding] = ()) -> None:
        self.all: list[ModelBinding] = []
        self.by_key: dict[tuple[str, str], list[ModelBinding]] = {}
        self.names: set[str] = set()  # every name bound in some scope
        for binding in bindings:
            self.add(binding)

    def add(self, binding: ModelBinding) -> None:
        self.all.append(binding)
        self.by_key.setdefault((binding.name, binding.scope), []).append(binding)
        self.names.add(binding.name)

    def _latest(self, name: str, scope: str, before: int) -> Optional[ModelBinding]:
        found = None
        for binding in self.by_key.get((name, scope), ()):
            # the last one made on the latest line: a parameter bound again once its calls are
            # known stays below the body's own bindings
            if binding.line < before and (found is None or binding.line >= found.line):
                found = binding
        return found

    def at(self, name: str, line: int, scope: str) -> Optional[ModelBinding]:
        """The binding of ``name`` in effect at ``line`` of ``scope``."""
        if name not in self.names:
            return None  # most names of a file: bound to no model anywhere
        if scope:
            local = self._latest(name, scope, line)
            if local is not None or (name, scope) in self.by_key:
                return local
            # A function runs after the whole module ran: the module's last binding holds.
            return self._latest(name, "", 1 << 30)
        return self._latest(name, "", line)


def _attr_token_span(node: ast.Attribute, lines: Sequence[str]) -> Span:
    """The span of the attribute name token of ``x.attr``."""
    whole = span_of(node, lines)
    return Span(whole.end_line, whole.end_col - len(node.attr), whole.end_line, whole.end_col)


def _chain(node: ast.AST) -> Optional[tuple[ast.Name, list[tuple[str, ast.AST]]]]:
    """A chain ``root.a[0].b`` as its root Name and (segment, node) pairs; None otherwise."""
    segments: list[tuple[str, ast.AST]] = []
    while True:
        if isinstance(node, ast.Attribute):
            segments.append((node.attr, node))
            node = node.value
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
            if isinstance(key, bool) or not isinstance(key, (int, str)):
                return None
            segments.append((str(key), node))
            node = node.value
        elif isinstance(node, ast.Name):
            return node, list(reversed(segments))
        else:
            return None


def _bool_constant(node: Optional[ast.AST]) -> Optional[bool]:
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


def _keyword(call: ast.Call, name: str) -> Optional[ast.expr]:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _literal(node: ast.AST) -> Any:
    """The value of a literal expression; raises ValueError if it is not one."""
    return ast.literal_eval(node)


def _literal_or_unknown(node: ast.AST) -> Any:
    """The value of a literal expression; ``_UNKNOWN`` for any other expression."""
    try:
        return _literal(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return _UNKNOWN


@dataclass(frozen=True)
class _Head:
    """What a loop iterates: the collection call, its receiver and the loop's variables."""

    call: ast.Call
    method: str
    receiver: tuple[str, str, Optional[str], str, bool]
    name_var: Optional[str]
    item_var: str
    index_var: Optional[str] = None
    item_slice: Optional[tuple[Optional[int], Optional[int], Optional[int]]] = None


def _literal_slice(node: ast.expr) -> Optional[tuple[Optional[int], Optional[int], Optional[int]]]:
    if not isinstance(node, ast.Slice):
        return None
    parts: list[Optional[int]] = []
    for part in (node.lower, node.upper, node.step):
        if part is None:
            parts.append(None)
            continue
        try:
            value = ast.literal_eval(part)
        except ValueError:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        parts.append(value)
    return parts[0], parts[1], parts[2]


class _Builder:
    def __init__(
        self,
        tree: ast.Module,
        source: str,
        module_names: frozenset[str],
        checkpoint: Optional[Callable[[], None]] = None,
        variables: frozenset[str] = frozenset(),
    ) -> None:
        self.checkpoint = checkpoint or _go_on
        self.tree = tree
        self.lines = source.splitlines()
        self.extra = module_names
        self.variables = variables
        self.imports: dict[str, str] = {}  # local name -> fully qualified dotted name
        self.from_imported: set[str] = set()
        self.classes: dict[str, ModuleClass] = {}
        self.factories: dict[str, Factory] = {}
        self.bindings = _BindingIndex()
        self.loops: list[FreezeLoop] = []
        self.targets: list[HoverTarget] = []
        self.submodules: list[SubmoduleAssignment] = []
        self.constants: dict[str, Any] = {}
        # methods of plain classes (a Trainer holding self.model), walked once their
        # self.<attr> bindings are known
        self.deferred: list[tuple[Sequence[ast.stmt], str, ast.AST, str]] = []
        self.self_class: Optional[str] = None
        self.plain_classes: set[str] = set()
        self.self_bindings: dict[tuple[str, str], ModelBinding] = {}
        self.constant_nodes: dict[str, ast.expr] = {}
        self.freeze_calls: list[FreezeCall] = []
        self.bases_of_classes: dict[str, tuple[str, ...]] = {}
        # top-level functions of the file, and what each call of one passes its parameters
        self.helpers: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {
            node.name: node
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        self.passed: dict[str, list[dict[str, _Passed]]] = {}
        self.restructuring: dict[str, frozenset[str]] = {}  # helper -> parameters it changes
        self.held_restructuring: dict[str, dict[str, dict[str, int]]] = {}  # by plain class

    def span(self, node: ast.AST) -> Span:
        return span_of(node, self.lines)

    def build(self) -> SourceMap:
        self._collect_imports()
        self.constants = self._scope_constants(self.tree.body, self.constant_nodes)
        self._collect_classes()
        self.bases_of_classes = self.class_bases()
        self._collect_factories()
        self._collect_submodules()
        self._collect_methods()
        self._walk_scope(self.tree.body, "", None)
        # `freeze(self.model)` in a method: that function is walked after the methods
        callees = {name: _called_names(f) for name, f in self.helpers.items()}
        after_methods = _called_from_methods(callees)
        first: list[ast.stmt] = []
        later: list[ast.stmt] = []
        for node in _callers_first(self.tree.body, self.helpers, callees):
            after = _is_helper(node, self.helpers) and node.name in after_methods  # type: ignore[attr-defined]
            (later if after else first).append(node)
        for node in first:
            self.checkpoint()
            self._walk_functions(node, "")
        for _, qual, func, _ in self.deferred:
            # `Trainer(model)` in a function walked after the class: `__init__`'s parameters
            self._bind_parameters(func, qual, None)
        self._bind_self_attributes()
        for body, qual, func, cls in _methods_callers_first(self.deferred):
            self.checkpoint()
            self.self_class = cls
            self._bind_parameters(func, qual, None)  # `self.freeze(self.model)` in a method
            self._walk_scope(body, qual, None, func, bind=False)
        self.self_class = None
        for node in later:
            self.checkpoint()
            self._walk_functions(node, "")
        self._class_targets()
        self._filter_targets()
        return SourceMap(
            classes=tuple(self.classes.values()),
            factories=tuple(self.factories.values()),
            submodules=tuple(self.submodules),
            bindings=tuple(self.bindings.all),
            loops=tuple(sorted(self.loops, key=lambda loop: (loop.line, loop.span))),
            targets=tuple(self.targets),
            constants=self.constants,
            by_line=_index_by_line(self.targets),
            freeze_calls=tuple(self.freeze_calls),
        )

    def _collect_methods(self) -> None:
        """Adds the methods of the file's top-level plain classes (a ``Trainer``) to the
        helpers, as ``Trainer.freeze``: ``Trainer(model)`` passes ``__init__`` its arguments,
        ``self.freeze(self.model)`` in a method of the class passes ``freeze`` its own."""
        for node in self.tree.body:
            if isinstance(node, ast.ClassDef) and node.name not in self.classes:
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.helpers[f"{node.name}.{item.name}"] = item

    def _collect_imports(self) -> None:
        for node in statements_breadth_first(self.tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for local, dotted, from_import in import_bindings(node):
                    self.imports[local] = dotted
                    if from_import:
                        self.from_imported.add(local)

    def qualname(self, node: ast.AST) -> Optional[str]:
        """The dotted name with its import resolved: ``nn.Linear`` -> ``torch.nn.Linear``."""
        name = dotted_name(node)
        if name is None:
            return None
        root, _, rest = name.partition(".")
        resolved = self.imports.get(root)
        if resolved is None:
            return name
        return f"{resolved}.{rest}" if rest else resolved

    def class_bases(self) -> dict[str, tuple[str, ...]]:
        """Module class -> its bases as qualified dotted names."""
        return {
            cls.name: tuple(self.qualname(b) or "" for b in cls.node.bases)
            for cls in self.classes.values()
        }

    def _is_module_base(self, base: ast.expr) -> bool:
        name = dotted_name(base)
        qual = self.qualname(base)
        if name is None or qual is None:
            return False
        last = name.rsplit(".", 1)[-1]
        return (
            qual.startswith("torch.nn.")
            or name.startswith("nn.")
            or name in self.classes
            or last in self.extra
            or name in self.extra
            or last in LIBRARY_MODULE_BASES
        )

    def _collect_classes(self) -> None:
        defs = [node for node in self.tree.body if isinstance(node, ast.ClassDef)]
        changed = True
        while changed:
            changed = False
            for node in defs:
                if node.name not in self.classes and (
                    node.name in self.extra or any(self._is_module_base(b) for b in node.bases)
                ):
                    self.classes[node.name] = ModuleClass(
                        name=node.name,
                        span=self._def_name_span(node),
                        line=node.lineno - 1,
                        bases=tuple(dotted_name(b) or "" for b in node.bases),
                        node=node,
                    )
                    changed = True

    def _def_name_span(self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> Span:
        line = node.lineno - 1
        text = self.lines[line] if line < len(self.lines) else ""
        keyword = "class" if isinstance(node, ast.ClassDef) else "def"
        start = text.find(keyword)
        start = text.find(node.name, start + len(keyword) if start >= 0 else 0)
        if start < 0:
            start = 0
        return Span(line, start, line, start + len(node.name))

    def _is_module_ctor(self, func: ast.expr) -> bool:
        """Whether calling ``func`` builds a Module (a class of the file, nn.*, a factory)."""
        name = dotted_name(func)
        if name is None:
            return False
        qual = self.qualname(func) or name
        last = name.rsplit(".", 1)[-1]
        if name in self.classes or name in self.factories:
            return True
        if qual.startswith("torch.nn.") and last[:1].isupper():
            return True
        return last in self.extra

    def _collect_factories(self) -> None:
        defs = [
            node
            for node in self.tree.body
            if isinstance(node, ast.FunctionDef) and self._zero_arg(node)
        ]
        changed = True
        while changed:
            changed = False
            for node in defs:
                if node.name not in self.factories and self._returns_module(node):
                    self.factories[node.name] = Factory(
                        node.name, self._def_name_span(node), node.lineno - 1, node
                    )
                    changed = True

    @staticmethod
    def _zero_arg(node: ast.FunctionDef) -> bool:
        args = node.args
        positional = args.posonlyargs + args.args
        return len(args.defaults) == len(positional) and all(
            default is not None for default in args.kw_defaults
        )

    def _returns_module(self, node: ast.FunctionDef) -> bool:
        built: set[str] = set()
        returns: list[ast.expr] = []
        for stmt in _statements(node.body):
            if isinstance(stmt, ast.Assign) and self._builds_module(stmt.value, built):
                built.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
            elif isinstance(stmt, ast.Return) and stmt.value is not None:
                returns.append(stmt.value)
        return bool(returns) and all(self._builds_module(value, built) for value in returns)

    def _builds_module(self, value: ast.expr, built: Collection[str]) -> bool:
        if isinstance(value, ast.Name):
            return value.id in built
        if not isinstance(value, ast.Call):
            return False
        if self._is_module_ctor(value.func):
            return True
        if isinstance(value.func, ast.Attribute) and value.func.attr in SAME_MODULE_METHODS:
            return self._builds_module(value.func.value, built)
        return (
            self._wrapper_prefix(value) is not None
            and bool(value.args)
            and (self._builds_module(value.args[0], built))
        )

    def _wrapper_prefix(self, call: ast.Call) -> Optional[str]:
        qual = self.qualname(call.func)
        if qual is None:
            return None
        last = qual.rsplit(".", 1)[-1]
        if qual == "torch.compile":
            return COMPILE_PREFIX
        if last in _PARALLEL_WRAPPERS or qual == "DDP":
            return PARALLEL_PREFIX
        return None

    def _collect_submodules(self) -> None:
        for cls in self.classes.values():
            for item in cls.node.body:
                if not (isinstance(item, ast.FunctionDef) and item.name == "__init__"):
                    continue
                for stmt in _statements(item.body):
                    targets, value = _assigned(stmt)
                    for target in targets if value is not None else ():
                        if (
                            isinstance(target, ast.Attribute)
                            and isinstance(target.value, ast.Name)
                            and target.value.id == "self"
                        ):
                            ctor = dotted_name(value.func) if isinstance(value, ast.Call) else None
                            self.submodules.append(
                                SubmoduleAssignment(
                                    class_name=cls.name,
                                    attr=target.attr,
                                    span=self.span(target),
                                    line=target.lineno - 1,
                                    constructor=ctor,
                                )
                            )

    def _scope_constants(
        self, body: Sequence[ast.stmt], nodes: Optional[dict[str, ast.expr]] = None
    ) -> dict[str, Any]:
        """Names assigned exactly once in the scope, to a literal (``nodes``: their values'
        expressions, filled in)."""
        counts: dict[str, int] = {}
        values: dict[str, Any] = {}
        for stmt in _statements(body):
            targets, value = _assigned(stmt)
            if isinstance(stmt, (ast.AugAssign, ast.For)):
                targets = [stmt.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        counts[name.id] = counts.get(name.id, 0) + 1
                        if isinstance(target, ast.Name) and value is not None:
                            try:
                                values[name.id] = _literal(value)
                            except (ValueError, TypeError, SyntaxError, RecursionError):
                                values.pop(name.id, None)
                            if nodes is not None:
                                nodes[name.id] = value
        return {name: value for name, value in values.items() if counts.get(name) == 1}

    def _walk_functions(self, node: ast.AST, prefix: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            qual = f"{prefix}{node.name}"
            owner = None
            cls = prefix[:-1] if prefix.endswith(".") else ""
            if cls in self.classes:
                owner = cls
            elif cls in self.plain_classes:
                self._walk_scope(node.body, qual, None, node, collect=False)
                self.deferred.append((node.body, qual, node, cls))
            else:
                self._walk_scope(node.body, qual, owner, node)
            if owner is not None:
                self._walk_scope(node.body, qual, owner, node)
            for child in node.body:
                self._walk_functions(child, qual + ".")
        elif isinstance(node, ast.ClassDef):
            if not prefix and node.name not in self.classes:
                self.plain_classes.add(node.name)
            for child in node.body:
                self._walk_functions(child, f"{prefix}{node.name}.")
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for inner in ast.iter_child_nodes(node):
                self._walk_functions(inner, prefix)

    def _model_of(
        self, value: ast.expr, scope: str, line: int
    ) -> Optional[tuple[Optional[str], str, bool]]:
        """(object, wrapper prefix, imported) of a value bound to a model; None if not one."""
        if isinstance(value, ast.Name):
            binding = self.bindings.at(value.id, line, scope)
            if binding is not None and binding.object is not None:
                return binding.object, binding.prefix, binding.imported
            return None
        if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name):
            if value.value.id == "self" and self.self_class is not None:
                # `self.freeze(self.model)` in a method of a plain class
                held = self._self_binding(value.attr, scope, line)
                if held is None:
                    return None
                return held.object, held.prefix, held.imported
            binding = self.bindings.at(value.value.id, line, scope)
            if (
                binding is not None
                and binding.object is not None
                and binding.prefix
                and binding.prefix == value.attr + "."
            ):
                return binding.object, "", binding.imported
            return None
        if not isinstance(value, ast.Call):
            return None
        func = value.func
        if isinstance(func, ast.Attribute) and func.attr in SAME_MODULE_METHODS:
            return self._model_of(func.value, scope, line)
        wrapper = self._wrapper_prefix(value)
        if wrapper is not None:
            inner = self._model_of(value.args[0], scope, line) if value.args else None
            if inner is None:
                return None
            return inner[0], wrapper + inner[1], inner[2]
        name = dotted_name(func)
        if name is None:
            return None
        last = name.rsplit(".", 1)[-1]
        if name in self.classes or name in self.factories:
            return name, "", False
        qual = self.qualname(func) or name
        if qual.startswith("torch."):
            return None
        root = name.split(".")[0]
        if root in self.imports or last in self.extra:
            # `from pkg import ResNet as R`: the report names the class, not the alias.
            return qual.rsplit(".", 1)[-1], "", True
        return None

    def _walk_scope(
        self,
        body: Sequence[ast.stmt],
        scope: str,
        owner: Optional[str],
        func: Optional[ast.AST] = None,
        *,
        bind: bool = True,
        collect: bool = True,
    ) -> None:
        """Bindings (``bind``), loops and hover targets (``collect``) of one scope (not of
        nested functions)."""
        constants = dict(self.constants)
        # the calls of a top-level function: what they agree to pass its parameters
        calls = self.passed.get(scope, ()) if func is self.helpers.get(scope) else ()
        if calls:
            # `freeze(net, "backbone")`: the literal every call passes a parameter
            agreed = _agreed_values(calls, func)  # type: ignore[arg-type]
            constants.update((k, v) for k, v in agreed.items() if not _rebinds(body, k))
        if scope:
            constants.update(self._scope_constants(body))
        if bind:
            self._bind_parameters(func, scope, owner)
        for stmt in _statements(body):
            if not scope:
                self.checkpoint()  # module level: between functions is not often enough
            if bind:
                self._bind(stmt, scope)
                self._shadow_restructured(stmt, scope)
            if not collect:
                continue
            if isinstance(stmt, ast.For):
                self._freeze_loop_stmt(stmt, scope, owner, constants)
            elif isinstance(stmt, ast.Expr):
                self._freeze_call(stmt.value, scope, owner)
            for node in own_nodes(stmt):
                if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
                    self._freeze_comprehension(node, scope, owner, constants)
                elif type(node) is ast.Call and type(node.func) in (ast.Name, ast.Attribute):
                    self._note_helper_call(node, scope, stmt.lineno - 1)
                self._hover_targets(node, scope, owner)

    def _bind_parameters(self, func: Optional[ast.AST], scope: str, owner: Optional[str]) -> None:
        """Binds the parameters of ``func``: to the Module class of their annotation, or to
        the model every call of the helper passes them."""
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return
        calls = self.passed.get(scope, ()) if func is self.helpers.get(scope) else ()
        a = func.args
        arguments = [*a.posonlyargs, *a.args, *a.kwonlyargs]
        arguments += [extra for extra in (a.vararg, a.kwarg) if extra is not None]
        for arg in arguments:
            if arg.arg == "self" and owner is not None:
                continue
            # `def fit(model: Net)`: the annotation says which model it is
            annotated = dotted_name(arg.annotation) if arg.annotation is not None else None
            last = annotated.rsplit(".", 1)[-1] if annotated else None
            known = last if last in self.classes or last in self.extra else None
            imported = known is not None and known not in self.classes
            prefix = ""
            if known is None and calls:
                # `freeze(model)`: the model every call of the helper passes
                model = _agreed(calls, arg.arg)
                if model is not None:
                    known, prefix, imported = model
            self.bindings.add(
                ModelBinding(
                    arg.arg, known, prefix, self.span(arg), func.lineno - 1, scope, imported
                )
            )

    def _called_helper(self, func: ast.expr, cls: Optional[str]) -> Optional[tuple[str, bool]]:
        """(helper key, whether the call binds ``self``) of a call's callee: ``freeze``,
        ``Trainer.__init__`` for ``Trainer(...)``, ``Trainer.freeze`` for ``self.freeze(...)``
        in a method of ``Trainer`` (``cls``); None for any other callee."""
        if type(func) is ast.Name:
            if func.id in self.helpers:
                return func.id, False
            init = f"{func.id}.__init__"
            return (init, True) if init in self.helpers else None
        if (
            type(func) is ast.Attribute
            and type(func.value) is ast.Name
            and func.value.id == "self"
            and cls is not None
        ):
            method = f"{cls}.{func.attr}"
            return (method, True) if method in self.helpers else None
        return None

    def _note_helper_call(self, call: ast.Call, scope: str, line: int) -> None:
        """What a call of a helper (a top-level function, a plain class's method) passes each
        of its parameters."""
        called = self._called_helper(call.func, self.self_class)
        if called is None or any(isinstance(a, ast.Starred) for a in call.args):
            return
        if any(keyword.arg is None for keyword in call.keywords):
            return
        key, binds_self = called
        helper = self.helpers[key]
        positional = [*helper.args.posonlyargs, *helper.args.args][int(binds_self) :]
        arguments = [(p.arg, value) for p, value in zip(positional, call.args)]
        arguments += [(str(keyword.arg), keyword.value) for keyword in call.keywords]
        passed = {
            parameter: _Passed(self._model_of(value, scope, line), self._constant_value(value))
            for parameter, value in arguments
        }
        self.passed.setdefault(key, []).append(passed)

    def _constant_value(self, node: ast.expr) -> Any:
        """A literal's value, or a module constant's; ``_UNKNOWN`` for anything else."""
        if isinstance(node, ast.Name):
            return self.constants.get(node.id, _UNKNOWN)
        return _literal_or_unknown(node)

    def _bind(self, stmt: ast.stmt, scope: str) -> None:
        targets, value = _assigned(stmt)
        if isinstance(stmt, ast.AnnAssign) and value is None:
            targets = []
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            targets = [stmt.target]
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            targets = [item.optional_vars for item in stmt.items if item.optional_vars]
        line = stmt.lineno - 1
        for target in targets:
            if isinstance(target, ast.Name) and value is not None:
                key = variable_key(scope, target.id)
                if key in self.variables and isinstance(value, ast.Call):
                    model: Optional[_Model] = (key, "", False)
                else:
                    model = self._model_of(value, scope, line)
                if model is not None:
                    self.bindings.add(
                        ModelBinding(
                            name=target.id,
                            object=model[0],
                            prefix=model[1],
                            span=self.span(target),
                            line=line,
                            scope=scope,
                            imported=model[2],
                        )
                    )
                    continue
            for name in _bound_names(target):
                if self.bindings.at(name.id, line + 1, scope):
                    self.bindings.add(ModelBinding(name.id, None, "", self.span(name), line, scope))

    def _shadow_restructured(self, stmt: ast.stmt, scope: str) -> None:
        """Unbinds, after ``stmt``, every model that it may restructure (``model.head = ...``,
        ``model.layers.append(...)``, ``replace_head(model)``): from there on the model's names
        are not its constructor's, so no report stands for it."""
        line = stmt.lineno - 1
        for node in own_nodes(stmt):
            for module in self._restructured(node, None):
                name = chain_root(module)
                binding = None if name is None else self.bindings.at(name, line + 1, scope)
                if name is None or binding is None or binding.object is None:
                    continue
                if binding.scope != scope:
                    # A function restructuring a module-level model: the model stands
                    # until this line of the function.
                    self.bindings.add(dataclasses.replace(binding, scope=scope, line=-1))
                self.bindings.add(ModelBinding(name, None, "", self.span(node), line, scope))

    def _restructured(self, node: ast.AST, cls: Optional[str]) -> Iterator[ast.expr]:
        """The expressions whose Module ``node`` may restructure, itself or through a call
        (in a method of the plain class ``cls``, if given)."""
        module = restructured_module(node)
        if module is not None:
            yield module
        elif isinstance(node, ast.Call):
            yield from self._passed_to_restructurer(node, cls)

    def _passed_to_restructurer(self, call: ast.Call, cls: Optional[str]) -> Iterator[ast.expr]:
        """The arguments of ``call`` that it passes to a callable that may restructure them:
        a helper of the file that does, or any callable not known to leave a Module as it is
        (``get_peft_model(model, config)``, ``prune.l1_unstructured(model.fc, "weight", 0.3)``)."""
        called = self._called_helper(call.func, cls)
        if called is None:
            if (
                _leaves_structure(self.qualname(call.func))
                or self._wrapper_prefix(call) is not None
            ):
                return
            for value in (*call.args, *(keyword.value for keyword in call.keywords)):
                yield value.value if isinstance(value, ast.Starred) else value
            return
        key, binds_self = called
        helper = self.helpers[key]
        changed = self._restructured_parameters(key)
        positional = [p.arg for p in (*helper.args.posonlyargs, *helper.args.args)]
        positional = positional[int(binds_self) :]
        for index, value in enumerate(call.args):
            if isinstance(value, ast.Starred) or index >= len(positional):
                changed_here = bool(changed)  # where a starred argument lands is unknown
                value = value.value if isinstance(value, ast.Starred) else value
            else:
                changed_here = positional[index] in changed
            if changed_here:
                yield value
        for keyword in call.keywords:
            if keyword.arg is None or keyword.arg in changed:
                yield keyword.value

    def _restructured_parameters(self, key: str) -> frozenset[str]:
        """The parameters of a helper of the file whose Module it may restructure; for the
        constructor of a plain class, every one once any method restructures a model the
        instance holds (``self.model.head = ...``)."""
        known = self.restructuring.get(key)
        if known is not None:
            return known
        self.restructuring[key] = frozenset()  # a recursive call: judged by the rest
        helper = self.helpers[key]
        cls = key.rpartition(".")[0] or None
        a = helper.args
        parameters = {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
        if cls is not None:
            parameters.discard(a.args[0].arg if a.args else "self")
        if cls is not None and key.endswith(".__init__") and self._held_restructured(cls):
            changed = frozenset(parameters)
        else:
            changed = frozenset(
                name
                for node in ast.walk(helper)
                for module in self._restructured(node, cls)
                if (name := chain_root(module)) in parameters
            )
        self.restructuring[key] = changed
        return changed

    def _held_restructured(self, cls: str) -> Mapping[str, Mapping[str, int]]:
        """For each attribute of the plain class ``cls`` whose Module one of its methods may
        restructure (``self.model.head = ...``, ``get_peft_model(self.model, config)``): the
        methods that do, each with the first line where it does."""
        known = self.held_restructuring.get(cls)
        if known is not None:
            return known
        found: dict[str, dict[str, int]] = {}
        self.held_restructuring[cls] = found  # a recursive call sees what is found so far
        for key, method in self.helpers.items():
            if key.rpartition(".")[0] != cls:
                continue
            for stmt in _statements(method.body):
                for node in own_nodes(stmt):
                    for module in self._restructured(node, cls):
                        attr = _self_attribute(module)
                        if attr is not None:
                            lines = found.setdefault(attr, {})
                            lines[key] = min(lines.get(key, stmt.lineno - 1), stmt.lineno - 1)
        return found

    def _self_binding(self, attr: str, scope: str, line: int) -> Optional[ModelBinding]:
        """The model ``self.<attr>`` holds on ``line`` of ``scope``, a method of the plain
        class being walked: None from where a method restructures it, and in every other
        method of the class (which may run after it)."""
        if self.self_class is None:
            return None
        binding = self.self_bindings.get((self.self_class, attr))
        if binding is None or binding.object is None:
            return None
        changed = self._held_restructured(self.self_class).get(attr)
        if changed is not None and (scope not in changed or changed[scope] < line):
            return None
        return binding

    def _receiver(
        self,
        node: ast.expr,
        scope: str,
        owner: Optional[str],
        line: int,
        chain: Optional[tuple[ast.Name, list[tuple[str, ast.AST]]]] = None,
    ) -> Optional[tuple[str, str, Optional[str], str, bool]]:
        """(variable, path, object, prefix, imported) of a model receiver chain (``chain``:
        ``_chain(node)`` when already known)."""
        if chain is None:
            chain = _chain(node)
        if chain is None:
            return None
        root, segments = chain
        names = [name for name, _ in segments]
        if root.id == "self" and owner is not None:
            return "self", ".".join(names), owner, "", False
        if root.id == "self" and self.self_class is not None and names:
            binding = self._self_binding(names[0], scope, line)
            if binding is None:
                return None
            return self._under_binding(f"self.{names[0]}", names[1:], binding)
        binding = self.bindings.at(root.id, line, scope)
        if binding is None or binding.object is None:
            return None
        return self._under_binding(root.id, names, binding)

    @staticmethod
    def _under_binding(
        variable: str, names: list[str], binding: ModelBinding
    ) -> tuple[str, str, Optional[str], str, bool]:
        prefix = binding.prefix
        while prefix and names and prefix.startswith(names[0] + "."):
            prefix = prefix[len(names[0]) + 1 :]
            names = names[1:]
        if names:
            # Below the root, names are relative to the submodule: no wrapper prefix.
            prefix = ""
        return variable, ".".join(names), binding.object, prefix, binding.imported

    def _bind_self_attributes(self) -> None:
        """``self.<attr> = <model>`` in any method of a plain class binds ``self.<attr>`` in
        every method of it; two different models for one attribute bind nothing."""
        found: dict[tuple[str, str], Optional[ModelBinding]] = {}
        for body, qual, _, cls in self.deferred:
            for stmt in _statements(body):
                targets, value = _assigned(stmt)
                if value is None:
                    continue
                for target in targets:
                    if not (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                    ):
                        continue
                    key = (cls, target.attr)
                    model = self._model_of(value, qual, stmt.lineno)
                    binding = None
                    if model is not None:
                        binding = ModelBinding(
                            f"self.{target.attr}",
                            model[0],
                            model[1],
                            self.span(target),
                            stmt.lineno - 1,
                            cls,
                            model[2],
                        )
                    previous = found.get(key, binding)
                    same = (
                        previous is not None
                        and binding is not None
                        and (previous.object, previous.prefix) == (binding.object, binding.prefix)
                    )
                    found[key] = binding if (key not in found or same) else None
        self.self_bindings = {key: b for key, b in found.items() if b is not None}

    def _collection_call(self, node: ast.AST) -> Optional[tuple[ast.Call, ast.Attribute, str]]:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in COLLECTION_METHODS
        ):
            return node, node.func, node.func.attr
        return None

    def _hover_targets(self, node: ast.AST, scope: str, owner: Optional[str]) -> None:
        cls = type(node)
        if cls is not ast.Name and cls is not ast.Attribute and cls is not ast.Call:
            return  # nothing else makes a target (checked before any other work: most nodes)
        line = getattr(node, "lineno", 1) - 1
        call = self._collection_call(node)
        if call is not None:
            call_node, func, method = call
            receiver = self._receiver(func.value, scope, owner, line)
            if receiver is not None:
                variable, path, obj, prefix, imported = receiver
                self.targets.append(
                    HoverTarget(
                        kind="collection_call",
                        span=_attr_token_span(func, self.lines),
                        object=obj,
                        path=path,
                        method=method,
                        keep_vars=_bool_constant(_keyword(call_node, "keep_vars")) is True,
                        recurse=_bool_constant(_keyword(call_node, "recurse")) is not False,
                        prefix=prefix,
                        variable=variable,
                        imported=imported,
                    )
                )
            return
        if isinstance(node, ast.Name) and node.id in self.classes:
            self.targets.append(HoverTarget("class", self.span(node), node.id, variable=node.id))
            return
        if not isinstance(node, (ast.Attribute, ast.Name)):
            return
        chain = _chain(node)
        if chain is None or (isinstance(node, ast.Name) and node.id == "self"):
            return
        # Every sub-chain is visited too, so each node makes the target of its own token.
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            line += 1  # the variable an assignment binds: the binding made on this line
        receiver = self._receiver(node, scope, owner, line, chain)
        if receiver is None:
            return
        variable, path, obj, prefix, imported = receiver
        if isinstance(node, ast.Name):
            span = self.span(node)
        elif isinstance(node, ast.Attribute):
            span = _attr_token_span(node, self.lines)
            if node.attr in COLLECTION_METHODS or node.attr == "requires_grad":
                return
        else:
            return
        kind = "submodule" if variable == "self" else "attribute_chain"
        if kind == "submodule" and not path:
            return
        self.targets.append(
            HoverTarget(
                kind=kind,
                span=span,
                object=obj,
                path=path,
                prefix=prefix,
                variable=variable,
                imported=imported,
            )
        )

    def _class_targets(self) -> None:
        for cls in self.classes.values():
            self.targets.append(HoverTarget("class", cls.span, cls.name, variable=cls.name))
        for factory in self.factories.values():
            self.targets.append(
                HoverTarget("class", factory.span, factory.name, variable=factory.name)
            )

    def _filter_targets(self) -> None:
        seen: set[int] = set()
        for loop in self.loops:
            for node in [*loop.filter_strings(), *self._constant_strings(loop)]:
                if id(node) in seen:
                    continue
                seen.add(id(node))
                self.targets.append(
                    HoverTarget(
                        kind="filter_string",
                        span=self.span(node),
                        object=loop.object,
                        path=loop.receiver_path,
                        method=loop.method,
                        prefix=loop.prefix,
                        variable=loop.receiver,
                        text=str(node.value),
                        imported=loop.imported,
                        loop=loop,
                    )
                )

    def _constant_strings(self, loop: FreezeLoop) -> Iterator[ast.Constant]:
        """String literals of module constants a loop's filters use (``FROZEN = ("a", "b")``)."""
        exprs = [test for sink in loop.sinks for test, _ in sink.conditions]
        exprs += [sink.value_expr for sink in loop.sinks if sink.value_expr is not None]
        for expr in exprs:
            for name in ast.walk(expr):
                if (
                    isinstance(name, ast.Name)
                    and name.id != loop.name_var
                    and name.id in loop.constants
                    and name.id in self.constant_nodes
                ):
                    for node in ast.walk(self.constant_nodes[name.id]):
                        if isinstance(node, ast.Constant) and isinstance(node.value, str):
                            yield node

    def _loop_head(
        self, iterable: ast.expr, target: ast.expr, scope: str, owner: Optional[str], line: int
    ) -> Optional[_Head]:
        """What ``for target in iterable`` iterates when it is a model collection (also
        through ``enumerate(...)`` and ``list(...)[a:b]``); None for any other loop."""
        index_var: Optional[str] = None
        if (
            isinstance(iterable, ast.Call)
            and isinstance(iterable.func, ast.Name)
            and iterable.func.id == "enumerate"
            and len(iterable.args) == 1
            and not iterable.keywords
            and isinstance(target, ast.Tuple)
            and len(target.elts) == 2
            and isinstance(target.elts[0], ast.Name)
        ):
            index_var = target.elts[0].id
            iterable, target = iterable.args[0], target.elts[1]
        item_slice = None
        if (
            isinstance(iterable, ast.Subscript)
            and isinstance(iterable.value, ast.Call)
            and isinstance(iterable.value.func, ast.Name)
            and iterable.value.func.id in ("list", "tuple")
            and len(iterable.value.args) == 1
        ):
            item_slice = _literal_slice(iterable.slice)
            if item_slice is None:
                return None
            iterable = iterable.value.args[0]
        elif (
            isinstance(iterable, ast.Call)
            and isinstance(iterable.func, ast.Name)
            and iterable.func.id in ("list", "tuple")
            and len(iterable.args) == 1
        ):
            iterable = iterable.args[0]
        if not (
            isinstance(iterable, ast.Call)
            and isinstance(iterable.func, ast.Attribute)
            and iterable.func.attr in LOOP_METHODS
        ):
            return None
        receiver = self._receiver(iterable.func.value, scope, owner, line)
        if receiver is None:
            return None
        method = iterable.func.attr
        loop_vars = self._loop_vars(method, target)
        if loop_vars is None:
            return None
        return _Head(iterable, method, receiver, loop_vars[0], loop_vars[1], index_var, item_slice)

    def _loop_vars(self, method: str, target: ast.expr) -> Optional[tuple[Optional[str], str]]:
        named = method.startswith("named_")
        if named:
            if (
                isinstance(target, ast.Tuple)
                and len(target.elts) == 2
                and all(isinstance(e, ast.Name) for e in target.elts)
            ):
                first, second = target.elts
                assert isinstance(first, ast.Name) and isinstance(second, ast.Name)
                return first.id, second.id
            return None
        if isinstance(target, ast.Name):
            return None, target.id
        return None

    def _make_loop(
        self,
        node: ast.AST,
        header: Span,
        head: _Head,
        sinks: list[Sink],
        scope: str,
        constants: Mapping[str, Any],
        calls_eval: bool,
    ) -> None:
        variable, path, obj, prefix, imported = head.receiver
        iterable = head.call
        prefix_kw = _keyword(iterable, "prefix")
        self.loops.append(
            FreezeLoop(
                span=header,
                line=header.start_line,
                method=head.method,
                receiver=variable,
                receiver_path=path,
                object=obj,
                prefix=prefix,
                name_var=head.name_var,
                item_var=head.item_var,
                sinks=tuple(sinks),
                iter_span=self.span(iterable),
                recurse=_bool_constant(_keyword(iterable, "recurse")) is not False,
                remove_duplicate=_bool_constant(_keyword(iterable, "remove_duplicate"))
                is not False,
                name_prefix=prefix_kw.value
                if isinstance(prefix_kw, ast.Constant) and isinstance(prefix_kw.value, str)
                else "",
                scope=scope,
                imported=imported,
                calls_eval=calls_eval,
                constants=constants,
                node=node,
                class_bases=self.bases_of_classes,
                index_var=head.index_var,
                item_slice=head.item_slice,
            )
        )

    def _freeze_call(self, expr: ast.expr, scope: str, owner: Optional[str]) -> None:
        if not (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Attribute)
            and expr.func.attr == "requires_grad_"
        ):
            return
        receiver = self._receiver(expr.func.value, scope, owner, expr.lineno - 1)
        if receiver is None:
            return
        variable, path, obj, _, imported = receiver
        arg = expr.args[0] if expr.args else _keyword(expr, "requires_grad")
        value = True if arg is None else _bool_constant(arg)
        span = self.span(expr)
        self.freeze_calls.append(
            FreezeCall(span, span.start_line, variable, path, obj, value, scope, imported)
        )

    def _freeze_loop_stmt(
        self, stmt: ast.For, scope: str, owner: Optional[str], constants: Mapping[str, Any]
    ) -> None:
        head = self._loop_head(stmt.iter, stmt.target, scope, owner, stmt.lineno - 1)
        if head is None:
            return
        if head.name_var is not None and _rebinds(stmt.body, head.name_var):
            # `name = name.replace("module.", "")`: the filters see other names than these
            head = dataclasses.replace(head, name_var=None)
        item_var = head.item_var
        sinks = list(self._sinks(stmt.body, item_var, ()))
        if not sinks:
            return
        calls_eval = any(
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "eval"
            and isinstance(n.func.value, ast.Name)
            and n.func.value.id == item_var
            for s in stmt.body
            for n in ast.walk(s)
        )
        whole = self.span(stmt)
        iter_span = self.span(stmt.iter)
        header = Span(whole.start_line, whole.start_col, iter_span.end_line, iter_span.end_col)
        self._make_loop(stmt, header, head, sinks, scope, constants, calls_eval)

    def _freeze_comprehension(
        self,
        node: ast.ListComp | ast.GeneratorExp | ast.SetComp,
        scope: str,
        owner: Optional[str],
        constants: Mapping[str, Any],
    ) -> None:
        if len(node.generators) != 1:
            return
        gen = node.generators[0]
        head = self._loop_head(gen.iter, gen.target, scope, owner, node.lineno - 1)
        if head is None:
            return
        conditions = tuple((test, True) for test in gen.ifs)
        sink = self._sink_of(node.elt, head.item_var, conditions)
        if sink is None:
            return
        self._make_loop(node, self.span(node), head, [sink], scope, constants, False)

    def _sinks(
        self,
        body: Sequence[ast.stmt],
        item: str,
        conditions: tuple[tuple[ast.expr, bool], ...],
    ) -> Iterator[Sink]:
        """The requires_grad sinks of a loop body, with the conditions guarding each."""
        for stmt in body:
            if isinstance(stmt, (ast.With, ast.AsyncWith, ast.Try)):
                yield from self._sinks(stmt.body, item, conditions)
            elif isinstance(stmt, ast.If):
                yield from self._sinks(stmt.body, item, (*conditions, (stmt.test, True)))
                yield from self._sinks(stmt.orelse, item, (*conditions, (stmt.test, False)))
                if _jumps(stmt.body) and not stmt.orelse:
                    conditions = (*conditions, (stmt.test, False))
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    sink = self._assign_sink(target, stmt.value, item, conditions, stmt)
                    if sink is not None:
                        yield sink
            elif isinstance(stmt, ast.Expr):
                sink = self._sink_of(stmt.value, item, conditions)
                if sink is not None:
                    yield sink
            elif (
                isinstance(stmt, ast.For)
                and isinstance(stmt.target, ast.Name)
                and isinstance(stmt.iter, ast.Call)
                and isinstance(stmt.iter.func, ast.Attribute)
                and stmt.iter.func.attr == "parameters"
                and isinstance(stmt.iter.func.value, ast.Name)
                and stmt.iter.func.value.id == item
            ):
                for inner in self._sinks(stmt.body, stmt.target.id, conditions):
                    if inner.kind == "item":
                        yield Sink(
                            inner.span,
                            "item_parameters",
                            inner.value,
                            inner.value_expr,
                            inner.conditions,
                        )

    def _assign_sink(
        self,
        target: ast.expr,
        value: ast.expr,
        item: str,
        conditions: tuple[tuple[ast.expr, bool], ...],
        stmt: ast.stmt,
    ) -> Optional[Sink]:
        if not (isinstance(target, ast.Attribute) and target.attr == "requires_grad"):
            return None
        const = _bool_constant(value)
        chain = _chain(target.value)
        if chain is None or chain[0].id != item:
            return None
        rest = ".".join(name for name, _ in chain[1])
        return Sink(
            self.span(stmt),
            "item_attr" if rest else "item",
            const,
            None if const is not None else value,
            conditions,
            rest,
        )

    def _sink_of(
        self, expr: ast.expr, item: str, conditions: tuple[tuple[ast.expr, bool], ...]
    ) -> Optional[Sink]:
        if not (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Attribute)
            and expr.func.attr == "requires_grad_"
        ):
            return None
        chain = _chain(expr.func.value)
        if chain is None or chain[0].id != item:
            return None
        rest = ".".join(name for name, _ in chain[1])
        arg: Optional[ast.expr] = expr.args[0] if expr.args else _keyword(expr, "requires_grad")
        const = True if arg is None else _bool_constant(arg)
        return Sink(
            self.span(expr),
            "item_attr" if rest else "item",
            const,
            None if const is not None or arg is None else arg,
            conditions,
            rest,
        )


# Callables that leave the structure of a Module passed to them as it is (the builtins that read
# an object, and torch's that return a new object or change tensors only).
_STRUCTURE_KEEPING = frozenset(
    {
        *("print", "repr", "str", "format", "len", "id", "type", "isinstance", "hash"),
        *("hasattr", "getattr", "vars", "dir", "iter", "next", "enumerate", "zip"),
        *("list", "tuple", "dict", "sum", "sorted", "any", "all", "max", "min"),
        *("copy.copy", "copy.deepcopy", "torch.compile", "torch.save", "torch.jit.script"),
        *("torch.jit.trace", "torch.onnx.export", "torch.nn.utils.clip_grad_norm_"),
        *("torch.nn.utils.clip_grad_value_", "torch.nn.utils.parameters_to_vector"),
    }
)


def _leaves_structure(callee: Optional[str]) -> bool:
    """Whether a callable (its qualified name) is known to keep a Module's structure."""
    if callee is None:
        return False
    return callee in _STRUCTURE_KEEPING or callee.startswith(("torch.nn.init.", "logging."))


def _rebinds(body: Sequence[ast.stmt], name: str) -> bool:
    """Whether a statement of ``body`` (nested ones included) binds ``name`` again."""
    return any(
        isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load)
        for statement in body
        for node in ast.walk(statement)
    )


def _agreed(calls: Sequence[Mapping[str, _Passed]], parameter: str) -> Optional[_Model]:
    """The model that every call passes as ``parameter``, if they all pass the same one."""
    models = {call[parameter].model if parameter in call else None for call in calls}
    if len(models) != 1:
        return None
    return next(iter(models))


def _agreed_values(
    calls: Sequence[Mapping[str, _Passed]], function: ast.FunctionDef | ast.AsyncFunctionDef
) -> dict[str, Any]:
    """The parameters of ``function`` that every call passes the same literal value, by name
    (a parameter a call leaves out takes its literal default)."""
    if not calls:
        return {}
    a = function.args
    positional = [*a.posonlyargs, *a.args]
    defaults: dict[str, ast.expr] = dict(
        zip([p.arg for p in positional][len(positional) - len(a.defaults) :], a.defaults)
    )
    defaults.update((p.arg, d) for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None)
    agreed: dict[str, Any] = {}
    for parameter in [p.arg for p in (*positional, *a.kwonlyargs)]:
        values = []
        for call in calls:
            if parameter in call:
                values.append(call[parameter].value)
            elif parameter in defaults:
                values.append(_literal_or_unknown(defaults[parameter]))
            else:
                values.append(_UNKNOWN)
        first = values[0]
        if first is not _UNKNOWN and all(
            v is not _UNKNOWN and type(v) is type(first) and v == first for v in values
        ):
            agreed[parameter] = first
    return agreed


def _callers_first(
    body: Sequence[ast.stmt],
    helpers: Mapping[str, ast.FunctionDef | ast.AsyncFunctionDef],
    callees: Mapping[str, set[str]],
) -> list[ast.stmt]:
    """The module's statements with its top-level functions reordered so that each comes after
    the functions that call it (``main`` before the ``freeze`` it calls), in source order
    otherwise and wherever calls go round in a cycle: a helper's walk then knows every call."""
    functions = {name: f for name, f in helpers.items() if "." not in name}  # no methods
    callers: dict[str, set[str]] = {name: set() for name in functions}
    for name in functions:
        for callee in callees[name] & callers.keys() - {name}:
            callers[callee].add(name)
    ordered: list[ast.stmt] = [s for s in body if not _is_helper(s, functions)]
    pending = [s for s in body if _is_helper(s, functions)]
    return ordered + _ready_in_turn(pending, lambda s: s.name, callers)  # type: ignore[attr-defined]


def _called_from_methods(callees: Mapping[str, set[str]]) -> set[str]:
    """Of the helpers (``freeze``, ``Trainer.setup``) and the names each calls, the top-level
    functions that the methods of plain classes call, and those that these call in turn; not
    those that build a plain class themselves (``Trainer(model)``), whose call must reach its
    ``__init__`` before the methods are walked."""
    functions = {name for name in callees if "." not in name}
    classes = {key.partition(".")[0] for key in callees if "." in key}
    reached: set[str] = set()
    pending = [c for key in callees if "." in key for c in callees[key] if c in functions]
    while pending:
        name = pending.pop()
        if name not in reached:
            reached.add(name)
            pending.extend(c for c in callees[name] if c in functions)
    return {name for name in reached if not callees[name] & classes}


def _called_names(function: ast.AST) -> set[str]:
    """The names that ``function`` calls: ``freeze`` of ``freeze(model)``."""
    return {
        node.func.id
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }


_T = TypeVar("_T")


def _ready_in_turn(
    pending: list[_T], name_of: Callable[[_T], str], callers: Mapping[str, set[str]]
) -> list[_T]:
    """``pending`` reordered so that each comes after its ``callers`` (by name), in the given
    order otherwise and wherever calls go round in a cycle."""
    ordered: list[_T] = []
    done: set[str] = set()
    while pending:
        ready = next(
            (item for item in pending if callers[name_of(item)] <= done),
            pending[0],  # a cycle: source order
        )
        pending.remove(ready)
        done.add(name_of(ready))
        ordered.append(ready)
    return ordered


def _methods_callers_first(
    methods: Sequence[tuple[Sequence[ast.stmt], str, ast.AST, str]],
) -> list[tuple[Sequence[ast.stmt], str, ast.AST, str]]:
    """The methods of plain classes (body, qualified name, def, class) with each after the
    methods of its class that call it as ``self.<name>(...)``, in source order otherwise."""
    callers: dict[str, set[str]] = {qual: set() for _, qual, _, _ in methods}
    for _, qual, func, cls in methods:
        for node in ast.walk(func):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "self"
            ):
                callee = f"{cls}.{node.func.attr}"
                if callee in callers and callee != qual:
                    callers[callee].add(qual)
    return _ready_in_turn(list(methods), lambda method: method[1], callers)


def _self_attribute(node: ast.expr) -> Optional[str]:
    """``model`` of ``self.model``, ``self.model.head`` or ``self.model.blocks[0]``; None for
    any other expression (``self`` itself included)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return node.attr if node.value.id == "self" else None
        node = node.value
    return None


def _is_helper(stmt: ast.stmt, helpers: Mapping[str, ast.AST]) -> bool:
    return (
        isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and helpers.get(stmt.name) is stmt
    )


def _assigned(stmt: ast.stmt) -> tuple[list[ast.expr], Optional[ast.expr]]:
    """(targets, value) of an assignment statement (``x = v``, ``x: T = v``); no targets for
    any other statement."""
    if isinstance(stmt, ast.Assign):
        return list(stmt.targets), stmt.value
    if isinstance(stmt, ast.AnnAssign):
        return [stmt.target], stmt.value
    return [], None


def _bound_names(target: ast.expr) -> Iterator[ast.Name]:
    """The names an assignment target rebinds: ``model`` in ``model = ...`` or
    ``model, opt = ...``, never in ``model.requires_grad = ...`` or ``model[0] = ...`` (those
    store into the object the name is bound to)."""
    if isinstance(target, ast.Name):
        yield target
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _bound_names(element)
    elif isinstance(target, ast.Starred):
        yield from _bound_names(target.value)


def _jumps(body: Sequence[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], (ast.Continue, ast.Return, ast.Raise))


def _statements(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a scope in order, entering compound statements but not defs/classes."""
    stack = list(reversed(body))
    while stack:
        stmt = stack.pop()
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        inner: list[ast.stmt] = []
        for name in ("body", "orelse", "finalbody"):
            inner.extend(getattr(stmt, name, []) or [])
        for handler in getattr(stmt, "handlers", []) or []:
            inner.extend(handler.body)
        for case in getattr(stmt, "cases", []) or []:
            inner.extend(case.body)
        stack.extend(reversed(inner))
