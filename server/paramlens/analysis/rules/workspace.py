"""Module classes a file imports from other files of its workspace (``from models import Net``,
``from _common import *``), found by parsing those files — never importing them."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import Optional

from paramlens.analysis.rules.facts import module_names_defined

_MAX_DEPTH = 4
# Top-level `from X import ...` statements, parenthesized lists included.
_FROM_IMPORT = re.compile(r"^from[ \t]+[\w.]+[ \t]+import[ \t]+(?:\([^)]*\)|[^\n]*)", re.MULTILINE)
_cache: dict[tuple[str, int, int], frozenset[str]] = {}


def _resolve(module: str, level: int, here: Path, root: Path) -> Optional[Path]:
    """The workspace file of an import, or None (installed packages are not followed)."""
    parts = module.split(".") if module else []
    if level:
        base = here.parent
        for _ in range(level - 1):
            base = base.parent
        bases = [base]
    else:
        bases = [here.parent, root, root / "src"]
    for base in bases:
        candidate = base.joinpath(*parts)
        for path in (candidate.with_suffix(".py"), candidate / "__init__.py"):
            if parts and path.is_file():
                return path
    return None


def _defined(path: Path, root: Path, depth: int, seen: set[Path]) -> frozenset[str]:
    try:
        stat = path.stat()
    except OSError:
        return frozenset()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key in _cache:
        return _cache[key]
    if path in seen or depth > _MAX_DEPTH:
        return frozenset()
    seen.add(path)
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    imported = _imported(tree, path, root, depth, seen)
    names = frozenset(module_names_defined(tree, imported) | imported)
    _cache[key] = names
    return names


def _imported(tree: ast.Module, path: Path, root: Path, depth: int, seen: set[Path]) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        target = _resolve(node.module or "", node.level, path, root)
        if target is None:
            continue
        defined = _defined(target, root, depth + 1, seen)
        for alias in node.names:
            if alias.name == "*":
                names |= {n for n in defined if not n.startswith("_")}
            elif alias.name in defined:
                names.add(alias.asname or alias.name)
    return names


def workspace_module_classes(path: str, source: str, root: Optional[str] = None) -> frozenset[str]:
    """Names that the file at ``path`` imports from workspace files and that are nn.Module
    subclasses or model factories there. ``root`` defaults to the file's folder."""
    here = Path(path).resolve()
    base = Path(root).resolve() if root else here.parent
    imports = "\n".join(_FROM_IMPORT.findall(source))  # parse only the import statements
    try:
        tree = ast.parse(imports, filename=os.fspath(here))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        try:
            tree = ast.parse(source, filename=os.fspath(here))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return frozenset()
    return frozenset(_imported(tree, here, base, 0, {here}))
