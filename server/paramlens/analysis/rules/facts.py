"""Facts about one file gathered in a single ``ast.walk``: imports, nn.Module subclasses and
their submodule / parameter / buffer attributes, factories, and how gradients are cleared.

This is the rules' own minimal model of the source; it never imports anything. It is not
``paramlens.analysis.source_map``: that map also builds hover targets, bindings and freeze loops
(about fifteen times this pass on a 5,000-line file), while the static rules run on every
keystroke and need only this statement-level subset.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Collection, Iterable, Iterator

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import first_line, source_lines
from paramlens.analysis.rules.records import ClassAttrs, StatementFacts
from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, Optional, Union

MODULE_BASES = frozenset(
    {
        "torch.nn.Module",
        "torch.nn.modules.module.Module",
        "pytorch_lightning.LightningModule",
        "lightning.LightningModule",
        "lightning.pytorch.LightningModule",
        "transformers.PreTrainedModel",
        "transformers.modeling_utils.PreTrainedModel",
    }
)
NOT_MODULES = frozenset({"Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer"})
PARAMETER_CLASSES = frozenset({"torch.nn.Parameter", "torch.nn.parameter.Parameter"})
PARAMETER_CONTAINERS = frozenset({"ParameterList", "ParameterDict"})
# Conventional aliases, assumed when the file does not import the name itself (star imports).
DEFAULT_ALIASES = {"nn": "torch.nn", "optim": "torch.optim", "F": "torch.nn.functional"}
OPTIMIZERS = frozenset(
    {
        "SGD", "Adam", "AdamW", "Adamax", "Adagrad", "Adadelta", "Adafactor", "ASGD", "LBFGS",
        "NAdam", "RAdam", "RMSprop", "Rprop", "SparseAdam", "Muon",
    }
)  # fmt: skip


_OPTIMIZER_ENDINGS = tuple(OPTIMIZERS)
_UNSEEN: Any = object()


class ClassFacts:
    """One class of the file."""

    def __init__(self, name: str, bases: tuple[str, ...]) -> None:
        self.name = name
        self.bases = bases  # qualified names of the bases
        self.parameters: set[str] = set()  # self.X = nn.Parameter(...)


class FileFacts:
    """Everything the rules need to know about the file before walking it in order."""

    def __init__(self) -> None:
        self.imports: dict[str, str] = {}  # local name -> qualified name
        self.classes: dict[str, ClassFacts] = {}
        self.module_classes: set[str] = set()  # local names that build a Module
        self.functions: dict[str, ast.FunctionDef] = {}  # top-level defs
        self.submodule_attrs: dict[str, list[ast.Call]] = {}
        self.parameter_attrs: set[str] = set()
        self.buffer_attrs: set[str] = set()
        self.stored_attrs: set[str] = set()  # every `X.attr = ...` name
        self.ties: dict[str, tuple[str, int]] = {}  # "a.weight" -> ("b.weight", line)
        self.zero_grad_calls = 0
        self.zero_grad_keeps_grads = False  # zero_grad(set_to_none=False) somewhere
        self.freezes = False  # some requires_grad(_) is set to False somewhere
        self.noted_calls = 0  # calls :func:`note_call` looked at (what a walk left for the rest)
        self._qualnames: dict[int, Optional[str]] = {}  # by node id
        self._constructors: dict[int, Optional[str]] = {}  # by call id

    def qualname(self, node: ast.AST) -> Optional[str]:
        """``nn.Linear`` -> ``torch.nn.Linear`` through the file's imports; None if unknown."""
        key = id(node)
        name = self._qualnames.get(key, _UNSEEN)
        if name is not _UNSEEN:
            return name
        name = self._qualname(node)
        self._qualnames[key] = name
        return name

    def _qualname(self, node: Any) -> Optional[str]:
        cls = type(node)
        if cls is ast.Name:  # most calls: f(...), and the head of every chain
            return self.name_qualname(node.id)
        if cls is not ast.Attribute:
            return None
        parts: list[str] = []
        while type(node) is ast.Attribute:
            parts.append(node.attr)
            node = node.value
        if type(node) is not ast.Name:
            return None
        parts.append(self.name_qualname(node.id))
        parts.reverse()
        return ".".join(parts)

    def name_qualname(self, name: str) -> str:
        """What a plain name stands for through the file's imports (itself if not imported)."""
        return self.imports.get(name) or DEFAULT_ALIASES.get(name, name)

    def add_module_class(self, name: str) -> None:
        """``name`` (a model factory found late) builds a Module: answers of
        :meth:`module_ctor_name` given before may have changed (a factory of factories)."""
        self.module_classes.add(name)
        self._constructors.clear()

    def is_module_ctor(self, call: ast.AST) -> bool:
        """Does this call build an ``nn.Module`` (nn.X, a Module subclass, a model factory)?"""
        return isinstance(call, ast.Call) and self.module_ctor_name(call) is not None

    def module_ctor_name(self, call: ast.Call) -> Optional[str]:
        """The last segment of the class built by ``call`` when it is a Module, else None."""
        key = id(call)
        name = self._constructors.get(key, _UNSEEN)
        if name is _UNSEEN:
            name = self._constructors[key] = self._module_ctor_name(call)
        return name

    def _module_ctor_name(self, call: ast.Call) -> Optional[str]:
        func = call.func
        if isinstance(func, ast.Name) and func.id in self.module_classes:
            return func.id
        name = self.qualname(func)
        if name is None:
            return None
        last = name.rsplit(".", 1)[-1]
        if name.startswith(("torch.nn.", "torch.ao.nn.")) and name.count(".") >= 2:
            if last == "from_pretrained":  # nn.Embedding.from_pretrained(w)
                last = name.rsplit(".", 2)[-2]
            if last[:1].isupper() and last not in NOT_MODULES:
                return last
            return None
        if name.startswith("torchvision.models.") and last[:1].isalpha():
            return last
        if name in ("timm.create_model", "torch.hub.load"):
            return last
        if name.startswith("transformers.") and last == "from_pretrained":
            owner = name.rsplit(".", 2)[-2]
            if "Model" in owner:
                return owner
        return None

    def own_parameters(self, class_name: str) -> Optional[set[str]]:
        """The parameters a file class registers directly (its file bases included); None when
        a base is not known here (a library model may register root parameters of its own)."""
        names: set[str] = set()
        seen: set[str] = set()
        todo = [class_name]
        while todo:
            name = todo.pop()
            cls = self.classes.get(name)
            if cls is None or name in seen:
                return None if cls is None else names
            seen.add(name)
            names |= cls.parameters
            for base in cls.bases:
                if base in self.classes:
                    todo.append(base)
                elif base not in MODULE_BASES and not base.startswith("torch.nn."):
                    return None
        return names

    def is_parameter_ctor(self, node: ast.AST) -> bool:
        """``nn.Parameter(...)``."""
        return isinstance(node, ast.Call) and self.qualname(node.func) in PARAMETER_CLASSES

    def optimizer_name(self, call: ast.AST) -> Optional[str]:
        """``torch.optim.SGD(...)`` -> ``SGD``; None for anything else."""
        if not isinstance(call, ast.Call):
            return None
        return optimizer_class(self.qualname(call.func))


