"""Loading the user's file in an inspection child: module names, definitions-only loading.

Standard library only (no torch): the pure parts are unit-tested without torch.

Definitions-only loading keeps, at module top level, only imports, ``def``/``class``, constant
assignments (literals and names, attributes, containers and arithmetic of them), lambdas,
docstrings, ``try`` blocks whose handlers catch ``ImportError`` and ``if TYPE_CHECKING`` /
``if sys.version_info`` blocks. Everything else (calls, loops, ``with``, ``if __name__ ==
"__main__"``) is dropped, so importing a training script never trains, downloads or writes.
Workspace files the target imports are loaded the same way; installed packages import normally.
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import sysconfig
from collections.abc import Iterable, Mapping, Sequence
from types import CodeType, ModuleType
from typing import Optional

IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
_GUARD_NAMES = frozenset({"TYPE_CHECKING"})
_OWN_FOLDER = os.path.join(os.path.dirname(os.path.realpath(__file__)), "")


# Library calls that only build values (no files, no network, no training), allowed at top level
# with constant arguments: `DEVICE = torch.device("cpu")`, `log = logging.getLogger(__name__)`,
# `ACT = nn.GELU()`. A trailing ".*" allows every name under a prefix.
SAFE_CALLS = frozenset(
    {
        "abs",
        "bool",
        "bytes",
        "collections.OrderedDict",
        "collections.defaultdict",
        "collections.namedtuple",
        "complex",
        "dataclasses.field",
        "dict",
        "divmod",
        "enum.*",
        "enumerate",
        "float",
        "frozenset",
        "functools.partial",
        "int",
        "isinstance",
        "issubclass",
        "len",
        "list",
        "logging.getLogger",
        "math.*",
        "max",
        "min",
        "object",
        "operator.*",
        "os.cpu_count",
        "os.environ.get",
        "os.getenv",
        "os.path.*",
        "pathlib.Path",
        "pathlib.PurePath",
        "pow",
        "range",
        "re.compile",
        "reversed",
        "round",
        "set",
        "slice",
        "sorted",
        "str",
        "sum",
        "torch.Size",
        "torch.arange",
        "torch.as_tensor",
        "torch.backends.mps.is_available",
        "torch.cuda.device_count",
        "torch.cuda.is_available",
        "torch.device",
        "torch.empty",
        "torch.eye",
        "torch.finfo",
        "torch.full",
        "torch.get_default_dtype",
        "torch.iinfo",
        "torch.linspace",
        "torch.nn.*",
        "torch.ones",
        "torch.rand",
        "torch.randn",
        "torch.tensor",
        "torch.tril",
        "torch.triu",
        "torch.zeros",
        "tuple",
        "typing.*",
        "typing_extensions.*",
        "zip",
    }
)
_SAFE_PREFIXES = tuple(name[:-1] for name in SAFE_CALLS if name.endswith(".*"))
_UNSAFE_UNDER_SAFE = ("torch.nn.utils.", "torch.nn.parallel.")


def import_aliases(tree: ast.Module) -> dict[str, str]:
    """Top-level names bound by imports, to their qualified names (``nn`` -> ``torch.nn``)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    aliases[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in tree.body:  # the file's own functions never count as library calls
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            aliases[node.name] = f"<file>.{node.name}"
    return aliases


def qualified_name(node: ast.expr, aliases: Mapping[str, str]) -> Optional[str]:
    """``nn.Linear`` -> ``torch.nn.Linear`` through the imports, builtins by their name; None
    for names the file does not import."""
    if isinstance(node, ast.Name):
        if node.id in aliases:
            return aliases[node.id]
        return node.id if hasattr(builtins, node.id) else None
    if isinstance(node, ast.Attribute):
        base = qualified_name(node.value, aliases)
        return None if base is None else f"{base}.{node.attr}"
    return None


def is_safe_call(name: str) -> bool:
    """True for library calls that only build a value (see :data:`SAFE_CALLS`)."""
    if name.startswith(_UNSAFE_UNDER_SAFE):
        return False
    return name in SAFE_CALLS or name.startswith(_SAFE_PREFIXES)


def is_constant_expression(node: ast.expr, aliases: Optional[Mapping[str, str]] = None) -> bool:
    """True when evaluating ``node`` cannot run user code: literals, names, attribute reads,
    containers, subscripts, arithmetic or comparisons of those and, given the file's import
    ``aliases``, calls of :data:`SAFE_CALLS` with such arguments."""

    def constant(child: Optional[ast.AST]) -> bool:
        return child is None or is_constant_expression(child, aliases)  # type: ignore[arg-type]

    if isinstance(node, (ast.Constant, ast.Name, ast.Lambda)):
        return True
    if isinstance(node, ast.Attribute):
        return constant(node.value)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(constant(e) for e in node.elts)
    if isinstance(node, ast.Starred):
        return constant(node.value)
    if isinstance(node, ast.Dict):
        return all(constant(k) for k in node.keys) and all(constant(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return constant(node.operand)
    if isinstance(node, ast.BinOp):
        return constant(node.left) and constant(node.right)
    if isinstance(node, ast.BoolOp):
        return all(constant(v) for v in node.values)
    if isinstance(node, ast.Compare):
        return constant(node.left) and all(constant(c) for c in node.comparators)
    if isinstance(node, ast.Subscript):
        return constant(node.value) and constant(node.slice)
    if isinstance(node, ast.Slice):
        return constant(node.lower) and constant(node.upper) and constant(node.step)
    if isinstance(node, ast.IfExp):
        return constant(node.test) and constant(node.body) and constant(node.orelse)
    if isinstance(node, ast.JoinedStr):
        return all(constant(v) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        return constant(node.value)
    if isinstance(node, ast.Call) and aliases is not None:
        name = qualified_name(node.func, aliases)
        return (
            name is not None
            and is_safe_call(name)
            and all(constant(a) for a in node.args)
            and all(constant(k.value) for k in node.keywords)
        )
    return False


def _is_guard(test: ast.expr) -> bool:
    """``if TYPE_CHECKING`` / ``if typing.TYPE_CHECKING`` / ``if sys.version_info ...``."""
    if isinstance(test, ast.Name):
        return test.id in _GUARD_NAMES
    if isinstance(test, ast.Attribute):
        return test.attr in _GUARD_NAMES
    if isinstance(test, ast.Compare) and isinstance(test.left, (ast.Attribute, ast.Subscript)):
        text = ast.unparse(test.left)
        return text.startswith("sys.version_info") and is_constant_expression(test)
    return False


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(
        (isinstance(n, ast.Name) and n.id in IMPORT_ERRORS)
        or (isinstance(n, ast.Attribute) and n.attr in IMPORT_ERRORS)
        for n in names
    )


class _Filter:
    """Keeps the definitions of one module's top level."""

    def __init__(self, aliases: Mapping[str, str]) -> None:
        self.aliases = aliases

    def block(self, body: Sequence[ast.stmt], *, in_handler: bool = False) -> list[ast.stmt]:
        kept: list[ast.stmt] = []
        for statement in body:
            if in_handler and isinstance(statement, ast.Raise):
                kept.append(statement)  # "this module needs X": the user should see that error
            else:
                kept.extend(self.statement(statement))
        return kept

    def statement(self, node: ast.stmt) -> list[ast.stmt]:
        if isinstance(node, _DEFINITIONS):
            return [node]
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return [node]  # docstrings
        if isinstance(node, ast.Assign) and is_constant_expression(node.value, self.aliases):
            if all(isinstance(t, (ast.Name, ast.Tuple, ast.List)) for t in node.targets):
                return [node]
            return []
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.value is None or is_constant_expression(node.value, self.aliases):
                return [node]
            return []
        if isinstance(node, ast.Try) and all(_catches_import_error(h) for h in node.handlers):
            node.body = self.block(node.body) or [ast.Pass()]
            for handler in node.handlers:
                handler.body = self.block(handler.body, in_handler=True) or [ast.Pass()]
            node.orelse = self.block(node.orelse)
            node.finalbody = self.block(node.finalbody)
            return [node]
        if isinstance(node, ast.If) and _is_guard(node.test):
            node.body = self.block(node.body) or [ast.Pass()]
            node.orelse = self.block(node.orelse)
            return [node]
        return []


_DEFINITIONS = (
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Pass,
    ast.Global,
    ast.Nonlocal,
)


def definitions_only(tree: ast.Module) -> ast.Module:
    """The module with only its definitions (see the module docstring); changes ``tree``."""
    tree.body = _Filter(import_aliases(tree)).block(tree.body)
    return ast.fix_missing_locations(tree)


def skipped_binding(tree: ast.Module, name: str) -> Optional[int]:
    """The line of a top-level statement binding ``name`` that definitions-only loading drops
    (the hint of a NameError), else None. ``tree`` is the unfiltered module."""
    keep = _Filter(import_aliases(tree))

    def binds(statement: ast.stmt) -> bool:
        return any(
            isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id == name
            for n in ast.walk(statement)
        )

    def visit(body: Sequence[ast.stmt]) -> Optional[int]:
        for statement in body:
            if isinstance(statement, _DEFINITIONS) or not binds(statement):
                continue
            if not keep.statement(copy.deepcopy(statement)):
                return statement.lineno
            if isinstance(statement, (ast.If, ast.Try)):
                nested: list[ast.stmt] = [*statement.body, *statement.orelse]
                if isinstance(statement, ast.Try):
                    for handler in statement.handlers:
                        nested.extend(handler.body)
                found = visit(nested)
                if found is not None:
                    return found
        return None

    return visit(tree.body)


def compile_definitions(source: bytes | str, filename: str) -> CodeType:
    """Compile the definitions-only form of ``source``, its top-level imports guarded (see
    :func:`guard_missing_imports`); raises SyntaxError with the real position (line numbers are
    kept from the original file)."""
    tree = guard_missing_imports(definitions_only(ast.parse(source, filename=filename)))
    return compile(tree, filename, "exec", dont_inherit=True)


MISSING_HOOK = "__paramlens_missing__"  # a builtin of the inspection child while it loads


def guard_missing_imports(tree: ast.Module) -> ast.Module:
    """``tree`` with each absolute import of its top level (outside the file's own ``try``
    blocks, which decide for themselves) made to bind :class:`Missing` stand-ins when its module
    is not installed: the rest of the file still loads, and only what needs the module fails,
    when it is built. ``import a, b`` becomes one guarded import per name. Changes ``tree``."""
    body: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            body.extend(_guarded(ast.Import(names=[alias]), node, [alias]) for alias in node.names)
        elif (
            isinstance(node, ast.ImportFrom)
            and not node.level
            and node.module != "__future__"
            and all(alias.name != "*" for alias in node.names)
        ):
            body.append(_guarded(node, node, node.names))
        else:
            body.append(node)
    tree.body = body
    return ast.fix_missing_locations(tree)


def _guarded(statement: ast.stmt, where: ast.stmt, aliases: list[ast.alias]) -> ast.stmt:
    """``try: <statement> except ModuleNotFoundError as e: <name> = Missing(e, <dotted>)``."""
    module = statement.module if isinstance(statement, ast.ImportFrom) else None
    fallbacks: list[ast.stmt] = []
    for alias in aliases:
        if module is not None:
            local, dotted = alias.asname or alias.name, f"{module}.{alias.name}"
        elif alias.asname:
            local, dotted = alias.asname, alias.name
        else:
            local = dotted = alias.name.split(".", 1)[0]  # `import a.b` binds `a`
        stand_in = ast.Call(
            ast.Name(MISSING_HOOK, ast.Load()),
            [ast.Name("__paramlens_error", ast.Load()), ast.Constant(dotted)],
            [],
        )
        fallbacks.append(ast.Assign([ast.Name(local, ast.Store())], stand_in))
    handler = ast.ExceptHandler(
        ast.Name("ModuleNotFoundError", ast.Load()), "__paramlens_error", fallbacks
    )
    guarded = ast.Try([statement], [handler], [], [])
    return ast.copy_location(guarded, where)


class Missing:
    """What a top-level import of a module that is not installed binds while a file loads
    definitions-only (``pl`` of ``import pytorch_lightning as pl``): its attributes are more
    stand-ins, calls of it at load time (decorators, defaults) give stand-ins too, and a class
    may take one as a base. Building anything that needs it fails with the import's error:
    a call once loading is over, an instance of a class based on it. Nothing is an instance or
    a subclass of it."""

    loading = False  # set while the target loads (calls then give stand-ins, not errors)
    modules: set[str] = set()  # the modules that imports found missing, in this process

    def __init__(self, error: ModuleNotFoundError, name: str) -> None:
        self._error = error
        self._name = name

    @classmethod
    def stand_in(cls, error: ModuleNotFoundError, name: str) -> Missing:
        """What a guarded import binds to ``name`` (``pytorch_lightning``) on ``error``."""
        cls.modules.add(error.name or name)
        return cls(error, name)

    def __repr__(self) -> str:
        return f"<{self._name}: not installed>"

    def __getattr__(self, attribute: str) -> Missing:
        if attribute.startswith("__") or attribute in ("_error", "_name"):
            raise AttributeError(attribute)  # copy, pickle, inspect: not a module of any kind
        return Missing(self._error, f"{self._name}.{attribute}")

    def __call__(self, *args: object, **kwargs: object) -> Missing:
        if not Missing.loading:
            raise self.failure()
        return Missing(self._error, f"{self._name}(...)")

    def __mro_entries__(self, bases: tuple[object, ...]) -> tuple[type]:
        stand_in = self

        def __init__(instance: object, *args: object, **kwargs: object) -> None:
            raise stand_in.failure()

        return (type(self._name.rsplit(".", 1)[-1], (), {"__init__": __init__}),)

    def __instancecheck__(self, instance: object) -> bool:
        return False

    def __subclasscheck__(self, subclass: type) -> bool:
        return False

    def failure(self) -> ModuleNotFoundError:
        """The error of using the stand-in: the import's own, naming what needed it."""
        missing = self._error.name or "a module"
        return ModuleNotFoundError(
            f"{self._name} needs {missing}, which this interpreter does not have ({self._error})",
            name=self._error.name,
        )


def module_name_for(path: str, roots: Sequence[str]) -> tuple[str, str]:
    """``(module name, sys.path entry)`` of the file at ``path``.

    Walks up ``__init__.py`` files so relative imports work; a file outside any package is a
    top-level module of its own folder (as ``python file.py`` would see it). Roots are used only
    when the file is a top-level module directly inside one (e.g. ``src/``)."""
    path = os.path.abspath(path)
    directory, filename = os.path.split(path)
    stem = os.path.splitext(filename)[0]
    parts = [] if stem == "__init__" else [stem]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        parent, package = os.path.split(directory)
        if not package.isidentifier() or parent == directory:
            break
        parts.insert(0, package)
        directory = parent
    if not parts:  # an __init__.py whose folder is not an identifier
        parts = [os.path.basename(os.path.dirname(path))]
    name = ".".join(parts)
    return name, directory


def is_valid_module_name(name: str) -> bool:
    """True when every dotted part is an identifier."""
    return all(part.isidentifier() for part in name.split("."))


@functools.cache
def library_prefixes() -> tuple[str, ...]:
    """Folders of the interpreter and its installed packages (never the user's code)."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    for key in ("purelib", "platlib", "stdlib", "platstdlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            prefixes.add(value)
    return tuple(os.path.join(os.path.realpath(p), "") for p in prefixes)


def is_workspace_file(
    path: str, roots: Iterable[str], library: Optional[Sequence[str]] = None
) -> bool:
    """True for a ``.py`` file under one of ``roots`` that is not an installed package (no
    ``site-packages`` / ``dist-packages`` folder, not inside the interpreter's prefix) nor this
    worker's own code."""
    if not path.endswith(".py"):
        return False
    real = os.path.realpath(path)
    if real.startswith(_OWN_FOLDER):
        return False
    parts = real.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    prefixes = library_prefixes() if library is None else library
    if any(real.startswith(prefix) for prefix in prefixes):
        return False
    return any(real.startswith(os.path.join(os.path.realpath(r), "")) for r in roots)


class DefinitionsLoader(importlib.machinery.SourceFileLoader):
    """Loads a workspace module with only its definitions; never reads or writes ``.pyc``
    (a filtered code object must never be cached as the module's bytecode)."""

    def get_code(self, fullname: str) -> CodeType:
        """The definitions-only code of the module."""
        path = self.get_filename(fullname)
        return compile_definitions(self.get_data(path), path)


class WorkspaceFinder(importlib.abc.MetaPathFinder):
    """Finds modules with the normal path finder and loads workspace files definitions-only."""

    def __init__(self, roots: Sequence[str]) -> None:
        self.roots = [os.path.realpath(r) for r in roots]
        self.library = library_prefixes()

    def find_spec(
        self,
        fullname: str,
        path: Optional[Sequence[str]],
        target: Optional[ModuleType] = None,
    ) -> Optional[importlib.machinery.ModuleSpec]:
        """The path finder's spec, with a :class:`DefinitionsLoader` for workspace files."""
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None:
            return spec
        if not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        if not is_workspace_file(spec.origin, self.roots, self.library):
            return spec
        spec.loader = DefinitionsLoader(fullname, spec.origin)
        return spec


def load_target(path: str, roots: Sequence[str], load_mode: str) -> ModuleType:
    """Import the file at ``path`` as its module (see :func:`module_name_for`), with
    definitions-only loading for it and every workspace file it imports unless ``load_mode``
    is ``"module"``. Errors propagate (SyntaxError, ImportError, whatever the code raises)."""
    path = os.path.abspath(path)
    name, entry = module_name_for(path, roots)
    search = [entry, *(r for r in roots if r != entry)]
    for folder in reversed(search):
        if folder in sys.path:
            sys.path.remove(folder)
        sys.path.insert(0, folder)
    workspace = [*roots, entry]
    if load_mode != "module":
        sys.meta_path.insert(0, WorkspaceFinder(workspace))
    setattr(builtins, MISSING_HOOK, Missing.stand_in)
    Missing.loading = True
    try:
        if not is_valid_module_name(name):
            return _load_by_path(path, name, load_mode)
        if name in sys.modules:  # a stdlib or installed module of that name is already loaded
            return _load_by_path(path, f"_paramlens_target_{name}", load_mode)
        module = importlib.import_module(name)
        origin = getattr(module, "__file__", None)
        if origin is None or os.path.realpath(origin) != os.path.realpath(path):
            return _load_by_path(path, name, load_mode)
        return module
    finally:
        Missing.loading = False


def _load_by_path(path: str, name: str, load_mode: str) -> ModuleType:
    safe = "".join(c if c.isalnum() or c == "_" else "_" for c in name.replace(".", "_"))
    safe = safe if safe.isidentifier() else f"_{safe}"
    loader: importlib.machinery.SourceFileLoader
    if load_mode == "module":
        loader = importlib.machinery.SourceFileLoader(safe, path)
    else:
        loader = DefinitionsLoader(safe, path)
    spec = importlib.util.spec_from_file_location(safe, path, loader=loader)
    if spec is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[safe] = module
    loader.exec_module(module)
    return module


def imported_workspace_files(
    roots: Sequence[str], exclude: str, before: Iterable[str] = ()
) -> list[str]:
    """Workspace files imported since ``before`` (names in ``sys.modules`` then), except
    ``exclude`` and this worker's own package: the cache keys of an inspection."""
    library = library_prefixes()
    excluded = os.path.realpath(exclude)
    already = set(before)
    files = set()
    for name, module in list(sys.modules.items()):
        if name in already:
            continue
        origin = getattr(module, "__file__", None)
        if not isinstance(origin, str) or not os.path.isabs(origin):
            continue
        real = os.path.realpath(origin)
        if real == excluded:
            continue
        if is_workspace_file(origin, roots, library):
            files.add(os.path.abspath(origin))
    return sorted(files)
