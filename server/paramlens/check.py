"""``paramlens check``: the freeze diagnostics of files and folders, as a linter.

Output is ruff-like (``path:row:col: CODE message``) or JSON (ruff's item shape, 1-based).
Exit codes: 0 clean, 1 findings (syntax errors included), 2 usage or internal error.
Folders are walked for ``*.py`` files, skipping what ``.gitignore`` files (the folder's and its
parents' up to the repository root) and the usual tool folders exclude. Runtime-aware rules ask
the worker for model reports (definitions-only loading) unless ``--no-runtime``; a worker failure
is a notice on stderr, never a crash, and the static findings are still reported.

Static findings are kept in ``.paramlens_cache/`` (:mod:`paramlens.check_cache`) unless
``--no-cache`` or ``cache = false``: a run in which every file comes from the cache never imports
the rule engine.
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
from collections.abc import Iterator, Sequence

from paramlens.analysis import syntax as ast
from paramlens.analysis.findings import PARSE_ERRORS, Finding
from paramlens.records import TYPE_CHECKING, NamedTuple
from paramlens.settings import (
    Settings,
    environment_interpreter,
    folder_and_parents,
    load_pyproject_settings,
    project_root,
)

if TYPE_CHECKING:
    from typing import Any, Optional

    from paramlens.check_cache import CheckCache
    from paramlens.cli import Arguments

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
MAX_FIX_PASSES = 10
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "__pycache__", "node_modules",
     ".mypy_cache", ".ruff_cache", ".pytest_cache", "site-packages", "__pypackages__", ".eggs",
     ".paramlens_cache"}
)  # fmt: skip
RUNTIME_HINTS = ("named_parameters", "parameters(", "named_children", "named_modules")


class IgnoreRule(NamedTuple):
    """One ``.gitignore`` line."""

    pattern: str
    negated: bool
    directory_only: bool
    anchored: bool

    def matches(self, relative: str, name: str, is_dir: bool) -> bool:
        """Does the rule match a path, given relative to the folder of its ``.gitignore``
        (``/``-separated) and by its last part?"""
        if self.directory_only and not is_dir:
            return False
        import fnmatch  # here: only a .gitignore with rules needs it (and re, and enum)

        if self.anchored:
            return fnmatch.fnmatchcase(relative, self.pattern) or _globstar(relative, self.pattern)
        return fnmatch.fnmatchcase(name, self.pattern) or fnmatch.fnmatchcase(
            relative, "*/" + self.pattern
        )


def _globstar(relative: str, pattern: str) -> bool:
    if "**" not in pattern:
        return False
    import fnmatch

    return fnmatch.fnmatchcase(relative, pattern.replace("**/", "*").replace("/**", "/*"))


class IgnoreFile:
    """The rules of one ``.gitignore``, anchored at its folder. The last rule that matches a
    path decides, as in git.

    Most lines name a file or folder (``build/``) or a suffix (``*.pyc``): such a rule can only
    match a path of that name or suffix, so those are looked up by name instead of matched one
    by one (a standard Python ``.gitignore`` has some eighty lines).
    """

    def __init__(self, folder: str, rules: Sequence[IgnoreRule]) -> None:
        self.prefix = _posix(folder).rstrip("/") + "/"
        self.rules = tuple(rules)
        self._by_name: dict[str, list[int]] = {}
        self._by_suffix: list[tuple[str, int]] = []
        self._others: list[int] = []
        for index, rule in enumerate(self.rules):
            pattern = rule.pattern
            if rule.anchored or _has_glob(pattern.removeprefix("*")):
                self._others.append(index)
            elif pattern.startswith("*"):
                self._by_suffix.append((pattern[1:], index))
            else:
                self._by_name.setdefault(pattern, []).append(index)

    def decision(self, resolved: str, is_dir: bool) -> Optional[bool]:
        """True if ``resolved`` (``/``-separated) is ignored, False if re-included (``!``),
        None if no rule speaks of it."""
        if not resolved.startswith(self.prefix):
            return None
        relative = resolved[len(self.prefix) :]
        name = relative.rpartition("/")[2]
        candidates = [*self._by_name.get(name, ()), *self._others]
        candidates += [index for suffix, index in self._by_suffix if name.endswith(suffix)]
        for index in sorted(candidates, reverse=True):
            rule = self.rules[index]
            if rule.matches(relative, name, is_dir):
                return not rule.negated
        return None


def _has_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def parse_gitignore(path: str) -> Optional[IgnoreFile]:
    """The rules of one ``.gitignore`` (comments, blanks and escapes handled; no errors); None
    when there is no such file."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated:
            line = line[1:]
        line = line.removeprefix("\\")
        directory_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        line = line.lstrip("/")
        if line:
            rules.append(IgnoreRule(line, negated, directory_only, anchored))
    return IgnoreFile(os.path.realpath(os.path.dirname(path)), rules)