def optimizer_class(name: Optional[str]) -> Optional[str]:
    """``torch.optim.SGD`` -> ``SGD``; None for any other qualified name."""
    if name is None or not name.endswith(_OPTIMIZER_ENDINGS):  # most calls: at once
        return None
    last = name.rsplit(".", 1)[-1]
    if last in OPTIMIZERS and (name.startswith("torch.optim.") or name == last):
        # A bare `SGD(...)` counts only when imported from torch.optim (then it was mapped).
        return last if name != last else None
    return None


def _node_classes(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _node_classes(sub)


NODE_CLASSES = frozenset(_node_classes(ast.AST))  # every node class of ``ast``
# Fields that hold only contexts and operators (leaves no rule looks for).
_OPERATOR_FIELDS = frozenset({"ctx", "op", "ops"})
_WALK_FIELDS: dict[type, tuple[str, ...]] = {}


def child_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that may hold nodes other than contexts and operators."""
    fields = _WALK_FIELDS.get(cls)
    if fields is None:
        fields = tuple(f for f in getattr(cls, "_fields", ()) if f not in _OPERATOR_FIELDS)
        _WALK_FIELDS[cls] = fields
    return fields


def child_nodes(node: ast.AST) -> list[ast.AST]:
    """:func:`ast.iter_child_nodes` without contexts and operators, as a list."""
    children: list[ast.AST] = []
    fields = _WALK_FIELDS.get(type(node))
    if fields is None:
        fields = child_fields(type(node))
    for name in fields:
        value: Any = getattr(node, name, None)
        if type(value) is list:
            children.extend(item for item in value if type(item) in NODE_CLASSES)
        elif type(value) in NODE_CLASSES:
            children.append(value)
    return children


def walk(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``node`` in :func:`ast.walk` order (breadth first), without the contexts
    and operators (``Load``, ``Add``, ``Eq``...), and about twice as fast."""
    # The children are those of child_nodes, pushed in place: a call per node cost the checks
    # of a 200-file tree ~3% (the walker's expression visit does the same, with fewer classes).
    todo: deque[Any] = deque([node])
    pop = todo.popleft
    push = todo.append
    fields_of = _WALK_FIELDS
    nodes = NODE_CLASSES
    while todo:
        node = pop()
        fields = fields_of.get(type(node))
        for name in fields if fields is not None else child_fields(type(node)):
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if type(item) in nodes:
                        push(item)
            elif type(value) in nodes:
                push(value)
        yield node


def own_nodes(stmt: ast.stmt) -> Iterator[ast.AST]:
    """The expression nodes of one statement, without those of nested statements/defs
    (nor contexts and operators)."""
    stack = [child for child in child_nodes(stmt) if not isinstance(child, ast.stmt)]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.stmt, ast.Lambda)):
            continue
        yield node
        stack.extend(child_nodes(node))


