"""Module classes a file imports from other files of its workspace (``from models import Net``,
``from _common import *``), found by parsing those files — never importing them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import PARSE_ERRORS
from paramlens.analysis.rules.facts import module_names_defined
from paramlens.cache import content_hash
from paramlens.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Optional

    from paramlens.cache import FileHashes

_MAX_DEPTH = 4
# Top-level `from X import ...` statements, parenthesized lists included.
_FROM_IMPORT = r"^from[ \t]+[\w.]+[ \t]+import[ \t]+(?:\([^)]*\)|[^\n]*)"


class WorkspaceImports(NamedTuple):
    """What a file imports from its workspace, and every path that answer depends on."""

    classes: frozenset[str]  # nn.Module subclasses and model factories
    # Each workspace file read, with the hash of the bytes read (taken then, so that an edit
    # during the run cannot pass for them), and each candidate looked for and missing (None).
    files: FileHashes


_cache: dict[tuple[str, int, int], WorkspaceImports] = {}


def _resolve(
    module: str,
    level: int,
    here: str,
    root: str,
    consulted: dict[str, Optional[str]],
    isfile: Callable[[str], bool],
) -> Optional[str]:
    """The workspace file of an import, or None (installed packages are not followed). Every
    candidate looked for and missing goes into ``consulted``: a file created there later
    changes the answer."""
    parts = module.split(".") if module else []
    if not parts:
        return None
    if level:
        base = os.path.dirname(here)
        for _ in range(level - 1):
            base = os.path.dirname(base)
        bases = [base]
    else:
        bases = [os.path.dirname(here), root, os.path.join(root, "src")]
    for base in bases:
        candidate = os.path.join(base, *parts)
        for path in (candidate + ".py", os.path.join(candidate, "__init__.py")):
            if isfile(path):
                return path
            consulted[path] = None
    return None


def _defined(
    path: str, root: str, depth: int, seen: set[str], isfile: Callable[[str], bool]
) -> WorkspaceImports:
    try:
        stat = os.stat(path)
    except OSError:
        return WorkspaceImports(frozenset(), ((path, None),))
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key in _cache:
        return _cache[key]
    if path in seen or depth > _MAX_DEPTH:  # nothing in it can change the answer
        return WorkspaceImports(frozenset(), ())
    seen.add(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return WorkspaceImports(frozenset(), ((path, None),))
    try:
        tree = ast.parse(data, filename=path)
    except PARSE_ERRORS:
        return WorkspaceImports(frozenset(), ((path, content_hash(data)),))
    imported = _imported(tree, path, root, depth, seen, isfile)
    names = frozenset(module_names_defined(tree, imported.classes) | imported.classes)
    files = dict(imported.files)
    files[path] = content_hash(data)
    found = WorkspaceImports(names, tuple(sorted(files.items())))
    _cache[key] = found
    return found


def _imported(
    tree: ast.Module,
    path: str,
    root: str,
    depth: int,
    seen: set[str],
    isfile: Callable[[str], bool],
) -> WorkspaceImports:
    names: set[str] = set()
    consulted: dict[str, Optional[str]] = {}
    # Each module once: a script often imports from the same module in several statements.
    resolved: dict[tuple[str, int], Optional[WorkspaceImports]] = {}
    for node in tree.body:
        if type(node) is not ast.ImportFrom:
            continue
        module = (node.module or "", node.level)
        if module in resolved:
            defined = resolved[module]
        else:
            target = _resolve(module[0], module[1], path, root, consulted, isfile)
            defined = None if target is None else _defined(target, root, depth + 1, seen, isfile)
            if defined is not None:
                consulted.update(defined.files)
            resolved[module] = defined
        if defined is None:
            continue
        for alias in node.names:
            if alias.name == "*":
                names |= {n for n in defined.classes if not n.startswith("_")}
            elif alias.name in defined.classes:
                names.add(alias.asname or alias.name)
    return WorkspaceImports(frozenset(names), tuple(sorted(consulted.items())))


def import_lines(source: str) -> tuple[str, ...]:
    """The statements that can change what a file imports from the workspace: top-level
    ``from X import ...`` (parenthesised lists included)."""
    import re  # here: the CLI reads the imports off the file's tree

    pattern = re.compile(_FROM_IMPORT, re.MULTILINE)
    found: list[str] = []
    end = 0
    for start in _lines_starting(source, "from"):
        match = pattern.match(source, start) if start >= end else None
        if match is not None:
            found.append(match.group())
            end = match.end()
    return tuple(found)


def _lines_starting(source: str, word: str) -> Iterator[int]:
    """Where the lines that start with ``word`` start. (Searching with a pattern anchored at
    line starts would try it at every position of the text: four times slower.)"""
    if source.startswith(word):
        yield 0
    at = source.find("\n" + word)
    while at != -1:
        yield at + 1
        at = source.find("\n" + word, at + 1)


def workspace_imports(
    path: str,
    source: str,
    root: Optional[str] = None,
    *,
    real: bool = False,
    isfile: Callable[[str], bool] = os.path.isfile,
    tree: Optional[ast.Module] = None,
) -> WorkspaceImports:
    """The names that the file at ``path`` imports from workspace files and that are nn.Module
    subclasses or model factories there, with the paths they depend on. ``root`` defaults to the
    file's folder. ``real``: ``path`` and ``root`` are real paths already (links resolved).
    ``isfile`` tells whether a candidate file exists (one run of the CLI asks each once).
    ``tree``, the file's own when the caller has it, is read instead of parsing the imports."""
    here = path if real else os.path.realpath(path)
    if root is None:
        root = os.path.dirname(here)
    base = root if real else os.path.realpath(root)
    if tree is None:
        imports = "\n".join(import_lines(source))  # parse only the import statements
        try:
            tree = ast.parse(imports, filename=here)
        except PARSE_ERRORS:
            try:
                tree = ast.parse(source, filename=here)
            except PARSE_ERRORS:
                return WorkspaceImports(frozenset(), ())
    return _imported(tree, here, base, 0, {here}, isfile)


def workspace_module_classes(path: str, source: str, root: Optional[str] = None) -> frozenset[str]:
    """Names that the file at ``path`` imports from workspace files and that are nn.Module
    subclasses or model factories there. ``root`` defaults to the file's folder."""
    return workspace_imports(path, source, root).classes
