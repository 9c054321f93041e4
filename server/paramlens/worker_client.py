"""The server's side of the worker: start it in the user's interpreter, send inspections, map
failures to :class:`WorkerError`. Never imports torch.

:class:`WorkerClient` is asyncio (the language server); :class:`WorkerSession` wraps it for the
command line, which shares one worker across all the files of a run.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import itertools
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Optional, cast

from paramlens.settings import Settings, project_root
from paramlens_worker import protocol
from paramlens_worker.protocol import ErrorInfo, InspectParams, InspectResult

START_TIMEOUT_SECONDS = 120.0  # importing torch on a cold disk can take a while
ANSWER_GRACE_SECONDS = 15.0  # beyond the inspection's own timeout, enforced by the worker
STDOUT_LIMIT = 1 << 28  # one response line can be large (a 70B report is ~200 KB)
LOG_TAIL_LINES = 40

_KINDS = {
    protocol.ERROR_TIMEOUT: "timeout",
    protocol.ERROR_MEMORY: "memory",
    protocol.ERROR_CRASHED: "crashed",
    protocol.ERROR_NO_TORCH: "no_torch",
}


class WorkerError(Exception):
    """An inspection or the worker failed.

    ``kind`` is ``error`` (user code raised, e.g. a syntax error or a missing import),
    ``timeout``, ``memory``, ``crashed``, ``no_torch`` or ``start_failed``; ``info`` carries the
    user's frame when the failure is in user code, and ``output`` what the code printed."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "error",
        info: Optional[ErrorInfo] = None,
        output: str = "",
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.info = info
        self.output = output


class WorkerState(enum.Enum):
    """Where the worker process is in its life."""

    STOPPED = "stopped"
    STARTING = "starting"
    READY = "ready"
    CRASHED = "crashed"


def missing_modules_notice(result: InspectResult) -> Optional[str]:
    """What to tell of the modules a file imports that its interpreter does not have (the rest
    of the file was still inspected), or None."""
    missing = result.get("missing_modules") or []
    if not missing:
        return None
    them = "it" if len(missing) == 1 else "them"
    return (
        f"{', '.join(missing)} not installed in this interpreter: "
        f"the models that need {them} are not built"
    )


def error_from_response(error: dict[str, Any]) -> WorkerError:
    """The :class:`WorkerError` of a JSON-RPC error object from the worker."""
    code = error.get("code")
    data = error.get("data")
    info: Optional[ErrorInfo] = None
    output = ""
    kind = _KINDS.get(code, "error") if isinstance(code, int) else "error"
    if isinstance(data, dict):
        kind = str(data.get("kind") or kind)
        output = str(data.get("output") or "")
        info = {
            "type": str(data.get("type", "Error")),
            "message": str(data.get("message", error.get("message", ""))),
            "file": data.get("file"),
            "line": data.get("line"),
        }
    return WorkerError(
        str(error.get("message", "worker error")), kind=kind, info=info, output=output
    )


