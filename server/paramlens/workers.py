"""Worker management for the language server.

* :class:`WorkerManager` keeps one worker per (workspace folder, interpreter), starts it on
  demand or ahead of time (pre-warm), starts a fresh one after a crash (a watchdog notices
  workers that die between inspections; restarts are rate-limited, failed starts back off) and
  stops them all at shutdown.
* :class:`InspectionScheduler` runs at most one inspection per document at a time, debounced;
  whoever runs it drops results for a document version that is no longer current.
* :class:`EnvironmentMessages` shows each environment problem (no torch, crash, timeout) once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

from paramlens.log import get_logger

logger = get_logger("workers")

WorkerKey = tuple[str, tuple[str, ...]]

ENVIRONMENT_KINDS = ("no_torch", "start_failed", "crashed", "timeout", "memory")
RESTARTS_PER_MINUTE = 3
WATCH_SECONDS = 1.0
FAILED_START_BACKOFF_SECONDS = 30.0


class Worker(Protocol):
    """What the manager needs of :class:`paramlens.worker_client.WorkerClient`."""

    async def start(self) -> Any: ...

    async def inspect(self, params: Any) -> Any: ...

    async def stop(self) -> Any: ...


WorkerFactory = Callable[[Sequence[str], Sequence[str]], Worker]


def default_factory(
    on_log: Optional[Callable[[str], None]] = None,
) -> WorkerFactory:
    """Build real :class:`~paramlens.worker_client.WorkerClient` objects (imported lazily:
    the server starts before anything asks for a worker)."""

    def create(interpreter: Sequence[str], roots: Sequence[str]) -> Worker:
        from paramlens.worker_client import WorkerClient

        return WorkerClient(list(interpreter), roots=list(roots), on_log=on_log)

    return create


def error_kind(error: BaseException) -> str:
    """The ``kind`` of a :class:`~paramlens.worker_client.WorkerError` ("error" for others)."""
    return str(getattr(error, "kind", "error"))


def is_dead(worker: Worker) -> bool:
    """Whether a worker's process is gone (its ``state`` says stopped, crashed or failed)."""
    state = getattr(worker, "state", None)
    name = str(getattr(state, "value", state) or "").lower()
    return any(word in name for word in ("crash", "stop", "fail", "exit", "dead"))


@dataclass
class _Slot:
    worker: Worker
    started: Optional[asyncio.Task[Any]] = None


class WorkerManager:
    """One worker per (workspace folder, interpreter command)."""

    def __init__(self, factory: WorkerFactory) -> None:
        self._factory = factory
        self._slots: dict[WorkerKey, _Slot] = {}
        self._restarts: dict[WorkerKey, list[float]] = {}
        self._stopping: set[asyncio.Future[None]] = set()
        self._watchdog: Optional[asyncio.Future[None]] = None
        self._failed_starts: dict[WorkerKey, tuple[float, Exception]] = {}
        self.watch_interval = WATCH_SECONDS
        self.backoff = FAILED_START_BACKOFF_SECONDS
        self.closed = False

    @staticmethod
    def key(folder: str, interpreter: Sequence[str]) -> WorkerKey:
        """The identity of a worker."""
        return (folder, tuple(interpreter))

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def workers(self) -> dict[WorkerKey, Worker]:
        """The live workers, by key."""
        return {key: slot.worker for key, slot in self._slots.items()}

    def _slot(self, folder: str, interpreter: Sequence[str]) -> _Slot:
        if self.closed:
            raise RuntimeError("the worker manager is shut down")
        key = self.key(folder, interpreter)
        slot = self._slots.get(key)
        if (
            slot is not None
            and slot.started is not None
            and slot.started.done()
            and is_dead(slot.worker)
        ):
            logger.info("worker for %s (%s) is gone; starting a new one", folder, interpreter[0])
            self._discard(key)
            slot = None
        if slot is None:
            slot = _Slot(self._factory(list(interpreter), [folder]))
            slot.started = asyncio.ensure_future(slot.worker.start())
            self._slots[key] = slot
            if self._watchdog is None or self._watchdog.done():
                self._watchdog = asyncio.ensure_future(self._watch())
        return slot

    async def _watch(self) -> None:
        """Replace workers that died between inspections (killed, out of memory)."""
        while self._slots and not self.closed:
            await asyncio.sleep(self.watch_interval)
            for (folder, interpreter), slot in list(self._slots.items()):
                started = slot.started
                healthy_start = (
                    started is not None
                    and started.done()
                    and not started.cancelled()
                    and started.exception() is None
                )
                if healthy_start and is_dead(slot.worker):
                    logger.warning("the worker for %s exited; starting a new one", folder)
                    self._after_crash(folder, interpreter, slot.worker)

    async def ensure_started(
        self, folder: str, interpreter: Sequence[str], retry: bool = False
    ) -> Worker:
        """The worker for this key, started (raises the start's ``WorkerError``).

        A start that failed (no torch, a bad interpreter path) is not tried again for
        :data:`FAILED_START_BACKOFF_SECONDS` unless ``retry``: the same error is raised."""
        key = self.key(folder, interpreter)
        failed = self._failed_starts.get(key)
        if failed is not None and not retry and time.monotonic() - failed[0] < self.backoff:
            raise failed[1]
        slot = self._slot(folder, interpreter)
        assert slot.started is not None
        try:
            await asyncio.shield(slot.started)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._failed_starts[key] = (time.monotonic(), error)
            self._discard(key, slot)
            raise
        self._failed_starts.pop(key, None)
        return slot.worker

    def prewarm(self, folder: str, interpreter: Sequence[str]) -> asyncio.Task[Any]:
        """Start the worker in the background; its failure is logged, not raised."""

        async def warm() -> None:
            with contextlib.suppress(Exception):
                await self.ensure_started(folder, interpreter)

        return asyncio.ensure_future(warm())

    async def inspect(
        self, folder: str, interpreter: Sequence[str], params: Any, retry: bool = False
    ) -> Any:
        """Run one inspection; after a crash the worker is replaced (restart is rate-limited).
        ``retry``: try to start a worker even if starting one failed a moment ago."""
        worker = await self.ensure_started(folder, interpreter, retry)
        try:
            return await worker.inspect(params)
        except Exception:
            # A crashed inspection child leaves the worker running; only a dead worker goes.
            if is_dead(worker):
                self._after_crash(folder, interpreter, worker)
            raise

    def _after_crash(self, folder: str, interpreter: Sequence[str], worker: Worker) -> None:
        key = self.key(folder, interpreter)
        slot = self._slots.get(key)
        if slot is None or slot.worker is not worker:
            return
        self._discard(key, slot)
        now = time.monotonic()
        recent = [t for t in self._restarts.get(key, []) if now - t < 60.0]
        if len(recent) >= RESTARTS_PER_MINUTE or self.closed:
            logger.warning(
                "worker for %s crashed %d times in a minute; not restarting until "
                "the next inspection",
                folder,
                len(recent),
            )
            self._restarts[key] = recent
            return
        self._restarts[key] = [*recent, now]
        logger.info("restarting the worker for %s", folder)
        self.prewarm(folder, interpreter)

    def _discard(self, key: WorkerKey, slot: Optional[_Slot] = None) -> None:
        current = self._slots.get(key)
        if current is None or (slot is not None and current is not slot):
            return
        del self._slots[key]
        stopping = asyncio.ensure_future(_quiet_stop(current.worker))
        self._stopping.add(stopping)
        stopping.add_done_callback(self._stopping.discard)

    async def retain(self, keys: Collection[WorkerKey]) -> None:
        """Stop the workers no open document needs any more (the interpreter changed)."""
        unused = [key for key in self._slots if key not in keys]
        for key in unused:
            logger.info("stopping the worker for %s (%s): no longer used", key[0], key[1][0])
            self._discard(key)

    async def stop_all(self) -> None:
        """Stop every worker (``shutdown``); later requests for a worker fail."""
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        slots = list(self._slots.values())
        self._slots.clear()
        await asyncio.gather(*(_quiet_stop(slot.worker) for slot in slots))

    def kill_all(self) -> None:
        """Kill every worker process now (``exit`` without ``shutdown``)."""
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        killpg = getattr(os, "killpg", None)  # POSIX; on Windows the closed pipes end them
        for slot in self._slots.values():
            pid = getattr(slot.worker, "pid", None)
            if isinstance(pid, int) and killpg is not None:
                with contextlib.suppress(OSError):
                    killpg(pid, signal.SIGKILL)
        self._slots.clear()