def mentions(node: Optional[ast.AST], name: Optional[str]) -> bool:
    """Does ``node`` (None: nothing) use the variable ``name`` (None: no name) anywhere in it?"""
    return (
        node is not None
        and name is not None
        and any(isinstance(n, ast.Name) and n.id == name for n in walk(node))
    )


def classes_keeping_eval(tree: ast.Module) -> set[str]:
    """Classes of the file whose ``train()`` override calls ``.eval()`` (the fix of FRZ11),
    and their subclasses in the file."""
    keeping: set[str] = set()
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    for node in classes:
        for item in node.body:
            if (
                isinstance(item, ast.FunctionDef)
                and item.name == "train"
                and any(
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "eval"
                    for call in walk(item)
                )
            ):
                keeping.add(node.name)
    changed = True
    while changed:
        changed = False
        for node in classes:
            bases = {
                b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases
            }
            if node.name not in keeping and bases & keeping:
                keeping.add(node.name)
                changed = True
    return keeping


def import_bindings(node: Union[ast.Import, ast.ImportFrom]) -> Iterator[tuple[str, str, bool]]:
    """The names one import statement binds: ``(local name, dotted name it stands for, bound by a
    from-import)``. ``import torch.nn as nn`` -> ``nn``: ``torch.nn``; ``import torch.nn`` ->
    ``torch``: ``torch``; ``from ..pkg import Net as N`` -> ``N``: ``..pkg.Net``. Star imports
    bind nothing that can be named."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                yield alias.asname, alias.name, False
            else:
                head = alias.name.split(".", 1)[0]
                yield head, head, False
        return
    base = "." * node.level + (node.module or "")
    for alias in node.names:
        if alias.name != "*":
            yield alias.asname or alias.name, f"{base}.{alias.name}", True


_BLOCK_FIELDS: dict[type, tuple[str, ...]] = {}


def _block_fields(cls: type[ast.AST]) -> tuple[str, ...]:
    """The fields of a statement class that hold statements (or handlers, match cases)."""
    fields = _BLOCK_FIELDS.get(cls)
    if fields is None:
        names = ("body", "orelse", "finalbody", "handlers", "cases")
        fields = tuple(name for name in names if name in cls._fields)
        _BLOCK_FIELDS[cls] = fields
    return fields


def statements_in(stmt: ast.stmt) -> list[ast.stmt]:
    """The statements directly in the blocks of ``stmt`` (its handlers' and cases' too)."""
    inner: list[ast.stmt] = []
    fields = _BLOCK_FIELDS.get(type(stmt))
    for name in fields if fields is not None else _block_fields(type(stmt)):
        block = getattr(stmt, name, None)
        if not isinstance(block, list):
            continue
        if name == "handlers" or name == "cases":
            for part in block:
                inner.extend(part.body)
        else:
            inner.extend(block)
    return inner


def statements(body: Iterable[ast.stmt]) -> Iterable[ast.stmt]:
    """Every statement, nested ones included (expressions are not visited: cheap)."""
    stack: list[ast.stmt] = list(body)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(statements_in(node))


def collect_facts(
    tree: ast.Module,
    extra_module_classes: Collection[str] = (),
    source: Optional[str] = None,
    memo: Optional[FactsMemo] = None,
) -> FileFacts:
    """Gather the statement-level :class:`FileFacts` of ``tree`` (imports, classes, defs,
    attribute stores); call-level facts are noted during the ordered walk (:func:`note_call`).

    ``source``, the text of ``tree``, only makes it cheaper: methods whose lines cannot name
    ``register_buffer`` / ``register_parameter`` are not searched for those calls. So does
    ``memo``, the document's: what unchanged statements gave is not gathered again."""
    facts = FileFacts()
    register_lines = _register_lines(source)
    class_nodes: list[ast.ClassDef] = []
    # Statements are visited last first (what an import binds twice is its first binding).
    if memo is not None:
        parts = [memo.statement(top) for top in reversed(tree.body)]
    else:
        parts = [_statement_facts(tree.body)]
    for found in parts:
        for bound, dotted in found.imports:
            facts.imports[bound] = dotted
        class_nodes.extend(found.classes)
        facts.stored_attrs |= found.stored_attrs
        facts.freezes = facts.freezes or found.freezes
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            facts.functions[node.name] = node
    facts.module_classes.update(extra_module_classes)
    for node in class_nodes:
        local = tuple(b.id for b in node.bases if isinstance(b, ast.Name))
        facts.classes[node.name] = ClassFacts(
            node.name, local + tuple(q for q in map(facts.qualname, node.bases) if q)
        )
    _resolve_module_classes(facts)
    # Factories first: a class's `self.block = make_block()` builds a Module too.
    _collect_factories(facts, tree.body)
    if memo is not None:
        memo.begin_classes(facts)
    for node in class_nodes:
        if node.name in facts.module_classes:
            if memo is not None:
                attrs = memo.class_attrs(node, facts, register_lines)
            else:
                attrs = _class_attrs(facts, node, register_lines)
            _add_class_attrs(attrs, facts, facts.classes[node.name], node)
    if memo is not None:
        memo.end()
    return facts


