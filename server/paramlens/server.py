"""The paramlens language server (pygls 2).

:func:`create_server` builds a :class:`ParamlensLanguageServer` with every feature module
registered; :func:`serve` runs it on stdio (or TCP, for debugging). All state lives on the server
object. The server never imports torch: models are built by a worker in the user's interpreter
(:mod:`paramlens.workers`), and the features render its reports.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import gc
import itertools
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar, Union, cast

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from paramlens import __version__
from paramlens.analysis.incremental import IncrementalParser
from paramlens.analysis.rules import IncrementalRules
from paramlens.analysis.source_map import (
    ReportNames,
    SourceMap,
    Superseded,
    build_source_map,
    report_names,
)
from paramlens.log import ClientLogHandler, get_logger, setup_logging
from paramlens.positions import normalize_encoding
from paramlens.settings import (
    Settings,
    environment_interpreter,
    load_pyproject_settings,
    merge_settings,
    project_root,
)
from paramlens.workers import (
    ENVIRONMENT_KINDS,
    EnvironmentMessages,
    InspectionScheduler,
    WorkerFactory,
    WorkerManager,
    default_factory,
    error_kind,
)
from paramlens_worker.protocol import ModelReport

logger = get_logger("server")

SERVER_NAME = "paramlens"
CHANGE_DEBOUNCE_SECONDS = 0.6
CONFIGURATION_TIMEOUT_SECONDS = 3.0
START_KINDS = ("no_torch", "start_failed")  # the worker cannot run in this interpreter at all


_SERIALS = itertools.count(1)
# How long a source map waits for the static rules at most, at one checkpoint: a user typing
# without a pause must still get lenses and hovers.
_MAX_YIELD_MS = 1000
T = TypeVar("T")


@dataclass
class Inspection:
    """What the worker said about one document (a landed, current result)."""

    version: Optional[int]
    reports: list[ModelReport]
    error: Optional[dict[str, Any]] = None  # ErrorInfo when the file failed to import
    error_kind: Optional[str] = None
    output: str = ""
    duration_ms: float = 0.0
    device: Optional[str] = None
    result: Optional[Mapping[str, Any]] = None  # the worker's answer (the cache hands it back)
    serial: int = field(default_factory=lambda: next(_SERIALS))


@dataclass
class DocumentState:
    """One open document: its text, the last parse that succeeded, and the last inspection."""

    uri: str
    path: Optional[Path]
    version: Optional[int] = None
    source: str = ""
    inspection: Optional[Inspection] = None
    inspecting: bool = False
    # Why the last inspection gave no report and none is coming (no torch in the interpreter,
    # a worker that cannot start, a crash): what lenses and hovers say instead of numbers.
    unavailable: Optional[str] = None
    analysis_cache: dict[Any, Any] = field(default_factory=dict)
    # The findings only the last report gave, with the text and rules they were computed for;
    # the workspace classes with the import lines (and save count) they were computed from.
    last_results: dict[str, tuple[Any, tuple[Any, ...]]] = field(default_factory=dict)
    parser: IncrementalParser = field(default_factory=IncrementalParser)  # its trees are kept
    rules: IncrementalRules = field(default_factory=IncrementalRules)  # the static rules' own
    _tree: Optional[ast.Module] = None  # last good parse (kept through syntax errors)
    _tree_source: str = ""  # the text ``_tree`` was parsed from
    _parsed: Optional[str] = None  # the text the last parse attempt saw
    _syntax_error: Optional[SyntaxError] = None

    def __post_init__(self) -> None:
        self.parser.filename = self.rules.parser.filename = str(self.path or self.uri)

    def update(self, source: str, version: Optional[int]) -> None:
        """New text. Parsing waits until a feature needs the tree: diagnostics parse on their
        own, so typing never pays for two parses."""
        self.version = version
        if source != self.source:
            self.source = source
            self.analysis_cache.clear()

    def _parse(self) -> None:
        if self._parsed == self.source:
            return
        self._parsed = self.source
        try:
            self._tree = self.parser.parse(self.source)
            self._tree_source = self.source
            self._syntax_error = None
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            self._syntax_error = (
                error if isinstance(error, SyntaxError) else SyntaxError(str(error))
            )

    @property
    def tree(self) -> Optional[ast.Module]:
        """The last text that parsed (the current one unless it has a syntax error)."""
        self._parse()
        return self._tree

    @property
    def tree_source(self) -> str:
        """The text :attr:`tree` was parsed from."""
        self._parse()
        return self._tree_source

    @property
    def syntax_error(self) -> Optional[SyntaxError]:
        """The syntax error of the current text, if any."""
        self._parse()
        return self._syntax_error

    @property
    def name(self) -> str:
        """The file name, for messages."""
        return self.path.name if self.path else self.uri

    @property
    def reports(self) -> list[ModelReport]:
        """The reports of the last inspection that landed (empty before any)."""
        return list(self.inspection.reports) if self.inspection is not None else []

    def _map_key(self) -> tuple[str, ReportNames]:
        return ("source_map", report_names(self.reports))

    def source_map(self) -> Optional[SourceMap]:
        """The source map of the last good parse, knowing the reported class names (cached)."""
        if self.tree is None:
            return None
        key = self._map_key()
        cached = self.analysis_cache.get(key)
        if cached is None:
            names = key[1]
            cached = build_source_map(
                self.tree, self.tree_source, names.modules, variables=names.variables
            )
            self.analysis_cache[key] = cached
        return cast(SourceMap, cached)

    async def source_map_async(
        self, executor: ThreadPoolExecutor, yield_to: Optional[threading.Event] = None
    ) -> Optional[SourceMap]:
        """:meth:`source_map`, parsed and built in ``executor`` when not cached, so a large
        file never stalls the event loop. A build for a text that an edit replaced stops and
        starts again on the new text; while ``yield_to`` is set (the static rules run), the
        build waits, so lenses and hovers never delay the diagnostics of a keystroke."""
        key = self._map_key()
        cached = self.analysis_cache.get(key)
        if cached is not None:
            return cast(SourceMap, cached)
        while True:
            source = self.source
            checkpoint = self._map_checkpoint(source, yield_to)
            try:
                built = await asyncio.get_running_loop().run_in_executor(
                    executor,
                    _parse_and_map,
                    source,
                    self.parser,
                    self._parsed == source,
                    (self._tree, self._tree_source),
                    key[1],
                    checkpoint,
                )
            except Superseded:
                key = self._map_key()
                continue
            break
        tree, error, source_map = built
        if self.source == source:
            if self._parsed != source:
                self._parsed = source
                self._syntax_error = error
                if tree is not None:
                    self._tree, self._tree_source = tree, source
            if source_map is not None:
                self.analysis_cache[key] = source_map
        return source_map

    def _map_checkpoint(
        self, source: str, yield_to: Optional[threading.Event]
    ) -> Callable[[], None]:
        """Between two statements of a map build (in its thread): wait while ``yield_to`` is
        set; give up when ``source`` is not the document's text any more."""

        def checkpoint() -> None:
            waited = 0
            while yield_to is not None and yield_to.is_set() and waited < _MAX_YIELD_MS:
                time.sleep(0.001)
                waited += 1
            if self.source is not source:
                raise Superseded

        return checkpoint