def _repository_rules(folder: str) -> list[IgnoreFile]:
    """``.gitignore`` files of the folders above the resolved ``folder``, up to the repository
    root."""
    chain = []
    for parent in itertools.islice(folder_and_parents(folder), 1, None):
        chain.append(parent)
        if os.path.exists(os.path.join(parent, ".git")):
            break
    else:
        return []
    parsed = (parse_gitignore(os.path.join(parent, ".gitignore")) for parent in reversed(chain))
    return [rules for rules in parsed if rules is not None]


def _ignored(resolved: str, is_dir: bool, ignore_files: Sequence[IgnoreFile]) -> bool:
    text = _posix(resolved)
    for ignore_file in reversed(ignore_files):  # the deepest file speaks last, so it decides
        decision = ignore_file.decision(text, is_dir)
        if decision is not None:
            return decision
    return False


def discover(paths: Sequence[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """The Python files to check, each as given or found (written as :func:`shown_path`
    writes it) and resolved, and one problem per path that does not exist."""
    files: list[tuple[str, str]] = []
    problems: list[str] = []
    for given in paths:
        path = shown_path(given)
        if os.path.isfile(path):
            files.append((path, os.path.realpath(path)))
        elif os.path.isdir(path):
            resolved = os.path.realpath(path)
            files.extend(_walk(path, resolved, _repository_rules(resolved)))
        else:
            problems.append(f"{given}: no such file or directory")
    seen: set[str] = set()
    unique = []
    for path, resolved in files:
        if resolved not in seen:
            seen.add(resolved)
            unique.append((path, resolved))
    return unique, problems


def shown_path(given: str) -> str:
    """A path as findings name it: as given, written as ``pathlib`` writes paths (``./a//b/``
    is ``a/b``; ``..`` stays). Not ``pathlib`` itself: it imports ``urllib`` and ``ipaddress``,
    some 16 million instructions of every run."""
    if os.sep != "/":  # Windows: drives and both separators, as normpath knows them
        return os.path.normpath(given)
    root = "/" if given.startswith("/") else ""
    if given.startswith("//") and not given.startswith("///"):
        root = "//"  # POSIX leaves the meaning of exactly two slashes open; pathlib keeps them
    return root + "/".join(part for part in given.split("/") if part and part != ".") or "."


def _child(folder: str, name: str) -> str:
    """``folder / name`` as ``pathlib`` writes it."""
    return name if folder == "." else os.path.join(folder, name)


def _posix(path: str) -> str:
    return path if os.sep == "/" else path.replace(os.sep, "/")


def _walk(folder: str, resolved: str, inherited: list[IgnoreFile]) -> Iterator[tuple[str, str]]:
    own = parse_gitignore(os.path.join(resolved, ".gitignore"))
    ignore_files = inherited if own is None else [*inherited, own]
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = _child(folder, entry.name)
        # The folder was resolved once; only a link needs resolving again.
        target = (
            os.path.realpath(path) if entry.is_symlink() else os.path.join(resolved, entry.name)
        )
        if entry.is_dir(follow_symlinks=False):
            if entry.name in SKIPPED_DIRS or entry.name.endswith(".egg-info"):
                continue
            if not _ignored(target, True, ignore_files):
                yield from _walk(path, target, ignore_files)
        elif (
            entry.name.endswith(".py")
            and entry.is_file()
            and not _ignored(target, False, ignore_files)
        ):
            yield path, target


class FileResult:
    """One checked file."""

    __slots__ = ("findings", "fixed", "notices", "path")

    def __init__(
        self,
        path: str,
        findings: list[Finding],  # the syntax error first
        notices: Optional[list[str]] = None,
        fixed: int = 0,
    ) -> None:
        self.path = path
        self.findings = findings
        self.notices: list[str] = [] if notices is None else notices
        self.fixed = fixed


def decode_source(path: str, data: bytes) -> tuple[str, str, Optional[str]]:
    """The text of a file's bytes, the encoding they are in (the declared one; ``utf-8-sig``
    for a byte-order mark, which it writes back), and a notice when they are not valid in it."""
    encoding = "utf-8"
    # PEP 263: without a byte-order mark or "coding" in the first two lines, it is UTF-8; the
    # rest ask tokenize (~0.6 ms to import), which reads those lines as this does.
    second = data.find(b"\n", data.find(b"\n") + 1)
    if data.startswith(b"\xef\xbb\xbf") or b"coding" in data[: second if second >= 0 else None]:
        import tokenize
        from io import BytesIO

        try:
            encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
        except SyntaxError:
            encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return (
            data.decode("utf-8", errors="replace"),
            encoding,
            f"{path}: not valid {encoding}; undecodable bytes were replaced and --fix skips it",
        )
    return text.removeprefix("\ufeff"), encoding, None


class Runtime:
    """Model reports from the worker, for the runtime-aware rules; turns itself off after an
    environment failure (no torch, the interpreter does not start)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.session: Any = None
        self.disabled: Optional[str] = None

    def reports(self, path: str, source: str) -> tuple[Optional[list[Any]], Optional[str]]:
        """The reports of ``path``, or None and a notice."""
        if self.disabled is not None or not any(h in source for h in RUNTIME_HINTS):
            return None, None
        try:
            from pathlib import Path

            from paramlens.worker_client import WorkerError, WorkerSession, missing_modules_notice
        except ImportError as error:
            self.disabled = f"runtime rules unavailable: {error}"
            return None, self.disabled
        if self.session is None:
            self.session = WorkerSession(self.settings)
        try:
            result = self.session.inspect(Path(path))
        except WorkerError as error:
            kind = getattr(error, "kind", "")
            if kind in ("no_torch", "start_failed"):
                self.disabled = f"runtime rules off for this run: {error}"
                return None, self.disabled
            return None, f"{path}: runtime rules skipped: {error}"
        missing = missing_modules_notice(result)
        return list(result.get("reports") or []), missing and f"{path}: runtime rules: {missing}"

    def close(self) -> None:
        """Stop the worker."""
        if self.session is not None:
            self.session.close()


def _settings(args: Arguments, first: str) -> tuple[Settings, list[str], Optional[str]]:
    settings, problems, pyproject = load_pyproject_settings(first)
    changes: dict[str, Any] = {}
    if getattr(args, "interpreter", None):
        changes["interpreter"] = (args.interpreter,)
    elif not settings.interpreter and environment_interpreter():
        changes["interpreter"] = environment_interpreter()
    if args.select:  # replaces the configured selection, ignore list included
        changes["select"] = tuple(c.upper() for c in args.select)
        changes["ignore"] = tuple(c.upper() for c in args.ignore or ())
    elif args.ignore:
        changes["ignore"] = (*settings.ignore, *(c.upper() for c in args.ignore))
    return settings._replace(**changes), problems, pyproject


class Checker:
    """What the files of one run share: the settings, the worker, the results cache, the
    project root of each folder (looked up once per folder), and which files exist (a run
    asks once for each place a workspace import may come from)."""

    __slots__ = ("cache", "fix", "isfile", "roots", "runtime", "settings")

    def __init__(
        self,
        settings: Settings,
        fix: bool = False,
        runtime: Optional[Runtime] = None,
        cache: Optional[CheckCache] = None,
        roots: Optional[dict[str, str]] = None,
    ) -> None:
        self.settings = settings
        self.fix = fix
        self.runtime = runtime
        self.cache = cache
        self.roots: dict[str, str] = {} if roots is None else roots
        self.isfile = functools.cache(os.path.isfile)

    def project_root(self, folder: str) -> str:
        """:func:`~paramlens.settings.project_root` of a resolved folder."""
        if folder not in self.roots:
            self.roots[folder] = project_root(folder)
        return self.roots[folder]

    def check(self, path: str, resolved: str) -> FileResult:
        """Check (and with ``fix``, rewrite) one file, shown as ``path``."""
        with open(path, "rb") as handle:
            data = handle.read()
        source, encoding, notice = decode_source(path, data)
        notices = [notice] if notice else []
        reports = None
        if self.runtime is not None:
            reports, runtime_notice = self.runtime.reports(path, source)
            if runtime_notice and runtime_notice not in notices:
                notices.append(runtime_notice)
        root = self.project_root(os.path.dirname(resolved))
        entry = None
        if self.cache is not None and reports is None:  # findings from reports are not kept
            entry = self.cache.entry(path, resolved, root, self.settings, data)
            cached = entry.load()
            # --fix looks again at a file it may rewrite
            if cached is not None and not (self.fix and any(f.fix is not None for f in cached)):
                return FileResult(path, cached, notices)
        # Imported here: a run in which every file comes from the cache never loads the engine.
        from paramlens.analysis import rules
        from paramlens.analysis.rules.workspace import workspace_imports

        tree = _parse(source, resolved)
        imports = workspace_imports(
            resolved, source, root, real=True, isfile=self.isfile, tree=tree
        )

        def run(text: str, tree: Optional[ast.Module] = None) -> rules.CheckResult:
            return rules.check_source(
                text,
                tree=tree,
                path=resolved,
                reports=reports,
                select=self.settings.select,
                ignore=self.settings.ignore,
                module_classes=imports.classes,
            )

        result = run(source, tree)
        _keep_until_exit(tree, len(data))
        before = len(result.findings)
        text = source
        if self.fix and notice is None and result.syntax_error is None:
            for _ in range(MAX_FIX_PASSES):
                new = rules.fix_all(text, result.findings)
                if new == text:
                    break
                text = new
                result = run(text)
            if text != source:
                with open(path, "wb") as output:  # as it was: a latin-1 file stays one
                    output.write(text.encode(encoding))
        findings = [result.syntax_error] if result.syntax_error else []
        findings.extend(result.findings)
        if entry is not None and text == source:
            entry.store(imports.files, findings)
        return FileResult(path, findings, notices, max(before - len(result.findings), 0))


# The trees of the last files checked, up to this much of their source: the paramlens command
# ends without freeing anything, and freeing a tree costs about a tenth of its parse (a tree
# takes about 50 bytes of memory per byte of source).
KEPT_SOURCE_BYTES = 1 << 20
_kept_trees: list[Optional[ast.Module]] = []
_kept_bytes = [0]


def _keep_until_exit(tree: Optional[ast.Module], size: int) -> None:
    if _kept_bytes[0] + size > KEPT_SOURCE_BYTES:
        _kept_trees.clear()  # freed now, as each would have been
        _kept_bytes[0] = 0
    _kept_trees.append(tree)
    _kept_bytes[0] += size


def _parse(source: str, path: str) -> Optional[ast.Module]:
    """The tree of ``source``; None when it does not parse (the engine reports why)."""
    try:
        return ast.parse(source, filename=path)
    except PARSE_ERRORS:
        return None


def finding_json(path: str, finding: Finding) -> dict[str, Any]:
    """One finding in ruff's JSON shape (1-based rows and columns)."""
    span = finding.span

    def location(row: int, col: int) -> dict[str, int]:
        return {"row": row + 1, "column": col + 1}

    fix = None
    if finding.fix is not None:
        fix = {
            "applicability": "safe",
            "message": finding.fix.title,
            "edits": [
                {
                    "content": edit.new_text,
                    "location": location(edit.span.start_line, edit.span.start_col),
                    "end_location": location(edit.span.end_line, edit.span.end_col),
                }
                for edit in finding.fix.edits
            ],
        }
    return {
        "code": finding.code,
        "message": finding.message,
        "severity": finding.severity.value,
        "filename": path,
        "location": location(span.start_line, span.start_col),
        "end_location": location(span.end_line, span.end_col),
        "fix": fix,
        "url": finding.url,
    }


def finding_text(path: str, finding: Finding) -> str:
    """``path:row:col: CODE [*] message`` (``[*]``: fixable with --fix)."""
    span = finding.span
    mark = "[*] " if finding.fix is not None else ""
    return (
        f"{path}:{span.start_line + 1}:{span.start_col + 1}: {finding.code} {mark}{finding.message}"
    )


def run_check(args: Arguments) -> int:
    """Run ``paramlens check``; returns the exit code. The caller (:mod:`paramlens.cli`) keeps
    the cyclic collector off for all of it."""
    files, problems = discover(args.paths)
    for problem in problems:
        print(f"paramlens: {problem}", file=sys.stderr)
    if problems:
        return EXIT_USAGE
    if not files:
        print("paramlens: no Python files to check", file=sys.stderr)
        return EXIT_OK
    settings, setting_problems, pyproject = _settings(args, files[0][1])
    for problem in setting_problems:
        print(f"paramlens: {problem}", file=sys.stderr)
    runtime = None if args.no_runtime or settings.untrusted else Runtime(settings)
    cache = None
    if settings.cache and not args.no_cache:
        from paramlens.check_cache import CheckCache

        cache = CheckCache.open(pyproject)
    checker = Checker(settings, args.fix, runtime, cache)
    results, internal_error = _check_files(checker, files)
    for result in results:
        for notice in result.notices:
            print(f"paramlens: {notice}", file=sys.stderr)
    code = _report(results, args.format, args.fix)
    return EXIT_USAGE if internal_error else code


def _check_files(
    checker: Checker, files: Sequence[tuple[str, str]]
) -> tuple[list[FileResult], bool]:
    """Each file's result, and whether a bug of ours stopped any (reported on stderr)."""
    results: list[FileResult] = []
    internal_error = False
    try:
        for path, resolved in files:
            try:
                results.append(checker.check(path, resolved))
            except OSError as error:
                print(f"paramlens: {path}: cannot read or write: {error}", file=sys.stderr)
            except Exception as error:  # a bug of ours: report it, check the other files
                internal_error = True
                print(f"paramlens: internal error on {path}: {error!r}", file=sys.stderr)
    finally:
        if checker.runtime is not None:
            checker.runtime.close()
    return results, internal_error


def _report(results: Sequence[FileResult], output: str, fixing: bool) -> int:
    findings = [(r.path, f) for r in results for f in r.findings]
    fixed = sum(r.fixed for r in results)
    if output == "json":
        import json  # here: a text report never needs it

        lines = [json.dumps([finding_json(p, f) for p, f in findings], indent=2)]
    else:
        lines = [finding_text(path, finding) for path, finding in findings]
        fixable = sum(1 for _, f in findings if f.fix is not None)
        if findings or fixed:
            found = len(findings) + fixed  # as ruff: what was found, then what is left
            noun = "finding" if found == 1 else "findings"
            line = f"Found {found} {noun}"
            if fixing:
                line += f" ({fixed} fixed, {len(findings)} remaining)"
            elif fixable:
                line += f" ({fixable} fixable with --fix)"
            lines.append(line + ".")
        else:
            lines.append("All checks passed!")
    # One write: under PYTHONUNBUFFERED (common in CI) each print is a system call.
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_FINDINGS if findings else EXIT_OK
