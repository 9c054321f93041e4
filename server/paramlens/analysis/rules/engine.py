"""The walk that every rule family rides on: one pass over the statements of each scope, in
source order, tracking what each local name is bound to (a state_dict, a parameter loop
variable, a Module, an optimizer...). Families receive events (a ``requires_grad`` sink, a call,
an attribute store...) with the bindings in force at that point.

How far it goes: bindings flow forward within a function (branches are read in source order,
the last binding wins), into nested functions and lambdas as the closure sees them at their
definition, into comprehensions, and into top-level helper functions of the same file through
their call sites (a parameter takes the binding that every call site agrees on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import Finding, Fix, Severity, Span, byte_to_char_col
from paramlens.analysis.rules.facts import (
    NODE_CLASSES,
    PARAMETER_CONTAINERS,
    FileFacts,
    child_nodes,
    note_call,
    statements_breadth_first,
    walk,
)
from paramlens.analysis.rules.records import Binding, HelperSummary, Sink
from paramlens.analysis.rules.registry import RULES
from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, ClassVar, Optional, Union

    from paramlens.analysis.rules.memo import Definition, WalkMemo


class Kind:
    """What a name or expression is known to hold: one object per kind, compared with ``is``.
    (Not an ``enum.Enum``: importing ``enum`` costs some 2.5 ms of each start of the CLI.)"""

    __slots__ = ("name",)
    STATE_DICT: ClassVar[Kind]  # model.state_dict(): detached values
    STATE_DICT_KEEP: ClassVar[Kind]  # state_dict(keep_vars=True): the real tensors
    SD_VALUE: ClassVar[Kind]
    SD_KEEP_VALUE: ClassVar[Kind]
    PARAM: ClassVar[Kind]  # a Parameter (loop variable, X.weight, next(X.parameters()))
    BUFFER: ClassVar[Kind]
    MODULE: ClassVar[Kind]
    PARAM_CONTAINER: ClassVar[Kind]  # nn.ParameterList / ParameterDict
    DETACHED: ClassVar[Kind]  # .data / .detach() / .clone()
    CONVERTED: ClassVar[Kind]  # .float() / .to(...): self or a copy, depending on dtype
    NONLEAF: ClassVar[Kind]  # slice, view, arithmetic on a parameter
    GENERATOR: ClassVar[Kind]  # X.parameters() and friends
    LAZY: ClassVar[Kind]  # a generator expression, map(), filter()
    CONTAINER: ClassVar[Kind]  # list / tuple of things
    PAIR: ClassVar[Kind]  # the (name, tensor) tuple of named_*()
    NAME: ClassVar[Kind]  # the name string of named_*()
    OPTIMIZER: ClassVar[Kind]
    WRAPPER: ClassVar[Kind]  # DataParallel / DDP / torch.compile
    NOGRAD_OUT: ClassVar[Kind]  # computed under no_grad / inference_mode

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Kind.{self.name}"

    def __reduce__(self) -> tuple[Any, ...]:  # copied and pickled as itself
        return getattr, (Kind, self.name)


# The members, as declared above (a compiled class keeps no __annotations__ to read them from).
for _kind in (
    "STATE_DICT", "STATE_DICT_KEEP", "SD_VALUE", "SD_KEEP_VALUE", "PARAM", "BUFFER", "MODULE",
    "PARAM_CONTAINER", "DETACHED", "CONVERTED", "NONLEAF", "GENERATOR", "LAZY", "CONTAINER",
    "PAIR", "NAME", "OPTIMIZER", "WRAPPER", "NOGRAD_OUT",
):  # fmt: skip
    setattr(Kind, _kind, Kind(_kind))


TENSORISH = frozenset({Kind.PARAM, Kind.NONLEAF, Kind.SD_KEEP_VALUE})
GENERATOR_METHODS = {
    "parameters": Kind.PARAM,
    "named_parameters": Kind.PARAM,
    "buffers": Kind.BUFFER,
    "named_buffers": Kind.BUFFER,
    "modules": Kind.MODULE,
    "children": Kind.MODULE,
    "named_modules": Kind.MODULE,
    "named_children": Kind.MODULE,
}
BUFFER_STATS = frozenset({"running_mean", "running_var", "num_batches_tracked"})
CONVERSIONS = frozenset({"float", "double", "half", "bfloat16", "to", "cpu", "cuda", "type"})
VIEWS = frozenset(
    {
        "view", "reshape", "transpose", "permute", "t", "flatten", "squeeze", "unsqueeze",
        "expand", "narrow", "select", "view_as", "reshape_as", "unflatten", "diagonal",
        "swapaxes", "movedim", "expand_as", "contiguous",
    }
)  # fmt: skip
COMPUTED = frozenset(
    {"abs", "exp", "log", "sum", "mean", "sigmoid", "tanh", "softmax", "mul", "add"}
)
NON_LEAF_METHODS = VIEWS | COMPUTED
MODULE_SELF_METHODS = frozenset(
    {"to", "cuda", "cpu", "double", "float", "half", "bfloat16", "train", "eval",
     "requires_grad_", "to_empty", "apply", "type", "share_memory"}
)  # fmt: skip
NO_GRAD_CONTEXTS = frozenset(
    {"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad",
     "torch.autograd.grad_mode.no_grad", "torch.autograd.grad_mode.inference_mode"}
)  # fmt: skip
WRAPPERS = {
    "DataParallel": "module.",
    "DistributedDataParallel": "module.",
    "FullyShardedDataParallel": "_fsdp_wrapped_module.",
}
MAX_DEPTH = 60
# Attributes that are submodules in the models of torchvision, transformers and timm (never
# parameters there): `model.bert.requires_grad = False` is then an attribute on a Module.
LIBRARY_SUBMODULES = frozenset(
    {"bert", "roberta", "distilbert", "albert", "electra", "deberta", "xlnet", "transformer",
     "encoder", "decoder", "embeddings", "pooler", "classifier", "lm_head", "vit", "backbone",
     "features", "avgpool", "conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc",
     "stem", "blocks", "layers", "vision_model", "text_model"}
)  # fmt: skip
_ALIASABLE = frozenset({Kind.PARAM, Kind.SD_KEEP_VALUE, Kind.DETACHED, Kind.CONVERTED})
# Methods whose result is what their receiver holds, or derives from it.
_BASE_METHODS = MODULE_SELF_METHODS | CONVERSIONS | NON_LEAF_METHODS | {"requires_grad_"}


def base_detail(base: Binding, method: str) -> str:
    """How a detached alias was made: ``.detach()``, or the first step of a chain."""
    return base.detail if base.kind is Kind.DETACHED else f".{method}()"


if TYPE_CHECKING:
    Elem = Union[Binding, None, tuple[Any, ...]]  # what one iteration yields: a binding or a tuple


class Scope:
    """One function, lambda-free class body or the module, walked in order."""

    __slots__ = (
        "class_name", "env", "loop_depth", "no_grad_depth", "node", "parent", "state", "watchers"
    )  # fmt: skip

    def __init__(
        self,
        node: ast.AST,
        env: dict[str, Binding],
        parent: Optional[Scope] = None,
        class_name: Optional[str] = None,  # the enclosing class of a method
    ) -> None:
        self.node = node
        self.env = env
        self.parent = parent
        self.class_name = class_name
        self.state: dict[str, Any] = {}  # per family, see :meth:`own`
        self.loop_depth = 0
        self.no_grad_depth = 0
        self.watchers: list[Any] = []  # see :meth:`Walker.watch_calls`

    @property
    def name(self) -> str:
        """The function's name ('' for the module and class bodies)."""
        return getattr(self.node, "name", "") if isinstance(self.node, _FUNCS) else ""

    def own(self, key: str, factory: Any) -> Any:
        """Per-scope state of a family."""
        if key not in self.state:
            self.state[key] = factory()
        return self.state[key]