def unavailable_text(kind: str, subject: str, detail: str) -> str:
    """Why an inspection gave no numbers, in a few words (lenses, hovers, the message)."""
    if kind == "no_torch":
        if "needs torch" in detail:
            return f"the torch in {subject} is too old (2.0 or later needed) — static checks only"
        return f"no torch in {subject} — static checks only"
    if kind == "start_failed":
        return f"the worker cannot start with {subject} — static checks only"
    if kind == "crashed":
        return "the inspection crashed (details in the paramlens log)"
    if kind == "timeout":
        return "the inspection timed out (details in the paramlens log)"
    if kind == "memory":
        return "the inspection ran out of memory (details in the paramlens log)"
    return f"the inspection failed: {detail}"


def _parse_and_map(
    source: str,
    parser: IncrementalParser,
    parsed: bool,
    last_good: tuple[Optional[ast.Module], str],
    names: ReportNames,
    checkpoint: Optional[Callable[[], None]] = None,
) -> tuple[Optional[ast.Module], Optional[SyntaxError], Optional[SourceMap]]:
    """Parse ``source`` unless ``parsed`` (then ``last_good`` is its tree), falling back to the
    last good tree on a syntax error, and map the tree. Runs in a thread (the document's parser
    is thread-safe)."""
    tree, tree_source = last_good
    error: Optional[SyntaxError] = None
    if not parsed:
        try:
            tree, tree_source = parser.parse(source), source
        except (SyntaxError, ValueError, RecursionError, MemoryError) as problem:
            error = problem if isinstance(problem, SyntaxError) else SyntaxError(str(problem))
    if tree is None:
        return None, error, None
    source_map = build_source_map(
        tree, tree_source, names.modules, checkpoint, variables=names.variables
    )
    return (tree if error is None else None), error, source_map