class WorkerClient:
    """One worker process in the user's interpreter; several inspections may be in flight."""

    def __init__(
        self,
        interpreter: Sequence[str],
        *,
        roots: Sequence[str] = (),
        on_log: Optional[Callable[[str], None]] = None,
    ) -> None:
        self.interpreter = list(interpreter) or [sys.executable]
        self.roots = list(roots)
        self.on_log = on_log
        self.state = WorkerState.STOPPED
        self.info: dict[str, Any] = {}
        self.log_tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        self._process: Optional[asyncio.subprocess.Process] = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self._start_lock: Optional[asyncio.Lock] = None
        self._stopping = False
        self._tmpdir: Optional[str] = None

    @property
    def pid(self) -> Optional[int]:
        """The worker's process id while it runs."""
        return self._process.pid if self._process is not None else None

    async def start(self) -> dict[str, Any]:
        """Start the worker (if needed) and wait until it has imported torch.

        Returns the ping result ``{"torch_version", "python", "pid"}``; raises
        :class:`WorkerError` (``no_torch``, ``start_failed``)."""
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self.state is WorkerState.READY and self._alive():
                return self.info
            await self._kill()
            self.state = WorkerState.STARTING
            try:
                self.info = await self._launch()
            except BaseException:
                self.state = WorkerState.CRASHED
                await self._kill()
                raise
            self.state = WorkerState.READY
            return self.info

    async def _launch(self) -> dict[str, Any]:
        env = dict(os.environ)
        # Only the user's roots: never the server's own dependencies (they would shadow the
        # user's packages); the worker package is loaded from its folder by the bootstrap.
        env["PYTHONPATH"] = os.pathsep.join(self.roots)
        env.setdefault("PYTHONIOENCODING", "utf-8")
        # The folder of the inspections' output files is ours, not the worker's: removed when
        # the worker is gone, however it went (killed, out of memory, refused for lack of torch).
        self._tmpdir = tempfile.mkdtemp(prefix="paramlens-worker-")
        env[protocol.TMPDIR_VARIABLE] = self._tmpdir
        command = protocol.worker_command(self.interpreter)
        try:
            self._process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                limit=STDOUT_LIMIT,
                start_new_session=True,
            )
        except OSError as error:
            raise WorkerError(
                f"cannot start the worker with {self.interpreter[0]}: {error}", kind="start_failed"
            ) from error
        self._stopping = False
        process = self._process
        self._tasks = [
            asyncio.ensure_future(self._read_stdout(process)),
            asyncio.ensure_future(self._read_stderr(process)),
        ]
        try:
            result = await asyncio.wait_for(self._request("ping", None), START_TIMEOUT_SECONDS)
        except asyncio.TimeoutError as error:
            raise WorkerError(
                f"the worker did not start within {START_TIMEOUT_SECONDS:.0f} s",
                kind="start_failed",
            ) from error
        except WorkerError as error:
            if error.kind == "crashed":
                error.kind = "start_failed"
                error.args = (f"the worker exited while starting: {self._tail()}",)
            raise
        return cast("dict[str, Any]", result)

    def _alive(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def _tail(self) -> str:
        return " | ".join(self.log_tail) or "no output"

    async def _read_stdout(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while True:
            try:
                line = await process.stdout.readline()
            except (ValueError, asyncio.LimitOverrunError) as error:
                self._fail_all(WorkerError(f"unreadable worker answer: {error}", kind="crashed"))
                break
            if not line:
                break
            try:
                message = protocol.decode(line)
            except ValueError:
                self._log(f"worker wrote a non-protocol line: {line[:200]!r}")
                continue
            future = self._pending.pop(message.get("id", -1), None)
            if future is None or future.done():
                continue
            if "error" in message and isinstance(message["error"], dict):
                future.set_exception(error_from_response(message["error"]))
            else:
                future.set_result(message.get("result"))
        await process.wait()
        if process is self._process:
            if not self._stopping:
                self.state = WorkerState.CRASHED
                self._log(f"worker {process.pid} exited with code {process.returncode}")
            self._fail_all(
                WorkerError(
                    f"the worker exited (code {process.returncode}): {self._tail()}",
                    kind="crashed",
                )
            )

    async def _read_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while True:
            try:
                line = await process.stderr.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue
            if not line:
                return
            self._log(line.decode("utf-8", errors="replace").rstrip())

    def _log(self, text: str) -> None:
        self.log_tail.append(text)
        if self.on_log is not None:
            try:
                self.on_log(text)
            except Exception as error:  # a broken log sink must not stop reading the worker
                self.log_tail.append(f"on_log failed: {error!r}")

    def _fail_all(self, error: WorkerError) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    async def _request(self, method: str, params: Any) -> Any:
        process = self._process
        if process is None or process.stdin is None or process.returncode is not None:
            raise WorkerError("the worker is not running", kind="crashed")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            process.stdin.write(protocol.encode(message))
            await process.stdin.drain()
        except (ConnectionError, RuntimeError) as error:
            self._pending.pop(request_id, None)
            raise WorkerError(f"cannot write to the worker: {error}", kind="crashed") from error
        try:
            return await future
        except asyncio.CancelledError:
            if method == "inspect":
                self._notify("cancel", {"id": request_id})  # stop its child in the worker
            raise
        finally:
            self._pending.pop(request_id, None)

    def _notify(self, method: str, params: Any) -> None:
        process = self._process
        if process is None or process.stdin is None or process.returncode is not None:
            return
        with contextlib.suppress(ConnectionError, RuntimeError, OSError):
            process.stdin.write(
                protocol.encode({"jsonrpc": "2.0", "method": method, "params": params})
            )

    async def inspect(self, params: InspectParams) -> InspectResult:
        """Inspect one file; restarts the worker first if it is not running.

        Raises :class:`WorkerError` when the file cannot be loaded or the child failed.
        Cancelling the call stops the inspection's child in the worker."""
        if self.state is not WorkerState.READY or not self._alive():
            await self.start()
        timeout = float(params.get("timeout_seconds", 30.0)) + ANSWER_GRACE_SECONDS
        try:
            result = await asyncio.wait_for(self._request("inspect", params), timeout)
        except asyncio.TimeoutError as error:
            # The worker enforces the timeout itself; silence beyond it means it is wedged.
            await self.stop()
            self.state = WorkerState.CRASHED
            raise WorkerError(
                f"the worker did not answer within {timeout:.0f} s", kind="timeout"
            ) from error
        return cast(InspectResult, result)

    async def stop(self) -> None:
        """Stop the worker and its children; idempotent."""
        self._stopping = True
        process = self._process
        if process is not None and process.returncode is None and process.stdin is not None:
            with contextlib.suppress(ConnectionError, RuntimeError, OSError):
                process.stdin.write(
                    protocol.encode({"jsonrpc": "2.0", "id": 0, "method": "shutdown"})
                )
                process.stdin.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), 2.0)
        await self._kill()
        self.state = WorkerState.STOPPED

    async def _kill(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            self._stopping = True
            if process.returncode is None:
                _kill_group(process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            else:
                _kill_group(process.pid)  # the worker is gone; its forked children may not be
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
        for task in self._tasks:
            if not task.done():
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self._fail_all(WorkerError("the worker was stopped", kind="crashed"))


def _kill_group(pid: int) -> None:
    """Kill the worker's process group (it leads its own session): the worker and every
    inspection child. POSIX only; elsewhere the worker kills its children when stdin closes."""
    killpg = getattr(os, "killpg", None)
    if killpg is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            killpg(pid, getattr(signal, "SIGKILL", signal.SIGTERM))


def project_roots(path: Path) -> list[str]:
    """The roots of the project holding ``path``: its root folder, and ``src/`` if present."""
    return _with_src(Path(project_root(path.resolve())))


def _with_src(root: Path) -> list[str]:
    roots = [str(root)]
    if (root / "src").is_dir():
        roots.append(str(root / "src"))
    return roots


def build_inspect_params(
    path: Path,
    settings: Settings,
    *,
    objects: Optional[Sequence[str]] = None,
    folder: Optional[Path] = None,
) -> InspectParams:
    """The ``inspect`` request of ``path`` under ``settings``: roots are the file's project
    (and its ``src/``), then the editor's workspace ``folder`` (and its ``src/``) if different."""
    roots = project_roots(path)
    if folder is not None:
        roots += [r for r in _with_src(folder.resolve()) if r not in roots]
    params: InspectParams = {
        "path": str(path.resolve()),
        "roots": roots,
        "load_mode": settings.load_mode,
        "device": settings.device,
        "timeout_seconds": float(settings.timeout_seconds),
        "memory_limit_mb": int(settings.memory_limit_mb),
        "objects": list(objects) if objects else None,
        "models": dict(settings.models),
        "cpu_fallback_limit_mb": int(settings.cpu_fallback_limit_mb),
    }
    return params


class WorkerSession:
    """A synchronous worker for the command line: one worker for every file of a run."""

    def __init__(self, settings: Settings, *, on_log: Optional[Callable[[str], None]] = None):
        self.settings = settings
        self._loop = asyncio.new_event_loop()
        self._client = WorkerClient(settings.interpreter_command(), on_log=on_log)

    @property
    def client(self) -> WorkerClient:
        """The asynchronous client underneath."""
        return self._client

    def __enter__(self) -> WorkerSession:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker and close the event loop; idempotent."""
        if self._loop.is_closed():
            return
        try:
            self._loop.run_until_complete(self._client.stop())
        finally:
            self._loop.close()

    def start(self) -> dict[str, Any]:
        """Start the worker now (else the first :meth:`inspect` does)."""
        return self._loop.run_until_complete(self._client.start())

    def inspect(self, path: Path, *, objects: Optional[Sequence[str]] = None) -> InspectResult:
        """Inspect one file; raises :class:`WorkerError`."""
        params = build_inspect_params(path, self.settings, objects=objects)
        return self._loop.run_until_complete(self._client.inspect(params))