_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


_EVENTS = (
    "sink", "read", "call", "attr_store", "subscript_store", "name_store", "expr_stmt",
    "for_loop", "comprehension", "exit_scope", "finish",
)  # fmt: skip


class Family:
    """A rule family: override the events it needs. Families are created per checked file."""

    # The ``call`` event for calls of a method (``x.attr(...)``) comes only for these attribute
    # names (None: for every call); for calls of a plain name (``f(...)``) only for the names
    # :meth:`takes_call_of` accepts (by default: all when ``call_names``); for other calls
    # (``f()(...)``, ``x[0](...)``) only when ``call_methods`` is None. A family can also ask
    # for every call of a scope from some point on (:meth:`Walker.watch_calls`).
    call_methods: ClassVar[Optional[frozenset[str]]] = None
    call_names: ClassVar[bool] = True
    # The ``expr_stmt`` event comes only for statements whose expression is of these classes
    # (None: for every expression statement), and for a call statement only when it calls a
    # function or method of one of these names (None: whatever it calls).
    expr_stmt_values: ClassVar[Optional[frozenset[type]]] = None
    expr_stmt_calls: ClassVar[Optional[frozenset[str]]] = None
    # Attributes that record what the bindings of the statement being walked lead to (keyed by
    # their nodes or the bindings themselves): the statements after it never reach those
    # entries (its bindings do not outlive it), so they are no state left for them. Every other
    # list, dict or set attribute is (see ``Walker._shared_state``).
    own_records: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def classify(self, e: ast.AST, env: dict[str, Binding], scope: Scope) -> Optional[Binding]:
        """What ``e`` holds (see :meth:`Walker.classify`)."""
        walker = self.ctx.walker
        known = walker.receiver
        if known is not None and known[0] is e and known[1] is env:
            return known[2]
        return walker._classify(e, env, scope, 0)

    def takes_call_of(self, name: str) -> bool:
        """Does the ``call`` event matter for calls of the plain name ``name``? Asked once per
        name and file: the answer may depend on the file's facts, not on the call."""
        return self.call_names or self.call_methods is None

    def sink(self, sink: Sink, env: dict[str, Binding], scope: Scope) -> None:
        """``requires_grad`` set on ``sink.receiver``."""

    def read(self, node: ast.Attribute, env: dict[str, Binding], scope: Scope) -> None:
        """``X.requires_grad`` read."""

    def call(self, node: ast.Call, env: dict[str, Binding], scope: Scope) -> None:
        """Any call."""

    def attr_store(self, target: ast.Attribute, value: ast.expr, stmt: ast.stmt,
                   scope: Scope) -> None:  # fmt: skip
        """``X.attr = value`` (before the target's names are rebound)."""

    def subscript_store(self, target: ast.Subscript, value: ast.expr, stmt: ast.stmt,
                        scope: Scope) -> None:  # fmt: skip
        """``X[i] = value``."""

    def name_store(self, name: ast.Name, value: Optional[ast.expr], new: Optional[Binding],
                   scope: Scope) -> None:  # fmt: skip
        """``name = value``; ``scope.env`` still holds the old binding."""

    def expr_stmt(self, stmt: ast.Expr, scope: Scope) -> None:
        """An expression statement."""

    def for_loop(self, stmt: Union[ast.For, ast.AsyncFor], scope: Scope) -> None:
        """A for loop, after its targets are bound and before its body."""

    def comprehension(self, gen: ast.comprehension, env: dict[str, Binding],
                      scope: Scope) -> None:  # fmt: skip
        """A comprehension's ``for`` clause, after its target is bound."""

    def exit_scope(self, scope: Scope) -> None:
        """The end of a scope's statements."""

    def finish(self) -> None:
        """The end of the file."""


class Context:
    """The state of one check: source, facts, bindings, findings."""

    __deletable__ = ("walker",)  # for mypyc: see check_source

    def __init__(self, source: str, lines: Sequence[str], facts: FileFacts) -> None:
        self.source = source
        self.lines = lines
        self.facts = facts
        self.findings: list[Finding] = []
        self._seen: set[tuple[str, Span, str]] = set()
        self.families: list[Family] = []
        self.call_sites: dict[str, list[list[Optional[Binding]]]] = {}
        self._summaries: dict[str, HelperSummary] = {}
        self.replaying = False
        self.optimizers_seen = False  # order rules skip their scans until an optimizer appears
        # Every model an optimizer binding was built over: a name outside it is in no
        # optimizer's roots, so the order rules skip their scans of the scope's bindings.
        self.optimizer_roots: set[str] = set()
        # Per model, every name an optimizer binding over it was given in any scope: the names
        # of a scope's optimizers are among them (a scope's bindings can be many; its
        # optimizers, few).
        self.optimizer_names: dict[str, set[str]] = {}
        self.optimizer_calls = 0  # optimizers built so far (what a walk left for the rest)
        self.repeats = 0  # findings not recorded again (a walk's own may be among them)
        # Spans and texts by node (the node is kept in the value, so its id stays unique).
        self._spans: dict[int, tuple[ast.AST, Span]] = {}
        self._texts: dict[int, tuple[ast.AST, str]] = {}
        self.walker: Walker

    def span(self, node: ast.AST) -> Span:
        """The code-point span of ``node``."""
        key = id(node)
        known = self._spans.get(key)
        if known is not None and known[0] is node:
            return known[1]
        span = fast_span(node, self.lines)
        self._spans[key] = (node, span)
        return span

    def text(self, node: ast.AST) -> str:
        """The source text of ``node``."""
        key = id(node)
        known = self._texts.get(key)
        if known is not None and known[0] is node:
            return known[1]
        span = self.span(node)
        if span.start_line == span.end_line:
            text = self.lines[span.start_line][span.start_col : span.end_col]
        else:
            parts = [self.lines[span.start_line][span.start_col :]]
            parts.extend(self.lines[span.start_line + 1 : span.end_line])
            parts.append(self.lines[span.end_line][: span.end_col])
            text = "\n".join(parts)
        self._texts[key] = (node, text)
        return text

    def line_of(self, node: Optional[ast.AST]) -> int:
        """The 1-based line of ``node`` (for messages)."""
        return getattr(node, "lineno", 1)

    def report(
        self,
        code: str,
        where: Union[ast.AST, Span],
        message: str,
        *,
        severity: Optional[Severity] = None,
        fix: Optional[Fix] = None,
        related: tuple[tuple[Span, str], ...] = (),
    ) -> None:
        """Record a finding (once per code, span and message)."""
        span = where if isinstance(where, Span) else self.span(where)
        key = (code, span, message)
        if key in self._seen:
            self.repeats += 1
            return
        self._seen.add(key)
        self.findings.append(
            Finding(code, message, severity or RULES[code].severity, span, fix, related)
        )

    def add(self, finding: Finding) -> None:
        """Record a finding made earlier (once per code, span and message)."""
        key = (finding.code, finding.span, finding.message)
        if key not in self._seen:
            self._seen.add(key)
            self.findings.append(finding)

    def optimizer_bound(self, name: str, optimizer: Binding) -> None:
        """``name`` is bound to ``optimizer`` in some scope."""
        for root in optimizer.roots:
            self.optimizer_names.setdefault(root, set()).add(name)

    def optimizers_in(self, env: dict[str, Binding], root: str) -> list[tuple[str, Binding]]:
        """The bindings of ``env`` to optimizers over the model ``root``, in its order."""
        found = []
        for name in self.optimizer_names.get(root, ()):
            b = env.get(name)
            if b is not None and b.kind is Kind.OPTIMIZER and root in b.roots:
                found.append((name, b))
        if len(found) > 1:
            order = list(env)
            found.sort(key=lambda item: order.index(item[0]))
        return found

    def summary(self, name: str) -> Optional[HelperSummary]:
        """What the top-level function ``name`` does to its parameters (memoized)."""
        if name in self._summaries:
            return self._summaries[name]
        func = self.facts.functions.get(name)
        if func is None:
            return None
        summary = _summarize(func)
        self._summaries[name] = summary
        return summary