async def _quiet_stop(worker: Worker) -> None:
    try:
        await asyncio.wait_for(worker.stop(), timeout=5.0)
    except Exception as error:  # a stop that fails leaves nothing to clean but the log line
        logger.debug("stopping a worker failed: %r", error)


class InspectionScheduler:
    """Debounced, one-at-a-time inspections per document.

    ``schedule(uri, delay)`` replaces a pending (not yet started) run for ``uri``; a run that
    already started finishes first and the new one follows it.
    """

    def __init__(self, run: Callable[[str], Awaitable[None]]) -> None:
        self._run = run
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._running: dict[str, asyncio.Task[Any]] = {}

    def schedule(self, uri: str, delay: float = 0.0) -> asyncio.Task[None]:
        """Run the inspection of ``uri`` after ``delay`` seconds of quiet."""
        pending = self._pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        task = asyncio.ensure_future(self._later(uri, delay))
        self._pending[uri] = task
        return task

    async def _later(self, uri: str, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        running = self._running.get(uri)
        if running is not None and not running.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(running)
        current = asyncio.current_task()
        if self._pending.get(uri) is current:
            del self._pending[uri]
        assert current is not None
        self._running[uri] = current
        try:
            await self._run(uri)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("inspection of %s failed", uri)
        finally:
            if self._running.get(uri) is current:
                del self._running[uri]

    def is_busy(self, uri: str) -> bool:
        """Whether an inspection of ``uri`` is pending or running."""
        return uri in self._pending or uri in self._running

    def cancel(self, uri: str) -> None:
        """Forget a pending run (a running one finishes; its result is then stale)."""
        pending = self._pending.pop(uri, None)
        if pending is not None:
            pending.cancel()

    def cancel_all(self) -> None:
        """Cancel pending and running work (shutdown)."""
        for task in [*self._pending.values(), *self._running.values()]:
            task.cancel()
        self._pending.clear()
        self._running.clear()


class EnvironmentMessages:
    """Environment problems are shown once per (kind, interpreter) until they go away."""

    def __init__(self) -> None:
        self._shown: set[tuple[str, str]] = set()

    def should_show(self, kind: str, subject: str) -> bool:
        """True the first time a problem is seen; False while it persists."""
        key = (kind, subject)
        if key in self._shown:
            return False
        self._shown.add(key)
        return True

    def resolved(self, subject: str) -> None:
        """The environment works again: show its next problem."""
        self._shown = {key for key in self._shown if key[1] != subject}
