"""Inspection results cached by interpreter, file, and the content of the file and of every
workspace file it imported — an edit to ``layers.py`` invalidates the report of ``model.py``."""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Hashable, Iterable, Sequence

from paramlens.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Optional, Union

    from _typeshed import StrPath

    from paramlens_worker.protocol import InspectResult

    FileHashes = tuple[tuple[str, Optional[str]], ...]

DEFAULT_MAX_ENTRIES = 256


def content_hash(data: Union[str, bytes]) -> str:
    """sha256 of text (as UTF-8) or bytes."""
    import hashlib  # here: a check run without the cache may never hash (2-3 ms to import)

    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def file_hash(path: StrPath) -> Optional[str]:
    """sha256 of a file on disk; None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return content_hash(handle.read())
    except OSError:
        return None


def file_hashes(paths: Iterable[StrPath]) -> FileHashes:
    """Each file with the hash of its content now (None: missing or unreadable), for
    :func:`unchanged` to tell later whether any of them changed."""
    return tuple((str(path), file_hash(path)) for path in paths)


def unchanged(
    hashes: Iterable[tuple[str, Optional[str]]],
    hash_of: Callable[[str], Optional[str]] = file_hash,
) -> bool:
    """Does every file still hash as it did (and every missing one still miss)?"""
    return all(hash_of(name) == digest for name, digest in hashes)


class _Entry(NamedTuple):
    source_hash: str
    imports: FileHashes
    result: InspectResult


class ReportCache:
    """Least-recently-used cache of :class:`InspectResult` (not thread-safe)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: collections.OrderedDict[tuple[Hashable, ...], _Entry] = (
            collections.OrderedDict()
        )

    @staticmethod
    def _key(interpreter: Sequence[str], path: StrPath, variant: Hashable) -> tuple[Hashable, ...]:
        return (tuple(interpreter), os.path.realpath(path), variant)

    def get(
        self,
        interpreter: Sequence[str],
        path: StrPath,
        source_text: Union[str, bytes],
        *,
        variant: Hashable = None,
    ) -> Optional[InspectResult]:
        """The cached result, or None when absent or when the file or any workspace file it
        imported changed since. ``variant`` separates settings that change reports (device,
        load mode, models)."""
        key = self._key(interpreter, path, variant)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.source_hash != content_hash(source_text) or not unchanged(entry.imports):
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.result

    def put(
        self,
        interpreter: Sequence[str],
        path: StrPath,
        source_text: Union[str, bytes],
        result: InspectResult,
        *,
        variant: Hashable = None,
    ) -> None:
        """Remember ``result`` for this exact content of the file and of its imports."""
        key = self._key(interpreter, path, variant)
        imports = file_hashes(result.get("imported_files", []))
        self._entries[key] = _Entry(content_hash(source_text), imports, result)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, path: Optional[StrPath] = None) -> None:
        """Forget everything, or every entry of ``path`` or importing ``path``."""
        if path is None:
            self._entries.clear()
            return
        resolved = os.path.realpath(path)
        for key in list(self._entries):
            entry = self._entries[key]
            imported = {os.path.realpath(name) for name, _ in entry.imports}
            if key[1] == resolved or resolved in imported:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