def fast_span(node: ast.AST, lines: Sequence[str]) -> Span:
    """:func:`~paramlens.analysis.findings.span_of`, without re-encoding ASCII lines (where a
    UTF-8 byte column is the code-point column)."""
    start_line = getattr(node, "lineno", 1) - 1
    end_line = (getattr(node, "end_lineno", None) or start_line + 1) - 1
    start_byte = getattr(node, "col_offset", 0)
    end_byte = getattr(node, "end_col_offset", None)
    count = len(lines)
    start_text = lines[start_line] if 0 <= start_line < count else ""
    end_text = lines[end_line] if 0 <= end_line < count else ""
    if start_text.isascii():  # known without a scan: ASCII columns are byte columns
        start_col = min(start_byte, len(start_text))
    else:
        start_col = byte_to_char_col(start_text, start_byte)
    if end_byte is None:
        end_col = len(end_text)
    elif end_text.isascii():
        end_col = min(end_byte, len(end_text))
    else:
        end_col = byte_to_char_col(end_text, end_byte)
    return Span(start_line, start_col, end_line, end_col)


def root_of(node: ast.AST) -> Optional[str]:
    """The variable an access path starts from: ``model`` in ``model.fc1.weight[0]``;
    ``self.backbone`` for paths through ``self``."""
    last_attr: Optional[str] = None
    for _ in range(MAX_DEPTH):
        if isinstance(node, ast.Attribute):
            last_attr = node.attr
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Name):
            if node.id == "self" and last_attr is not None:
                return f"self.{last_attr}"
            return node.id
        else:
            return None
    return None


def constant_bool(node: Optional[ast.AST]) -> Optional[bool]:
    """``True``/``False`` literals; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


def keyword(call: ast.Call, name: str, position: Optional[int] = None) -> Optional[ast.expr]:
    """The argument ``name`` of ``call``, by keyword or at ``position``."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if position is not None and len(call.args) > position:
        arg = call.args[position]
        return None if isinstance(arg, ast.Starred) else arg
    return None


def has_star(call: ast.Call) -> bool:
    """``*args`` or ``**kwargs`` in the call: the arguments cannot be read."""
    return any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    )


def mentions_requires_grad(node: ast.AST) -> bool:
    """Does the expression mention ``requires_grad`` (a filter on trainable parameters)?"""
    for sub in walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr == "requires_grad":
            return True
        if isinstance(sub, ast.Name) and "requires_grad" in sub.id:
            return True
    return False


def parameter_roots(node: ast.AST) -> frozenset[str]:
    """The models whose ``parameters()``/``named_parameters()`` an expression takes."""
    roots = set()
    for sub in walk(node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in ("parameters", "named_parameters")
        ):
            root = root_of(sub.func.value)
            if root:
                roots.add(root)
    return frozenset(roots)


def _summarize(func: ast.FunctionDef) -> HelperSummary:
    """Which parameters of a helper get frozen or unfrozen inside it (syntactic)."""
    params = tuple(a.arg for a in [*func.args.posonlyargs, *func.args.args])
    index = {p: i for i, p in enumerate(params)}
    loop_roots: dict[str, str] = {}
    freezes: set[int] = set()
    unfreezes: set[int] = set()
    for loop in statements_breadth_first(func):  # loops are statements: in walk order
        if isinstance(loop, ast.For):
            it = loop.iter
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute):
                root = root_of(it.func.value)
                if root in index and it.func.attr in GENERATOR_METHODS:
                    for name in walk(loop.target):
                        if isinstance(name, ast.Name):
                            loop_roots[name.id] = root
    steps: set[int] = set()
    evals: set[int] = set()
    trains: set[int] = set()
    hands_on: set[int] = set()
    for node in walk(func):
        kind = type(node)
        if kind is not ast.Call and kind is not ast.Assign and kind is not ast.AnnAssign:
            continue  # neither a sink nor a step
        if isinstance(node, ast.Call):
            for arg in node.args:
                if isinstance(arg, ast.Name) and arg.id in index:
                    hands_on.add(index[arg.id])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, node.func.value
            if method == "eval":
                owner = submodule_owner(node, loop_roots.get)
                if owner in index:
                    evals.add(index[owner])
            elif isinstance(receiver, ast.Name) and receiver.id in index:
                if method == "step":
                    steps.add(index[receiver.id])
                elif is_train_call(node):
                    trains.add(index[receiver.id])
                elif method == "apply":
                    hands_on.add(index[receiver.id])
        sink = as_sink(node)
        if sink is None:
            continue
        root = root_of(sink.receiver)
        root = loop_roots.get(root or "", root)
        if root in index:
            (freezes if sink.flag is False else unfreezes).add(index[root])
    return HelperSummary(
        params,
        frozenset(freezes),
        frozenset(unfreezes),
        frozenset(steps),
        frozenset(evals),
        frozenset(trains),
        frozenset(hands_on),
    )


def is_train_call(call: ast.Call) -> bool:
    """``X.train()`` / ``X.train(True)``: back to train mode, every submodule included."""
    return (
        isinstance(call.func, ast.Attribute)
        and call.func.attr == "train"
        and not call.keywords
        and (not call.args or constant_bool(call.args[0]) is True)
    )