def _add_class_attrs(
    attrs: ClassAttrs, facts: FileFacts, cls: ClassFacts, node: ast.ClassDef
) -> None:
    """Merge what the methods of the Module class ``node`` give into the file's facts."""
    for first, second, after in attrs.ties:
        facts.ties[first] = (second, node.lineno + after)
        facts.ties[second] = (first, node.lineno + after)
    for attr, call in attrs.submodules:
        facts.submodule_attrs.setdefault(attr, []).append(call)
    cls.parameters |= attrs.parameters
    facts.parameter_attrs |= attrs.parameters
    facts.buffer_attrs |= attrs.buffers


def _statement_facts(body: list[ast.stmt]) -> StatementFacts:
    imports: list[tuple[str, str]] = []
    classes: list[ast.ClassDef] = []
    stored: set[str] = set()
    freezes = False
    node: Any
    for node in statements(body):
        cls = type(node)
        if cls is ast.Assign or cls is ast.AnnAssign or cls is ast.AugAssign:
            targets = node.targets if cls is ast.Assign else [node.target]
            value = node.value
            for target in targets:
                if type(target) is ast.Name:
                    continue  # most targets: no attribute
                for sub in _target_parts(target):
                    if type(sub) is ast.Attribute:
                        stored.add(sub.attr)
                        if sub.attr == "requires_grad" and type(value) is ast.Constant:
                            freezes = freezes or value.value is False
        elif cls is ast.Import or cls is ast.ImportFrom:
            imports.extend((bound, dotted) for bound, dotted, _ in import_bindings(node))
        elif cls is ast.ClassDef:
            classes.append(node)
    return StatementFacts(tuple(imports), tuple(classes), frozenset(stored), freezes)