class ParamlensLanguageServer(LanguageServer):
    """The server and all of its state: documents, settings, workers, reports."""

    def __init__(self, worker_factory: Optional[WorkerFactory] = None) -> None:
        super().__init__(SERVER_NAME, __version__)
        self.client_options: dict[str, Any] = {}
        self.untrusted = False
        self.documents: dict[str, DocumentState] = {}
        self.workers = WorkerManager(worker_factory or default_factory(self._worker_log))
        self.scheduler = InspectionScheduler(self.inspect_document)
        self.environment = EnvironmentMessages()
        self.pull_diagnostics = False
        self.configured: Optional[asyncio.Event] = None
        self.log_handler = ClientLogHandler(self)
        self.diagnostic_tasks: dict[str, asyncio.Future[None]] = {}
        # A thread each for the static rules (what a keystroke waits for), the source maps of
        # lenses and hovers, and the runtime rules. Threads share the GIL: a map being built
        # waits while the static rules run (``rules_running``), and gives up when its text
        # is replaced, so a keystroke's diagnostics never wait for a lens.
        self.analysis_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="static")
        self.map_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="map")
        self.runtime_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runtime")
        self.rules_running = threading.Event()
        self._rules_jobs = 0
        self._settings_problems: set[str] = set()
        self.saves = 0  # files saved so far: what workspace files define may have changed
        self._report_listeners: list[Callable[[str], None]] = []
        self._cache: Any = None

    @property
    def encoding(self) -> str:
        """The negotiated position encoding (``utf-16`` unless the client chose otherwise)."""
        try:
            return normalize_encoding(self.workspace.position_encoding)
        except RuntimeError:
            return "utf-16"

    def client_supports(self, *path: str) -> bool:
        """Whether a (nested) client capability is present and truthy."""
        node: Any = self.client_capabilities
        for part in path:
            node = getattr(node, part, None)
            if node is None:
                return False
        return bool(node)

    def prefers_markdown(self) -> bool:
        """Whether hover contents may be Markdown (else plain text)."""
        formats = getattr(
            getattr(self.client_capabilities.text_document, "hover", None), "content_format", None
        )
        if not formats:
            return True
        return str(getattr(formats[0], "value", formats[0])) == "markdown"

    def update_client_options(self, values: Optional[Mapping[str, Any]], source: str) -> None:
        """Overlay editor settings (camelCase, maybe nested under ``paramlens``)."""
        if not isinstance(values, Mapping):
            return
        nested = values.get("paramlens")
        if isinstance(nested, Mapping):
            values = nested
        options = {k: v for k, v in values.items() if k != "untrusted"}
        if source == "initializationOptions" and values.get("untrusted") is True:
            self.untrusted = True
        self.client_options.update(options)
        _, problems = merge_settings(Settings(), self.client_options, source)
        self.report_settings_problems(problems)

    def report_settings_problems(self, problems: list[str]) -> None:
        """Bad settings: one warning per distinct set of problems, details in the log."""
        fresh = [p for p in problems if p not in self._settings_problems]
        if not fresh:
            return
        self._settings_problems.update(fresh)
        for problem in fresh:
            logger.warning("%s", problem)
        self.show_message(
            "paramlens: some settings are invalid and use their defaults: " + "; ".join(fresh),
            types.MessageType.Warning,
        )

    def settings_for(self, path: Optional[Path]) -> Settings:
        """Defaults < ``PARAMLENS_INTERPRETER`` < ``[tool.paramlens]`` < editor settings."""
        base = Settings(interpreter=environment_interpreter())
        if path is not None:
            base, problems, _ = load_pyproject_settings(path, base)
            self.report_settings_problems(problems)
        settings, _ = merge_settings(base, self.client_options, "settings")
        if self.untrusted:
            settings = merge_settings(settings, {"untrusted": True}, "untrusted")[0]
        return settings

    def folder_for(self, path: Path) -> str:
        """The workspace folder holding ``path`` (the worker's identity and first root)."""
        best: Optional[str] = None
        try:
            folders = [to_fs_path(f.uri) for f in self.workspace.folders.values()]
            root = self.workspace.root_path
        except RuntimeError:
            folders, root = [], None
        candidates = [f for f in [*folders, root] if f]
        resolved = str(path.resolve())
        for folder in candidates:
            folder_path = str(Path(folder).resolve())
            if (
                resolved == folder_path or resolved.startswith(folder_path.rstrip(os.sep) + os.sep)
            ) and (best is None or len(folder_path) > len(best)):
                best = folder_path
        return best if best is not None else str(project_root(path))

    def document(self, uri: str) -> Optional[DocumentState]:
        """The state of an open document, synchronised with the workspace text."""
        state = self.documents.get(uri)
        try:
            text_document = self.workspace.get_text_document(uri)
        except RuntimeError:
            return state
        if state is None:
            fs_path = to_fs_path(uri)
            state = DocumentState(uri=uri, path=Path(fs_path) if fs_path else None)
            self.documents[uri] = state
        state.update(text_document.source, text_document.version)
        return state

    def forget(self, uri: str) -> None:
        """The document was closed."""
        self.scheduler.cancel(uri)
        self.documents.pop(uri, None)

    def show_message(self, message: str, kind: types.MessageType) -> None:
        """``window/showMessage``, never raising."""
        try:
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))
        except Exception:  # no client any more: the log keeps it
            logger.warning("could not show message: %s", message)

    def environment_problem(self, kind: str, subject: str, message: str) -> None:
        """An environment problem (no torch, crash, timeout): shown once, always logged.

        A worker that cannot start is one problem whoever meets it first (the pre-warm or an
        inspection) and whatever the start said (``no_torch`` or ``start_failed``)."""
        logger.warning("%s", message)
        if kind in START_KINDS:
            kind = "start"
        if self.environment.should_show(kind, subject):
            self.show_message(
                f"paramlens: {message} (details in the paramlens log)", types.MessageType.Error
            )

    @contextlib.asynccontextmanager
    async def progress_bar(
        self, title: str, message: str = ""
    ) -> AsyncIterator[Callable[[str], None]]:
        """``$/progress`` around a piece of work when the client supports it.

        Yields a function that reports an intermediate message.
        """
        token: Optional[str] = None
        if self.client_supports("window", "work_done_progress"):
            token = f"paramlens-{uuid.uuid4().hex[:12]}"
            try:
                await asyncio.wait_for(self.work_done_progress.create_async(token), 5.0)
                self.work_done_progress.begin(
                    token, types.WorkDoneProgressBegin(title=title, message=message or None)
                )
            except Exception as error:  # the client refused or went away: work without a bar
                logger.debug("no progress bar: %r", error)
                token = None

        def report(text: str) -> None:
            if token is not None:
                with contextlib.suppress(Exception):
                    self.work_done_progress.report(
                        token, types.WorkDoneProgressReport(message=text)
                    )

        try:
            yield report
        finally:
            if token is not None:
                with contextlib.suppress(Exception):
                    self.work_done_progress.end(token, types.WorkDoneProgressEnd())

    def _worker_log(self, line: str) -> None:
        logger.info("worker: %s", line.rstrip())

    def report_cache(self) -> Any:
        """The engine's :class:`~paramlens.cache.ReportCache` (built on first use)."""
        if self._cache is None:
            from paramlens.cache import ReportCache

            self._cache = ReportCache()
        return self._cache

    def can_inspect(self, state: DocumentState) -> bool:
        """Whether user code may run for this document."""
        return self.why_not_inspected(state) is None

    def why_not_inspected(self, state: DocumentState) -> Optional[str]:
        """Why the models of this document are never built (None: they are)."""
        if self.untrusted or (state.path is not None and self.settings_for(state.path).untrusted):
            return "static checks only (untrusted workspace)"
        if state.path is None or state.path.suffix not in (".py", ".pyw"):
            return "save the file as .py to see its parameters"
        return None

    def schedule_inspection(self, uri: str, delay: float = 0.0) -> None:
        """Inspect ``uri`` after ``delay`` seconds (replaces a pending request)."""
        state = self.documents.get(uri)
        if state is None or not self.can_inspect(state) or self.workers.closed:
            return
        self.scheduler.schedule(uri, delay)

    async def inspect_document(self, uri: str, force: bool = False) -> None:
        """Build the models of one document in the worker and keep the result if still current.

        A result for a document version that changed meanwhile is dropped (a later inspection,
        scheduled by the change, replaces it).
        """
        if self.configured is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.configured.wait(), CONFIGURATION_TIMEOUT_SECONDS)
        state = self.document(uri)
        if state is None or state.path is None or not self.can_inspect(state):
            return
        version = state.version
        path = state.path
        settings = self.settings_for(path)
        folder = self.folder_for(path)
        try:
            disk_text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            logger.info("not inspecting %s: %s", path, error)
            return
        state.inspecting = True
        try:
            inspection = await self._run_inspection(
                path, disk_text, settings, folder, version, force
            )
        finally:
            state.inspecting = False
        if isinstance(inspection, str) or inspection is None:
            if inspection != state.unavailable and self.documents.get(uri) is state:
                state.unavailable = inspection
                self.report_landed(uri)  # the lenses say why there are no numbers
            return
        state.unavailable = None
        current = self.documents.get(uri)
        if current is not state or current.version != version:
            logger.info(
                "dropping the inspection of %s version %s: the document is now version %s",
                state.name,
                version,
                current.version if current else "closed",
            )
            return
        previous = state.inspection
        if (
            previous is not None
            and inspection.result is not None
            and previous.result is inspection.result
        ):
            return  # the cache gave back the report already shown: nothing changed
        state.inspection = inspection
        self.report_landed(uri)

    async def _run_inspection(
        self,
        path: Path,
        disk_text: str,
        settings: Settings,
        folder: str,
        version: Optional[int],
        force: bool = False,
    ) -> Union[Inspection, str, None]:
        """The new inspection; else why there are no numbers (a text for the lenses), or None
        when nothing changed (keep what is shown)."""
        from paramlens.worker_client import build_inspect_params, missing_modules_notice

        interpreter = settings.interpreter_command()
        subject = " ".join(interpreter)
        cache = self.report_cache()
        variant = (
            settings.load_mode,
            settings.device,
            tuple(sorted(settings.models.items())),
            settings.cpu_fallback_limit_mb,
        )
        cached = None if force else cache.get(interpreter, path, disk_text, variant=variant)
        if cached is not None:
            logger.info("%s: report from cache", path.name)
            return self._inspection_from_result(cached, version)
        params = build_inspect_params(path, settings)
        key = self.workers.key(folder, interpreter)
        starting = key not in self.workers
        title = "paramlens: starting the worker" if starting else "paramlens: inspecting"
        try:
            async with self.progress_bar(title, path.name) as report:
                if starting:
                    await self.workers.ensure_started(folder, interpreter, retry=force)
                    report(f"inspecting {path.name}")
                result = await self.workers.inspect(folder, interpreter, params, retry=force)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            return self._inspection_failed(error, path, subject, version)
        self.environment.resolved(subject)
        missing = missing_modules_notice(result)
        if missing:
            logger.info("%s: %s", path.name, missing)
            # once per set of missing modules (what the notice names) and interpreter
            if self.environment.should_show("missing_modules", f"{subject}|{missing}"):
                self.show_message(f"paramlens: {path.name}: {missing}", types.MessageType.Warning)
        with contextlib.suppress(Exception):
            cache.put(interpreter, path, disk_text, result, variant=variant)
        logger.info(
            "%s: %d model(s) in %.0f ms",
            path.name,
            len(result.get("reports", [])),
            float(result.get("duration_ms", 0.0)),
        )
        return self._inspection_from_result(result, version)

    @staticmethod
    def _inspection_from_result(result: Mapping[str, Any], version: Optional[int]) -> Inspection:
        return Inspection(
            version=version,
            reports=list(result.get("reports", [])),
            output=str(result.get("output", "")),
            duration_ms=float(result.get("duration_ms", 0.0)),
            device=result.get("device"),
            result=result,
        )

    def _inspection_failed(
        self, error: Exception, path: Path, subject: str, version: Optional[int]
    ) -> Union[Inspection, str, None]:
        kind = error_kind(error)
        info = getattr(error, "info", None)
        detail = str(error) or kind
        if kind in START_KINDS:
            self.start_problem(error, subject)
            return unavailable_text(kind, subject, detail)
        if kind in ENVIRONMENT_KINDS:
            messages = {
                "crashed": f"the worker crashed while inspecting {path.name}: {detail}",
                "timeout": f"inspecting {path.name} timed out: {detail}",
                "memory": f"inspecting {path.name} ran out of memory: {detail}",
            }
            self.environment_problem(kind, subject, messages[kind])
        else:
            logger.info("inspecting %s failed: %s", path.name, detail)
        if not isinstance(info, Mapping) or not info.get("file"):
            # Nothing points into user code: keep showing the last good report.
            return unavailable_text(kind, subject, detail) if kind in ENVIRONMENT_KINDS else None
        return Inspection(version=version, reports=[], error=dict(info), error_kind=kind)

    def start_problem(self, error: BaseException, subject: str) -> None:
        """The worker cannot start in ``subject`` (no torch, a bad path): one message."""
        kind = error_kind(error)
        kind = kind if kind in START_KINDS else "start_failed"
        text = unavailable_text(kind, subject, str(error) or kind)
        self.environment_problem(kind, subject, f"{text} ({error})")

    def on_report(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(uri)`` whenever a new inspection lands for a document."""
        self._report_listeners.append(listener)

    def report_landed(self, uri: str) -> None:
        """Tell the features (lenses, diagnostics) that ``uri`` has a new inspection."""
        for listener in self._report_listeners:
            try:
                listener(uri)
            except Exception:
                logger.exception("report listener failed for %s", uri)

    def refresh_diagnostics(self, uri: str) -> None:
        """Recompute and deliver the diagnostics of ``uri`` (settings changed); a pull client
        is told to pull again."""
        from paramlens.features import diagnostics

        diagnostics.refresh(self, uri, repull=True)

    def hold_maps(self) -> Callable[[], None]:
        """Make source maps wait (the static rules run, or an edit's will soon); call the
        function returned to let them go on (once is enough, more is harmless)."""
        self._rules_jobs += 1
        self.rules_running.set()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._rules_jobs -= 1
                if not self._rules_jobs:
                    self.rules_running.clear()

        return release

    async def run_static(self, job: Callable[..., T], *args: Any) -> T:
        """Run ``job`` on the static rules' thread; source maps wait while it runs."""
        release = self.hold_maps()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self.analysis_executor, job, *args
            )
        finally:
            release()

    async def source_map_of(self, state: DocumentState) -> Optional[SourceMap]:
        """The source map of a document's current text (lenses and hovers)."""
        return await state.source_map_async(self.map_executor, self.rules_running)

    def stop_analysis(self) -> None:
        """Drop queued analyses and let the running ones end with the process."""
        for task in self.diagnostic_tasks.values():
            task.cancel()
        self.diagnostic_tasks.clear()
        for executor in (self.analysis_executor, self.map_executor, self.runtime_executor):
            executor.shutdown(wait=False, cancel_futures=True)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Server bugs go to the log, never to a message box."""
        logger.error("server error (%s): %s", getattr(source, "__name__", source), error)


def create_server(worker_factory: Optional[WorkerFactory] = None) -> ParamlensLanguageServer:
    """A server with every feature registered."""
    from paramlens.features import (
        code_actions,
        code_lens,
        commands,
        diagnostics,
        documents,
        hover,
        lifecycle,
    )

    server = ParamlensLanguageServer(worker_factory)
    for module in (lifecycle, documents, diagnostics, hover, code_lens, code_actions, commands):
        module.register(server)
    return server


def _protect_stdout() -> tuple[Any, Any]:
    """Keep fd 1 for the protocol and send every other write to stderr.

    A library that prints (or writes to fd 1 from C) would otherwise corrupt the channel.
    """
    protocol_fd = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    stdout = os.fdopen(protocol_fd, "wb", buffering=0)
    sys.stdout = sys.stderr
    return sys.stdin.buffer, stdout


def serve(tcp: Optional[str] = None) -> int:
    """Run the language server on stdio, or on ``HOST:PORT`` with ``tcp``; returns the exit code."""
    setup_logging(logging.INFO)
    # The event loop (messages, edits) shares the GIL with the threads of rules and maps: a
    # thread holding it makes the loop wait up to the switch interval, 5 ms by default, for
    # each step of handling a message. 1 ms keeps a keystroke's handling prompt.
    sys.setswitchinterval(0.001)
    server = create_server()
    # What start-up made (modules, classes, the protocol's types: ~50,000 objects) lives until
    # exit: out of the collector's sight, a full collection takes ~11 ms less each time.
    gc.freeze()
    logging.getLogger().addHandler(server.log_handler)
    if tcp:
        host, _, port = tcp.rpartition(":")
        if not port.isdigit():
            logger.error("--tcp expects HOST:PORT, got %r", tcp)
            return 2
        server.start_tcp(host or "127.0.0.1", int(port))
        return 0
    stdin, stdout = _protect_stdout()
    server.start_io(stdin, stdout)
    return 0