def submodule_owner(call: ast.Call, module_of: Callable[[str], Optional[str]]) -> Optional[str]:
    """The model whose submodule ``call`` puts in eval mode: ``model`` for ``model.bn.eval()``
    and for ``m.eval()`` when ``module_of("m")`` is ``model`` (a loop over ``model.modules()``);
    None for any other call, ``model.eval()`` itself included."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr != "eval" or call.args:
        return None
    receiver = func.value
    if isinstance(receiver, ast.Name):
        return module_of(receiver.id)
    if isinstance(receiver, ast.Attribute) and getattr(receiver.value, "id", None) == "self":
        return None  # self.bn: the receiver is the root itself (see root_of)
    return root_of(receiver)


def as_sink(node: ast.AST) -> Optional[Sink]:
    """The ``requires_grad`` sink a node is, if any (assign form: single-target statements)."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "requires_grad_":
            value = keyword(node, "requires_grad", 0)
            flag = True if value is None and not node.args else constant_bool(value)
            return Sink(node, func.value, value, "call", flag)
        return None
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        value = node.value
        if value is None:
            return None
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == "requires_grad":
                return Sink(node, target.value, value, "assign", constant_bool(value), target)
    return None


class Walker:
    """Walks one file's scopes in order and dispatches events to the families."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.facts = ctx.facts
        self.families = ctx.families
        ctx.walker = self
        # Per event, only the families that handle it: most events concern few families.
        self.hooks: dict[str, list[Any]] = {event: [] for event in _EVENTS}
        for family in ctx.families:
            for event in _handled_events(type(family)):
                self.hooks[event].append(getattr(family, event))
        calls = [(h, type(h.__self__)) for h in self.hooks["call"]]
        self.other_call_hooks = [h for h, f in calls if f.call_methods is None]
        # Which call hooks take the calls of a method depends on the families' classes only:
        # shared by the walks of every file.
        self._by_method = _METHOD_HOOKS.setdefault(tuple(f for _, f in calls), {})
        self.method_call_hooks: dict[str, list[Any]] = {}
        self.name_call_hooks: dict[str, list[Any]] = {}
        self.expr_stmt_hooks: dict[tuple[type, Optional[str]], list[Any]] = {}
        # Calls whose own name makes them nothing this walk tracks (most calls), whatever the
        # bindings: the end of their classification is known.
        self.plain_calls: set[int] = set()
        # While the families hear of a sink: its receiver, the bindings, and what it holds.
        self.receiver: Optional[tuple[ast.AST, dict[str, Binding], Optional[Binding]]] = None
        self._calls = calls

    def sink(self, sink: Sink, env: dict[str, Binding], scope: Scope) -> None:
        """Tell the families that ``requires_grad`` is set. Each asks what the receiver is:
        classified once for all of them."""
        hooks = self.hooks["sink"]
        if hooks:
            self.receiver = (sink.receiver, env, self._classify(sink.receiver, env, scope, 0))
            for hook in hooks:
                hook(sink, env, scope)
            self.receiver = None

    def watch_calls(self, hook: Any, scope: Scope) -> None:
        """From now on, call ``hook`` like a ``call`` event for every call of ``scope`` (its
        lambdas and comprehensions included, not the functions and classes in it): for a
        family that needs every call only once something happened in the scope."""
        if hook not in scope.watchers:
            scope.watchers.append(hook)

    def method_hooks(self, method: str) -> list[Any]:
        """The ``call`` hooks for calls of the method ``method`` (in family order)."""
        indexes = self._by_method.get(method)
        if indexes is None:
            indexes = self._by_method[method] = tuple(
                i
                for i, (_, f) in enumerate(self._calls)
                if f.call_methods is None or method in f.call_methods
            )
        hooks = [self._calls[i][0] for i in indexes]
        self.method_call_hooks[method] = hooks
        return hooks

    def name_hooks(self, name: str) -> list[Any]:
        """The ``call`` hooks for calls of the plain name ``name`` (in family order)."""
        hooks = [h for h, _ in self._calls if h.__self__.takes_call_of(name)]
        self.name_call_hooks[name] = hooks
        return hooks

    # -- classification -------------------------------------------------------------------

    def classify(self, e: ast.AST, env: dict[str, Binding], scope: Scope) -> Optional[Binding]:
        """What the expression ``e`` holds, as far as the file shows."""
        return self._classify(e, env, scope, 0)

    def _classify(
        self, e: ast.AST, env: dict[str, Binding], scope: Scope, depth: int
    ) -> Optional[Binding]:
        if depth > MAX_DEPTH:
            return None
        d = depth + 1
        if type(e) is ast.Name:  # (no ast class has subclasses)
            return env.get(e.id)
        if type(e) is ast.Attribute:
            return self._classify_attribute(e, env, scope, d)
        if type(e) is ast.Call:
            return self._classify_call(e, env, scope, d)
        if isinstance(e, ast.Subscript):
            base = self._classify(e.value, env, scope, d)
            if base is None:
                return None
            if base.kind is Kind.STATE_DICT:
                return base._replace(kind=Kind.SD_VALUE, node=e, origin=base.node)
            if base.kind is Kind.STATE_DICT_KEEP:
                return base._replace(kind=Kind.SD_KEEP_VALUE, node=e, origin=base.node)
            if base.kind in (Kind.PARAM, Kind.NONLEAF) and scope.no_grad_depth == 0:
                return Binding(Kind.NONLEAF, base.root, e, detail="a slice")
            if base.kind is Kind.MODULE:
                return Binding(Kind.MODULE, base.root or root_of(e), e)
            if base.kind is Kind.PARAM_CONTAINER:
                return Binding(Kind.PARAM, base.root or root_of(e), e)
            return None
        if isinstance(e, ast.BinOp):
            if scope.no_grad_depth:
                return None
            for side in (e.left, e.right):
                b = self._classify(side, env, scope, d)
                if b is not None and b.kind in (Kind.PARAM, Kind.NONLEAF):
                    return Binding(Kind.NONLEAF, b.root, e, detail="a computed tensor")
            return None
        if isinstance(e, (ast.List, ast.Tuple, ast.Set, ast.ListComp, ast.SetComp)):
            return Binding(Kind.CONTAINER, None, e, detail=type(e).__name__.lower())
        if isinstance(e, ast.GeneratorExp):
            return Binding(Kind.LAZY, None, e, detail="generator expression")
        return None

    def _classify_attribute(
        self, e: ast.Attribute, env: dict[str, Binding], scope: Scope, d: int
    ) -> Optional[Binding]:
        attr = e.attr
        if attr in BUFFER_STATS:
            return Binding(Kind.BUFFER, root_of(e), e, detail=attr)
        base = self._classify(e.value, env, scope, d)
        if attr == "data":
            # Only a parameter's detached alias is a freeze that does nothing; `.data` of other
            # tensors is how code makes new leaves.
            if base is not None and base.kind in _ALIASABLE:
                return Binding(Kind.DETACHED, base.root or root_of(e), e, detail=".data")
            return None
        if base is None:  # most attributes of most names
            if attr in ("weight", "bias"):
                return Binding(Kind.PARAM, root_of(e), e, detail=attr)
            return None
        root = base.root or root_of(e)
        if attr in ("T", "mT", "H", "mH"):
            if base.kind in TENSORISH and not scope.no_grad_depth:
                return Binding(Kind.NONLEAF, root, e, detail=f"the view .{attr}")
            return None
        if (
            base.kind is Kind.MODULE
            and attr in LIBRARY_SUBMODULES
            and base.detail not in self.facts.classes
        ):
            return Binding(Kind.MODULE, root, e, detail=base.detail)
        if base.kind is Kind.MODULE:
            ctors = self.facts.submodule_attrs.get(attr)
            if ctors:
                names = {self.facts.module_ctor_name(c) for c in ctors}
                if names <= PARAMETER_CONTAINERS:
                    return Binding(Kind.PARAM_CONTAINER, root, e)
                return Binding(Kind.MODULE, root, e)
            if attr in self.facts.parameter_attrs:
                return Binding(Kind.PARAM, root, e, detail=attr)
            if attr in self.facts.buffer_attrs:
                return Binding(Kind.BUFFER, root, e, detail=attr)
        if base.kind is Kind.WRAPPER and attr in ("module", "_orig_mod"):
            return Binding(Kind.MODULE, root, e)
        if attr in ("weight", "bias"):
            return Binding(Kind.PARAM, root, e, detail=attr)
        return None

    def _classify_call(
        self, e: ast.Call, env: dict[str, Binding], scope: Scope, d: int
    ) -> Optional[Binding]:
        func = e.func
        facts = self.facts
        if isinstance(func, ast.Attribute):
            method = func.attr
            if method == "state_dict":
                keep = keyword(e, "keep_vars", 2)
                if keep is None:
                    return Binding(Kind.STATE_DICT, root_of(func.value), e)
                flag = constant_bool(keep)
                if flag is None:
                    return None
                kind = Kind.STATE_DICT_KEEP if flag else Kind.STATE_DICT
                return Binding(kind, root_of(func.value), e)
            if method in ("detach", "clone"):
                base = self._classify(func.value, env, scope, d)
                if base is not None and base.kind in _ALIASABLE:
                    root = base.root or root_of(func.value)
                    return Binding(Kind.DETACHED, root, e, detail=base_detail(base, method))
                return None
            if method in GENERATOR_METHODS:
                root = root_of(func.value)
                held = env.get(func.value.id) if isinstance(func.value, ast.Name) else None
                if held is not None and held.kind is Kind.MODULE and held.root:
                    root = held.root  # `m.parameters()` for `m` of `model.modules()`: model's
                return Binding(Kind.GENERATOR, root, e, detail=method)
            # What the receiver holds matters only to these methods (most are none of them).
            base = self._classify(func.value, env, scope, d) if method in _BASE_METHODS else None
            if base is not None:
                if base.kind is Kind.MODULE and method in MODULE_SELF_METHODS:
                    return base
                if method == "requires_grad_":
                    return base
                if method in CONVERSIONS:
                    if base.kind is Kind.DETACHED:
                        return base
                    if base.kind in TENSORISH:
                        return Binding(Kind.CONVERTED, base.root, e, detail=f".{method}()")
                if (
                    method in NON_LEAF_METHODS
                    and base.kind in TENSORISH
                    and not scope.no_grad_depth
                ):
                    what = "the view" if method in VIEWS else "the result of"
                    return Binding(Kind.NONLEAF, base.root, e, detail=f"{what} .{method}()")
            if method == "get_parameter":
                return Binding(Kind.PARAM, root_of(func.value), e)
            if method == "get_submodule":
                return Binding(Kind.MODULE, root_of(func.value), e)
            if method == "get_buffer":
                return Binding(Kind.BUFFER, root_of(func.value), e)
        elif isinstance(func, ast.Name):
            if func.id == "next" and e.args:
                inner = self._classify(e.args[0], env, scope, d)
                if inner is not None and inner.kind is Kind.GENERATOR:
                    kind = GENERATOR_METHODS[inner.detail]
                    if not inner.detail.startswith("named_"):
                        return Binding(kind, inner.root, e)
                return None
            if func.id in ("list", "tuple", "sorted"):
                return Binding(Kind.CONTAINER, None, e, detail=func.id)
            if func.id in ("map", "filter"):
                return Binding(Kind.LAZY, None, e, detail=f"{func.id}()")
        if id(e) in self.plain_calls:
            return None
        optimizer = facts.optimizer_name(e)
        if optimizer is not None:
            params = keyword(e, "params", 0)
            roots = parameter_roots(params) if params is not None else frozenset()
            self.ctx.optimizer_roots.update(roots)
            self.ctx.optimizer_calls += 1
            return Binding(
                Kind.OPTIMIZER,
                next(iter(sorted(roots)), None),
                e,
                detail=optimizer,
                filtered=params is not None and mentions_requires_grad(params),
                roots=roots,
            )
        name = facts.qualname(func)
        if name is not None:
            last = name.rsplit(".", 1)[-1]
            if last in WRAPPERS:
                wrapped = e.args[0] if e.args else None
                return Binding(
                    Kind.WRAPPER,
                    root_of(wrapped) if wrapped is not None else None,
                    e,
                    detail=WRAPPERS[last] + ("ddp" if last == "DistributedDataParallel" else ""),
                )
            if name == "torch.compile" and e.args:
                return Binding(Kind.WRAPPER, root_of(e.args[0]), e, detail="_orig_mod.")
            if name == "copy.deepcopy" and e.args:
                inner = self._classify(e.args[0], env, scope, d)
                if inner is not None and inner.kind is Kind.MODULE:
                    return Binding(Kind.MODULE, None, e)
        if facts.is_module_ctor(e):
            ctor = facts.module_ctor_name(e)
            if ctor in PARAMETER_CONTAINERS:
                return Binding(Kind.PARAM_CONTAINER, None, e)
            return Binding(Kind.MODULE, None, e, detail=ctor or "")
        if name != "copy.deepcopy":
            self.plain_calls.add(id(e))
        return None

    def iteration(self, it: ast.expr, env: dict[str, Binding], scope: Scope) -> Elem:
        """What one iteration over ``it`` yields."""
        source = self.classify(it, env, scope)
        if source is not None and source.kind is Kind.GENERATOR:
            kind = GENERATOR_METHODS[source.detail]
            element = Binding(kind, source.root, it, origin=source.node, detail=source.detail)
            if source.detail.startswith("named_"):
                return (Binding(Kind.NAME, source.root, it, origin=source.node,
                                detail=source.detail), element)  # fmt: skip
            return element
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute):
            owner = self.classify(it.func.value, env, scope)
            if owner is not None and owner.kind in (Kind.STATE_DICT, Kind.STATE_DICT_KEEP):
                kind = Kind.SD_VALUE if owner.kind is Kind.STATE_DICT else Kind.SD_KEEP_VALUE
                value = Binding(kind, owner.root, it, origin=owner.node)
                if it.func.attr == "items":
                    return (None, value)
                if it.func.attr == "values":
                    return value
                return None
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.args:
            if it.func.id == "enumerate":
                return (None, self.iteration(it.args[0], env, scope))
            if it.func.id in ("list", "tuple", "sorted", "reversed", "iter"):
                return self.iteration(it.args[0], env, scope)
        return None

    def bind_target(
        self, target: ast.AST, elem: Elem, env: dict[str, Binding], scope: Scope
    ) -> None:
        """Bind a loop target to what one iteration yields."""
        if isinstance(target, ast.Name):
            if isinstance(elem, Binding):
                env[target.id] = elem
            elif type(elem) is tuple:  # a Binding is a named tuple, not one of these
                env[target.id] = Binding(Kind.PAIR, None, target, detail=_pair_detail(elem))
            else:
                env.pop(target.id, None)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if type(elem) is tuple and len(elem) == len(target.elts):
                for sub, part in zip(target.elts, elem):
                    self.bind_target(sub, part, env, scope)
            else:
                for sub in target.elts:
                    self.bind_target(sub, None, env, scope)
        elif isinstance(target, ast.Starred):
            self.bind_target(target.value, None, env, scope)

    # -- statements -------------------------------------------------------------------------

    def run(self, tree: ast.Module, memo: Optional[WalkMemo] = None) -> None:
        """Walk the whole file, then the helpers again with their call-site bindings.

        With the ``memo`` of the file's previous texts, top-level definitions it knows are not
        walked again: their findings are reused (see :class:`WalkMemo`)."""
        scope = Scope(tree, {})
        if memo is None:
            self.block(tree.body, scope)
        else:
            from paramlens.analysis.rules.memo import DEFINITIONS  # only editors keep a memo

            memo.begin(tree, self.facts)
            for stmt in tree.body:
                if isinstance(stmt, DEFINITIONS):
                    self._definition(stmt, scope, memo)
                else:
                    self.stmt(stmt, scope)
        self.exit_scope(scope)
        self.replay_helpers(scope)
        for hook in self.hooks["finish"]:
            hook()

    def exit_scope(self, scope: Scope) -> None:
        """Tell every family that a scope ended."""
        for hook in self.hooks["exit_scope"]:
            hook(scope)

    def replay_helpers(self, module: Scope) -> None:
        """Walk top-level helpers again with what all their call sites pass them."""
        self.ctx.replaying = True
        for name, sites in self.ctx.call_sites.items():
            func = self.facts.functions.get(name)
            if func is None:
                continue
            params = [a.arg for a in [*func.args.posonlyargs, *func.args.args]]
            seeds: dict[str, Binding] = {}
            for i, param in enumerate(params):
                passed = [s[i] if i < len(s) else None for s in sites]
                first = passed[0]
                if first is not None and all(
                    b is not None and b.kind is first.kind for b in passed
                ):
                    seeds[param] = first._replace(root=param)
                    if first.kind is Kind.OPTIMIZER:
                        self.ctx.optimizer_bound(param, first)
            if seeds:
                self.function(func, module, seeds=seeds)

    def block(self, stmts: Iterable[ast.stmt], scope: Scope) -> None:
        """Walk statements in order."""
        for stmt in stmts:
            self.stmt(stmt, scope)

    def stmt(self, s: ast.stmt, scope: Scope) -> None:
        """Walk one statement."""
        visit = _STATEMENT_VISITS.get(type(s), Walker._other_statement)
        visit(self, s, scope)

    def _definition(self, s: Definition, module: Scope, memo: WalkMemo) -> None:
        """A top-level class or function: its findings from the memo when its walk cannot
        differ from the recorded one, else walked (and recorded when nothing outside it took
        part in the walk)."""
        found = memo.lookup(s)
        mentions = found[0].mentions if found is not None else memo.mentions(s)
        if mentions is None or not self._independent(mentions.names, module):
            self.stmt(s, module)
            return
        facts = memo.facts_for(mentions)
        if found is not None and found[0].facts == facts:
            known, moved = found
            memo.reused += 1
            for finding in known.findings:
                self.ctx.add(finding.moved(moved) if moved else finding)
            return
        before, first = self._shared_state(module), len(self.ctx.findings)
        self.stmt(s, module)
        if self._shared_state(module) == before:
            memo.record(s, mentions, facts, tuple(self.ctx.findings[first:]))

    def _independent(self, names: frozenset[str], module: Scope) -> bool:
        """Can the walk of a definition naming only ``names`` depend on the other statements?
        Only through a module-level binding it names, an optimizer over a model it names (the
        order rules then look at every binding in scope), a helper function of the file it
        names (what the helper does to its arguments), or module-level parametrizations and
        untied weights (which the API rules look up). Facts are compared apart
        (:meth:`WalkMemo.facts_for`)."""
        return (
            names.isdisjoint(module.env)
            and names.isdisjoint(self.ctx.optimizer_roots)
            and names.isdisjoint(self.facts.functions)
            and not module.state.get("parametrized")
            and not module.state.get("untied")
        )

    def _shared_state(self, module: Scope) -> tuple[Any, ...]:
        """The size of everything a walk can leave for the statements after it: call sites,
        optimizers, call-level facts, module bindings and state, the families' own records.
        Unchanged by a walk: the walk left nothing but its findings (and none of those was
        dropped as the repeat of an earlier one)."""
        ctx, facts = self.ctx, self.facts
        return (
            ctx.repeats,
            len(ctx.call_sites),
            sum(map(len, ctx.call_sites.values())),
            ctx.optimizer_calls,
            facts.noted_calls,
            len(module.env),
            len(module.state),
            *(
                len(value)
                for family in self.families
                for name, value in instance_attributes(family).items()
                if isinstance(value, (list, dict, set)) and name not in family.own_records
            ),
        )

    def _function_statement(self, s: Any, scope: Scope) -> None:
        for dec in s.decorator_list:
            self.expr(dec, scope.env, scope)
        self.function(s, scope)

    def _class_statement(self, s: Any, scope: Scope) -> None:
        env = scope.env
        for base in s.bases:
            self.expr(base, env, scope)
        inner = Scope(s, dict(env), scope, class_name=s.name)
        self.block(s.body, inner)
        self.exit_scope(inner)

    def _augassign_statement(self, s: Any, scope: Scope) -> None:
        env = scope.env
        self.expr(s.value, env, scope)
        self.expr(s.target, env, scope)
        if isinstance(s.target, ast.Name):
            env.pop(s.target.id, None)

    def _expr_statement(self, s: Any, scope: Scope) -> None:
        value = s.value
        kind = type(value)
        callee = None
        if kind is ast.Call:
            func = value.func
            callee = func.attr if type(func) is ast.Attribute else getattr(func, "id", None)
        key = (kind, callee)
        hooks = self.expr_stmt_hooks.get(key)
        if hooks is None:
            hooks = self.expr_stmt_hooks[key] = [
                h for h in self.hooks["expr_stmt"] if _takes_statement(h.__self__, kind, callee)
            ]
        for hook in hooks:
            hook(s, scope)
        self.expr(s.value, scope.env, scope, statement=True)

    def _for_statement(self, s: Any, scope: Scope) -> None:
        env = scope.env
        self.expr(s.iter, env, scope)
        self.bind_target(s.target, self.iteration(s.iter, env, scope), env, scope)
        for hook in self.hooks["for_loop"]:
            hook(s, scope)
        self._loop_body(s, scope)

    def _while_statement(self, s: Any, scope: Scope) -> None:
        self.expr(s.test, scope.env, scope)
        self._loop_body(s, scope)

    def _loop_body(self, s: Any, scope: Scope) -> None:
        scope.loop_depth += 1
        self.block(s.body, scope)
        scope.loop_depth -= 1
        self.block(s.orelse, scope)

    def _if_statement(self, s: Any, scope: Scope) -> None:
        self.expr(s.test, scope.env, scope)
        self.block(s.body, scope)
        self.block(s.orelse, scope)

    def _with_statement(self, s: Any, scope: Scope) -> None:
        env = scope.env
        no_grad = 0
        for item in s.items:
            self.expr(item.context_expr, env, scope)
            if self.is_no_grad(item.context_expr):
                no_grad += 1
            if item.optional_vars is not None:
                self.bind_target(item.optional_vars, None, env, scope)
        scope.no_grad_depth += no_grad
        self.block(s.body, scope)
        scope.no_grad_depth -= no_grad

    def _try_statement(self, s: Any, scope: Scope) -> None:
        self.block(s.body, scope)
        for handler in s.handlers:
            if handler.name:
                scope.env.pop(handler.name, None)
            self.block(handler.body, scope)
        self.block(s.orelse, scope)
        self.block(s.finalbody, scope)

    def _match_statement(self, s: Any, scope: Scope) -> None:
        self.expr(s.subject, scope.env, scope)
        for case in s.cases:
            self.block(case.body, scope)

    def _other_statement(self, s: ast.stmt, scope: Scope) -> None:
        env = scope.env
        for child in child_nodes(s):
            if isinstance(child, ast.expr):
                self.expr(child, env, scope)

    def is_no_grad(self, node: ast.AST) -> bool:
        """``torch.no_grad()``, ``inference_mode()``, ``set_grad_enabled(False)``."""
        if isinstance(node, ast.Call):
            name = self.facts.qualname(node.func)
            if name in NO_GRAD_CONTEXTS:
                return True
            if name == "torch.set_grad_enabled" and node.args:
                return constant_bool(node.args[0]) is False
        return False

    def function(
        self,
        s: Union[ast.FunctionDef, ast.AsyncFunctionDef],
        scope: Scope,
        seeds: Optional[dict[str, Binding]] = None,
    ) -> None:
        """Walk a function body in a scope of its own (closure bindings copied in)."""
        env = {} if seeds is not None else dict(scope.env)
        args = s.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        for extra in (args.vararg, args.kwarg):
            if extra is not None:
                every.append(extra)
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            if seeds is None:
                self.expr(default, scope.env, scope)
        for arg in every:
            env.pop(arg.arg, None)
        class_name = scope.class_name if isinstance(scope.node, ast.ClassDef) else None
        if class_name in self.facts.module_classes and every and every[0].arg == "self":
            env["self"] = Binding(Kind.MODULE, "self", None, detail=class_name or "")
        if seeds:
            env.update(seeds)
        inner = Scope(s, env, scope, class_name=class_name)
        if any(self.is_no_grad(d) for d in s.decorator_list):
            inner.no_grad_depth = 1
        self.block(s.body, inner)
        self.exit_scope(inner)

    def assign(self, s: Union[ast.Assign, ast.AnnAssign], scope: Scope) -> None:
        """``targets = value``: events for the stores, then the new bindings."""
        env = scope.env
        value = s.value
        targets = s.targets if isinstance(s, ast.Assign) else [s.target]
        if value is not None:
            self.expr(value, env, scope)
        sink = as_sink(s)
        if sink is not None:
            self.sink(sink, env, scope)
        new = self.classify(value, env, scope) if value is not None else None
        if new is None and scope.no_grad_depth and isinstance(value, (ast.Call, ast.BinOp)):
            new = Binding(Kind.NOGRAD_OUT, None, value)
        for target in targets:
            if isinstance(target, ast.Attribute):
                self.expr(target.value, env, scope)
                if value is not None:
                    for hook in self.hooks["attr_store"]:
                        hook(target, value, s, scope)
            elif isinstance(target, ast.Subscript):
                self.expr(target.value, env, scope)
                self.expr(target.slice, env, scope)
                if value is not None:
                    for hook in self.hooks["subscript_store"]:
                        hook(target, value, s, scope)
            elif isinstance(target, ast.Name):
                if value is None:
                    continue
                for hook in self.hooks["name_store"]:
                    hook(target, value, new, scope)
                if new is not None:
                    env[target.id] = new
                    if new.kind is Kind.OPTIMIZER:
                        self.ctx.optimizers_seen = True
                        self.ctx.optimizer_bound(target.id, new)
                else:
                    env.pop(target.id, None)
            else:
                for name in _names_in(target):
                    for hook in self.hooks["name_store"]:
                        hook(name, None, None, scope)
                    env.pop(name.id, None)

    # -- expressions ------------------------------------------------------------------------

    def expr(
        self, root: ast.AST, env: dict[str, Binding], scope: Scope, statement: bool = False
    ) -> None:
        """Visit an expression depth first, in field order; ``statement``: ``root`` is a whole
        expression statement (a call's result there is not used). Iterative, so that deep
        nesting never overflows the stack; only lambdas and comprehensions, which bind names of
        their own, are visited by recursion."""
        if type(root) in _INERT:
            return
        stack: list[Any] = [root]
        pop = stack.pop
        push = stack.append
        method_hooks = self.method_call_hooks
        name_hooks = self.name_call_hooks
        other_hooks = self.other_call_hooks
        read_hooks = self.hooks["read"]
        watchers = scope.watchers
        functions = self.facts.functions
        fields_of = _FIELDS
        walkable = _WALKABLE
        while stack:
            node = pop()
            cls = type(node)
            if cls is ast.Call:
                func = node.func
                func_cls = type(func)
                if func_cls is ast.Attribute:
                    method = func.attr
                    if method in _NOTED_METHODS:
                        note_call(self.facts, node)
                    hooks = method_hooks.get(method)
                    if hooks is None:
                        hooks = self.method_hooks(method)
                elif func_cls is ast.Name:
                    if func.id in functions:
                        self.note_call_site(node, env, scope)
                    hooks = name_hooks.get(func.id)
                    if hooks is None:
                        hooks = self.name_hooks(func.id)
                else:
                    hooks = other_hooks
                for hook in hooks:
                    hook(node, env, scope)
                for hook in watchers:
                    hook(node, env, scope)
                if func_cls is ast.Attribute and method == "requires_grad_":
                    sink = as_sink(node)
                    if sink is not None:
                        if not (statement and node is root):
                            sink = sink._replace(used=True)
                        self.sink(sink, env, scope)
                # The children, as below (a keyword's value in place of the keyword, which
                # raises no event): calls and attributes are most of the nodes. Attributes
                # other than requires_grad raise no event either: a chain of them is skipped
                # down to what it starts from.
                if func_cls is ast.Attribute:
                    while type(func) is ast.Attribute and func.attr != "requires_grad":
                        func = func.value
                    if type(func) in walkable:
                        push(func)
                elif func_cls in walkable:
                    push(func)
                for item in node.args:
                    if type(item) in walkable:
                        push(item)
                for kw in node.keywords:
                    if type(kw.value) in walkable:
                        push(kw.value)
                continue
            elif cls is ast.Attribute:
                if node.attr == "requires_grad" and type(node.ctx) is ast.Load:
                    for hook in read_hooks:
                        hook(node, env, scope)
                value = node.value
                while type(value) is ast.Attribute and value.attr != "requires_grad":
                    value = value.value  # (inner attributes are loads)
                if type(value) in walkable:
                    push(value)
                continue
            elif cls is ast.Lambda:
                # In the order of the stack: the defaults (last first), then the body.
                for default in reversed(node.args.defaults):
                    self.expr(default, env, scope)
                inner = dict(env)
                for arg in _lambda_args(node.args):
                    inner.pop(arg, None)
                self.expr(node.body, inner, scope)
                continue
            elif cls in _COMP_TYPES:
                inner = dict(env)
                later: list[ast.AST] = []
                for i, gen in enumerate(node.generators):
                    self.expr(gen.iter, env if i == 0 else inner, scope)
                    elem = self.iteration(gen.iter, inner, scope)
                    self.bind_target(gen.target, elem, inner, scope)
                    for hook in self.hooks["comprehension"]:
                        hook(gen, inner, scope)
                    later.extend(gen.ifs)
                if cls is ast.DictComp:
                    later.extend((node.key, node.value))
                else:
                    later.append(node.elt)
                for part in reversed(later):
                    self.expr(part, inner, scope)
                continue
            # The expression children, in field order (what ``ast.iter_child_nodes`` gives,
            # without contexts, operators, plain values and inert leaves).
            fields = fields_of.get(cls)
            if fields is None:
                fields = _fields(cls)
            for name in fields:
                value = getattr(node, name, None)
                if type(value) is list:
                    for item in value:
                        if type(item) in walkable:
                            push(item)
                elif type(value) in walkable:
                    push(value)

    def note_call_site(self, node: ast.Call, env: dict[str, Binding], scope: Scope) -> None:
        """Remember what a top-level helper of this file is passed."""
        if self.ctx.replaying:
            return
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.facts.functions and not has_star(node):
            args = [self.classify(a, env, scope) for a in node.args]
            self.ctx.call_sites.setdefault(func.id, []).append(args)


# How each statement class is walked (any other: its expressions, in order).
_STATEMENT_VISITS: dict[type, Any] = {
    ast.FunctionDef: Walker._function_statement,
    ast.AsyncFunctionDef: Walker._function_statement,
    ast.ClassDef: Walker._class_statement,
    ast.Assign: Walker.assign,
    ast.AnnAssign: Walker.assign,
    ast.AugAssign: Walker._augassign_statement,
    ast.Expr: Walker._expr_statement,
    ast.For: Walker._for_statement,
    ast.AsyncFor: Walker._for_statement,
    ast.While: Walker._while_statement,
    ast.If: Walker._if_statement,
    ast.With: Walker._with_statement,
    ast.AsyncWith: Walker._with_statement,
    ast.Try: Walker._try_statement,
}
for _name, _visit in (("TryStar", Walker._try_statement), ("Match", Walker._match_statement)):
    if hasattr(ast, _name):
        _STATEMENT_VISITS[getattr(ast, _name)] = _visit

_NOT_CHILDREN = frozenset(
    {"ctx", "op", "ops", "id", "attr", "arg", "kind", "conversion", "is_async", "type_comment"}
)
# Leaves that raise no event: not worth a trip through the stack. Text inside f-strings neither.
_INERT = frozenset({ast.Name, ast.Constant, ast.JoinedStr})


# The node classes the expression visit descends into: every ``ast`` node but the inert ones.
_WALKABLE = NODE_CLASSES - _INERT
# Per node class, the fields that may hold expression children (none for inert nodes).
_FIELDS: dict[type, tuple[str, ...]] = {}
_COMP_TYPES = frozenset(_COMPS)
# Methods whose calls carry file facts (see :func:`note_call`).
_NOTED_METHODS = frozenset({"zero_grad", "requires_grad_"})


def instance_attributes(obj: object) -> dict[str, Any]:
    """The attributes set on ``obj``: ``vars(obj)``, or, for an instance of a class compiled by
    mypyc (which has no ``__dict__``), those its class declares and ``obj`` has."""
    declared = getattr(type(obj), "__mypyc_attrs__", None)
    if declared is None:
        return vars(obj)
    return {name: getattr(obj, name) for name in declared if hasattr(obj, name)}


def _fields(cls: type) -> tuple[str, ...]:
    fields: tuple[str, ...] = ()
    if cls not in _INERT:
        fields = tuple(f for f in getattr(cls, "_fields", ()) if f not in _NOT_CHILDREN)
    _FIELDS[cls] = fields
    return fields


def _takes_statement(family: Family, kind: type, callee: Optional[str]) -> bool:
    """Does ``family`` take the ``expr_stmt`` event of a statement whose expression is of class
    ``kind`` (calling ``callee``, for a call)?"""
    if family.expr_stmt_values is not None and kind not in family.expr_stmt_values:
        return False
    return (
        kind is not ast.Call or family.expr_stmt_calls is None or callee in family.expr_stmt_calls
    )


def _handled_events(family: type[Family]) -> tuple[str, ...]:
    """The events a family class handles (those it overrides), in the order of ``_EVENTS``."""
    events = _HANDLED.get(family)
    if events is None:
        events = _HANDLED[family] = tuple(
            e for e in _EVENTS if getattr(family, e) is not getattr(Family, e)
        )
    return events


_HANDLED: dict[type, tuple[str, ...]] = {}
# Per list of family classes (with a call hook), per method: the indexes of the families that
# take its calls.
_METHOD_HOOKS: dict[tuple[type, ...], dict[str, tuple[int, ...]]] = {}


def _pair_detail(elem: tuple[Any, ...]) -> str:
    for part in elem:
        if isinstance(part, Binding) and part.detail:
            return part.detail
    return ""


def _lambda_args(args: ast.arguments) -> Iterator[str]:
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        yield arg.arg
    for extra in (args.vararg, args.kwarg):
        if extra is not None:
            yield extra.arg


def _names_in(target: ast.AST) -> Iterator[ast.Name]:
    for node in walk(target):
        if isinstance(node, ast.Name):
            yield node