class FactsMemo:
    """What :func:`collect_facts` found in the statements of a document's last text, kept for
    the same nodes in its next one (see :class:`~paramlens.analysis.incremental.
    IncrementalParser`). A class's attributes are kept with the imports and Module classes
    that decided which of its calls build Modules."""

    def __init__(self) -> None:
        self._statements: dict[int, tuple[ast.stmt, StatementFacts]] = {}
        self._classes: dict[int, tuple[ast.ClassDef, tuple[Any, ...], ClassAttrs]] = {}
        self._used_statements: dict[int, tuple[ast.stmt, StatementFacts]] = {}
        self._used_classes: dict[int, tuple[ast.ClassDef, tuple[Any, ...], ClassAttrs]] = {}
        self._context: tuple[Any, ...] = ()

    def statement(self, top: ast.stmt) -> StatementFacts:
        """The facts of one top-level statement."""
        known = self._statements.get(id(top))
        found = known[1] if known is not None and known[0] is top else _statement_facts([top])
        self._used_statements[id(top)] = (top, found)
        return found

    def begin_classes(self, facts: FileFacts) -> None:
        """The statements are done: note what decides which calls build Modules."""
        self._context = (frozenset(facts.imports.items()), frozenset(facts.module_classes))

    def class_attrs(
        self, node: ast.ClassDef, facts: FileFacts, register_lines: Optional[list[int]]
    ) -> ClassAttrs:
        """The attributes of a Module class (once per class node and context)."""
        key = self._context
        known = self._classes.get(id(node))
        if known is not None and known[0] is node and known[1] == key:
            found = known[2]
        else:
            found = _class_attrs(facts, node, register_lines)
        self._used_classes[id(node)] = (node, key, found)
        return found

    def end(self) -> None:
        """The text is done: keep what it used, forget the rest."""
        self._statements, self._used_statements = self._used_statements, {}
        self._classes, self._used_classes = self._used_classes, {}


def _target_parts(target: ast.AST) -> Iterable[ast.AST]:
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_parts(element)
    elif isinstance(target, ast.Starred):
        yield target.value
    else:
        yield target


def note_call(facts: FileFacts, node: ast.Call) -> None:
    """Call-level facts: how gradients are cleared, whether something is frozen."""
    facts.noted_calls += 1
    func = node.func
    if isinstance(func, ast.Attribute):
        if func.attr == "zero_grad":
            facts.zero_grad_calls += 1
            keeps = [k.value for k in node.keywords if k.arg == "set_to_none"]
            if node.args:
                keeps.append(node.args[0])
            if any(isinstance(v, ast.Constant) and v.value is False for v in keeps):
                facts.zero_grad_keeps_grads = True
        elif func.attr == "requires_grad_" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and arg.value is False:
                facts.freezes = True


def _resolve_module_classes(facts: FileFacts) -> None:
    """Module subclasses, transitively, whatever the order of the class statements."""
    changed = True
    while changed:
        changed = False
        for cls in facts.classes.values():
            if cls.name in facts.module_classes:
                continue
            for base in cls.bases:
                last = base.rsplit(".", 1)[-1]
                if (
                    base in MODULE_BASES
                    or base in facts.module_classes
                    or (base.startswith("torch.nn.") and last[:1].isupper())
                    or (base.startswith("torchvision.models.") and last[:1].isupper())
                ):
                    facts.module_classes.add(cls.name)
                    changed = True
                    break


def _self_attr(target: ast.AST) -> Optional[str]:
    if (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    ):
        return target.attr
    return None


def _tie(stmt: ast.Assign) -> Optional[tuple[str, str]]:
    """``self.lm_head.weight = self.embed.weight`` -> ``("lm_head.weight", "embed.weight")``."""

    def path(node: ast.AST) -> Optional[str]:
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("weight", "bias")
            and isinstance(node.value, ast.Attribute)
            and _self_attr(node.value) is not None
        ):
            return f"{node.value.attr}.{node.attr}"
        return None

    if len(stmt.targets) != 1:
        return None
    first, second = path(stmt.targets[0]), path(stmt.value)
    return (first, second) if first and second else None


def _register_lines(source: Optional[str]) -> Optional[list[int]]:
    """The 1-based lines that may hold a ``register_buffer`` / ``register_parameter`` call
    (None: any line, without the source). Non-ASCII lines may: the parser folds look-alike
    letters of identifiers into ASCII ones."""
    if source is None:
        return None
    if source.isascii() and "\r" not in source:  # lines are counted by "\n" alone
        found: list[int] = []
        line, counted = 1, 0
        at = source.find("register_")
        while at != -1:
            line += source.count("\n", counted, at)
            counted = at
            if not found or found[-1] != line:
                found.append(line)
            at = source.find("register_", at + 1)
        return found
    return [
        n
        for n, text in enumerate(source_lines(source), 1)
        if "register_" in text or not text.isascii()
    ]


def _may_register(
    node: Union[ast.FunctionDef, ast.AsyncFunctionDef], register_lines: Optional[list[int]]
) -> bool:
    """Can ``node`` (a function, decorators included) hold a register_* call?"""
    if register_lines is None:
        return True
    if not register_lines:
        return False
    first = first_line(node)
    last = getattr(node, "end_lineno", None) or node.lineno
    at = bisect.bisect_left(register_lines, first)
    return at < len(register_lines) and register_lines[at] <= last


