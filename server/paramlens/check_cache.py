"""The results cache of ``paramlens check``, kept in ``.paramlens_cache/`` as ruff keeps
``.ruff_cache/``: the static findings of each file, so that a run over unchanged files neither
parses them nor imports the rule engine.

What a result depends on, and where each part of that goes:

* the paramlens version, the Python version (``ast`` changes) and a hash of the analysis
  sources (an edited rule must never serve old results): the name of the folder of entries;
* the file's path as resolved and as shown, its project root, ``select`` and ``ignore``: the
  name of its entry (one per file and settings, rewritten when the file changes);
* the hash of the file's bytes, and the hash of every workspace file its imported Module
  classes come from, taken when it was read (and None for each place looked for and missing):
  held in the entry and compared on every read. The classes are a function of those files.

Entries are JSON, written to a temporary file and renamed into place, so concurrent runs never
see half an entry; one that cannot be read or decoded is a miss. Findings computed with model
reports (the runtime rules) are never stored here.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable

from paramlens import __version__
from paramlens.analysis.findings import Finding, Fix, Severity, Span, TextEdit
from paramlens.cache import content_hash, file_hash, unchanged
from paramlens.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Any, Optional

    from _typeshed import StrPath

    from paramlens.cache import FileHashes
    from paramlens.settings import Settings

CACHE_DIR = ".paramlens_cache"
ENTRY_FORMAT = 1  # change it when the layout of an entry changes
ANALYSIS = os.path.join(os.path.dirname(os.path.realpath(__file__)), "analysis")
GITIGNORE = "# Automatically created by paramlens.\n*\n"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by paramlens.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


def engine_hash(folder: str = ANALYSIS) -> str:
    """A hash of every source file of the analysis (the rules and what they build on)."""
    sources = sorted(
        (os.path.relpath(os.path.join(parent, name), folder).split(os.sep), parent, name)
        for parent, _, names in os.walk(folder)
        for name in names
        if name.endswith(".py")
    )
    if not sources:
        raise FileNotFoundError(f"no analysis sources in {folder}")
    hashes = []
    for parts, parent, name in sources:
        with open(os.path.join(parent, name), "rb") as handle:
            hashes.append(f"{'/'.join(parts)}\0{content_hash(handle.read())}")
    return content_hash("\n".join(hashes))


class CheckCache:
    """The entries of one project and engine (``.paramlens_cache/<version>/<identity>/``)."""

    def __init__(self, project: StrPath, engine: str) -> None:
        self.root = os.path.join(project, CACHE_DIR)
        identity = content_hash(f"{ENTRY_FORMAT}\0{sys.version}\0{engine}")[:16]
        self.directory = os.path.join(self.root, __version__, identity)
        self._hashes: dict[str, Optional[str]] = {}  # the workspace files of this run, hashed once
        self._created = False

    @classmethod
    def open(cls, pyproject: Optional[StrPath]) -> Optional[CheckCache]:
        """The cache next to ``pyproject`` (the project's pyproject.toml), else in the current
        folder; None when that folder is gone or the analysis sources cannot be read (then no
        result could be told fresh from stale)."""
        try:
            return cls(os.path.dirname(pyproject) if pyproject else os.getcwd(), engine_hash())
        except OSError:
            return None

    def entry(
        self, shown: StrPath, resolved: StrPath, root: StrPath, settings: Settings, data: bytes
    ) -> CacheEntry:
        """The entry of a file, as shown and as resolved, with these bytes, in the project
        ``root`` (where its workspace imports are looked for), under ``settings``."""
        key = [str(shown), str(resolved), str(root), list(settings.select), list(settings.ignore)]
        name = content_hash(json.dumps(key))[:32]
        entry = os.path.join(self.directory, f"{name}.json")
        return CacheEntry(self, key, content_hash(data), entry)

    def file_hash(self, name: str) -> Optional[str]:
        """:func:`~paramlens.cache.file_hash`, once per file and run."""
        if name not in self._hashes:
            self._hashes[name] = file_hash(name)
        return self._hashes[name]

    def create(self) -> None:
        """The folder of entries, and, at the cache's root, a ``.gitignore`` that ignores it
        all and a ``CACHEDIR.TAG`` for backup tools."""
        if self._created:
            return
        os.makedirs(self.directory, exist_ok=True)
        for name, text in ((".gitignore", GITIGNORE), ("CACHEDIR.TAG", CACHEDIR_TAG)):
            with (
                contextlib.suppress(FileExistsError),
                open(os.path.join(self.root, name), "x", encoding="utf-8") as handle,
            ):
                handle.write(text)
        self._created = True


class CacheEntry(NamedTuple):
    """Where the findings of one file (under one key) are kept, for the bytes it has now."""

    cache: CheckCache
    key: list[Any]
    source_hash: str
    path: str

    def load(self) -> Optional[list[Finding]]:
        """The stored findings, if they were computed from these bytes and the workspace files
        are as they were; None otherwise, also for an entry that cannot be read."""
        try:
            with open(self.path, "rb") as handle:
                entry = json.loads(handle.read())
            if entry["key"] != self.key or entry["source"] != self.source_hash:
                return None
            files = [(_text(name), _optional_text(digest)) for name, digest in entry["files"]]
            if not unchanged(files, self.cache.file_hash):
                return None
            return [_finding(item) for item in entry["findings"]]
        except (OSError, ValueError, KeyError, TypeError, IndexError, RecursionError):
            return None

    def store(self, files: FileHashes, findings: Iterable[Finding]) -> None:
        """Keep ``findings`` with the workspace files they depend on, as hashed when read. A
        cache that cannot be written (a read-only checkout) is passed over without a word."""
        entry = {
            "key": self.key,
            "source": self.source_hash,
            "files": [list(item) for item in files],
            "findings": [_finding_data(f) for f in findings],
        }
        temporary = f"{self.path}.{os.getpid()}.{os.urandom(4).hex()}"
        try:
            self.cache.create()
            with open(temporary, "xb") as handle:
                handle.write(json.dumps(entry, separators=(",", ":")).encode("utf-8"))
            os.replace(temporary, self.path)  # readers see the old entry or the new, never half
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _finding_data(finding: Finding) -> list[Any]:
    fix = None
    if finding.fix is not None:
        fix = [finding.fix.title, [[_span_data(e.span), e.new_text] for e in finding.fix.edits]]
    return [
        finding.code,
        finding.message,
        finding.severity.value,
        _span_data(finding.span),
        fix,
        [[_span_data(span), text] for span, text in finding.related],
    ]


def _span_data(span: Span) -> list[int]:
    return [span.start_line, span.start_col, span.end_line, span.end_col]


def _finding(data: Any) -> Finding:
    """The finding of :func:`_finding_data`; TypeError or ValueError on anything else."""
    code, message, severity, span, fix, related = data
    if fix is not None:
        title, edits = fix
        fix = Fix(_text(title), tuple(TextEdit(_span(s), _text(text)) for s, text in edits))
    return Finding(
        _text(code),
        _text(message),
        Severity(severity),
        _span(span),
        fix,
        tuple((_span(s), _text(text)) for s, text in related),
    )


def _span(data: Any) -> Span:
    if not isinstance(data, list) or len(data) != 4 or not all(type(v) is int for v in data):
        raise TypeError(f"not a span: {data!r}")
    return Span(*data)


def _text(data: Any) -> str:
    if not isinstance(data, str):
        raise TypeError(f"not a string: {data!r}")
    return data


def _optional_text(data: Any) -> Optional[str]:
    return None if data is None else _text(data)