_BLOCK_NODES = (
    ast.stmt,
    ast.excepthandler,
    *((ast.match_case,) if hasattr(ast, "match_case") else ()),
)


def statements_breadth_first(tree: ast.AST) -> Iterator[ast.stmt]:
    """Every statement of ``tree`` (itself included), defs and classes entered, in
    :func:`ast.walk` order: only statements, handlers and match cases hold statements, so no
    expression is visited."""
    todo = [tree]
    for node in todo:
        if isinstance(node, ast.stmt):
            yield node
        cls = type(node)
        fields = _BREADTH_FIELDS.get(cls)
        if fields is None:  # the fields that hold statements, handlers or cases, in order
            fields = _BREADTH_FIELDS[cls] = tuple(f for f in cls._fields if f in _BLOCKS)
        for name in fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                todo.extend(item for item in value if isinstance(item, _BLOCK_NODES))


_BLOCKS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
_BREADTH_FIELDS: dict[type, tuple[str, ...]] = {}


def _class_attrs(
    facts: FileFacts, node: ast.ClassDef, register_lines: Optional[list[int]]
) -> ClassAttrs:
    ties: list[tuple[str, str, int]] = []
    submodules: list[tuple[str, ast.Call]] = []
    parameters: set[str] = set()
    buffers: set[str] = set()
    for method in node.body:
        if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        # Assignments are statements: the statement walk finds them in the same order.
        for stmt in statements_breadth_first(method):
            if isinstance(stmt, ast.Assign):
                value = stmt.value
                tie = _tie(stmt)
                if tie is not None:
                    ties.append((*tie, stmt.lineno - node.lineno))
                for target in stmt.targets:
                    attr = _self_attr(target)
                    if attr is None:
                        continue
                    if isinstance(value, ast.Call) and facts.is_module_ctor(value):
                        submodules.append((attr, value))
                    elif facts.is_parameter_ctor(value):
                        parameters.add(attr)
        if not _may_register(method, register_lines):
            continue
        # Registration calls only fill sets: their order does not matter.
        for call in walk(method):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in ("register_buffer", "register_parameter")
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
            ):
                name = call.args[0].value
                (buffers if call.func.attr == "register_buffer" else parameters).add(name)
    return ClassAttrs(tuple(ties), tuple(submodules), frozenset(parameters), frozenset(buffers))


def _returns_module(facts: FileFacts, returns: list[ast.Return]) -> bool:
    return bool(returns) and all(
        r.value is not None and facts.is_module_ctor(r.value) for r in returns
    )


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _own_returns(body: Iterable[ast.stmt]) -> list[ast.Return]:
    """The ``return`` statements of a function body, without those of the functions and
    classes nested in its statements (a ``return`` is always a statement, so only statements
    are visited)."""
    returns: list[ast.Return] = []
    stack: list[Any] = list(body)
    while stack:
        node = stack.pop()
        cls = type(node)
        if cls is ast.Return:
            returns.append(node)
            continue
        fields = _BLOCK_FIELDS.get(cls)
        for name in fields if fields is not None else _block_fields(cls):
            block = getattr(node, name, None)
            if not isinstance(block, list):
                continue
            if name == "handlers" or name == "cases":
                block = [stmt for part in block for stmt in part.body]
            stack.extend(stmt for stmt in block if not isinstance(stmt, _SCOPES))
    return returns


def _collect_factories(facts: FileFacts, body: list[ast.stmt]) -> None:
    """Top-level functions whose every ``return`` builds a Module (``def make(): return Net()``)."""
    returns = {
        id(stmt): _own_returns(stmt.body) for stmt in body if isinstance(stmt, ast.FunctionDef)
    }
    changed = True
    while changed:
        changed = False
        for stmt in body:
            if (
                isinstance(stmt, ast.FunctionDef)
                and stmt.name not in facts.module_classes
                and _returns_module(facts, returns[id(stmt)])
            ):
                facts.add_module_class(stmt.name)
                changed = True


def module_names_defined(tree: ast.Module, known: Collection[str] = ()) -> set[str]:
    """The Module subclasses and model factories a file defines (for workspace imports)."""
    facts = collect_facts(tree, known)
    return (facts.module_classes - set(known)) | (facts.module_classes & set(facts.classes))
