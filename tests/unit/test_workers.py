"""Worker manager, inspection scheduler and message de-duplication, with fake workers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from paramlens.workers import (
    RESTARTS_PER_MINUTE,
    EnvironmentMessages,
    InspectionScheduler,
    WorkerManager,
    is_dead,
)


class Crash(Exception):
    kind = "crashed"


class FakeWorker:
    """Records calls; ``crash_next`` makes the next inspection die like a killed worker."""

    def __init__(self, interpreter: Sequence[str], roots: Sequence[str]) -> None:
        self.interpreter = list(interpreter)
        self.roots = list(roots)
        self.state = "created"
        self.inspected: list[Any] = []
        self.crash_next = False

    async def start(self) -> None:
        self.state = "running"

    async def inspect(self, params: Any) -> dict[str, Any]:
        if self.crash_next:
            self.state = "crashed"
            raise Crash("worker died")
        self.inspected.append(params)
        return {"reports": [], "pid": id(self)}

    async def stop(self) -> None:
        self.state = "stopped"


def make_manager() -> tuple[WorkerManager, list[FakeWorker]]:
    created: list[FakeWorker] = []

    def factory(interpreter: Sequence[str], roots: Sequence[str]) -> FakeWorker:
        worker = FakeWorker(interpreter, roots)
        created.append(worker)
        return worker

    return WorkerManager(factory), created


async def test_one_worker_per_folder_and_interpreter() -> None:
    manager, created = make_manager()
    await manager.inspect("/a", ["python"], 1)
    await manager.inspect("/a", ["python"], 2)
    await manager.inspect("/b", ["python"], 3)
    await manager.inspect("/a", ["/other/python"], 4)
    assert [w.roots for w in created] == [["/a"], ["/b"], ["/a"]]
    assert created[0].inspected == [1, 2]
    assert created[2].interpreter == ["/other/python"]


async def test_a_crashed_worker_is_replaced_and_restarted() -> None:
    manager, created = make_manager()
    await manager.inspect("/a", ["python"], 1)
    created[0].crash_next = True
    with pytest.raises(Crash):
        await manager.inspect("/a", ["python"], 2)
    for _ in range(3):  # the background restart: prewarm task, then start task
        await asyncio.sleep(0)
    assert len(created) == 2 and created[1].state == "running"
    assert created[0].state in ("crashed", "stopped")
    result = await manager.inspect("/a", ["python"], 3)
    assert result["pid"] == id(created[1])


async def test_restarts_are_rate_limited() -> None:
    manager, created = make_manager()
    for attempt in range(RESTARTS_PER_MINUTE + 2):
        worker = await manager.ensure_started("/a", ["python"])
        assert isinstance(worker, FakeWorker)
        worker.crash_next = True
        with pytest.raises(Crash):
            await manager.inspect("/a", ["python"], attempt)
        await asyncio.sleep(0)
    # every crash replaced the worker, but only RESTARTS_PER_MINUTE of them in the background
    background = len(created) - (RESTARTS_PER_MINUTE + 2)
    assert background <= RESTARTS_PER_MINUTE


async def test_stop_all_stops_and_refuses_new_workers() -> None:
    manager, created = make_manager()
    await manager.ensure_started("/a", ["python"])
    await manager.ensure_started("/b", ["python"])
    await manager.stop_all()
    assert [w.state for w in created] == ["stopped", "stopped"]
    with pytest.raises(RuntimeError):
        await manager.ensure_started("/a", ["python"])


@pytest.mark.parametrize(
    ("state", "dead"),
    [("running", False), ("crashed", True), ("STOPPED", True), (None, False), ("failed", True)],
)
def test_is_dead(state: object, dead: bool) -> None:
    class W:
        pass

    worker = W()
    worker.state = state  # type: ignore[attr-defined]
    assert is_dead(worker) is dead  # type: ignore[arg-type]


async def test_scheduler_debounces_and_runs_one_at_a_time() -> None:
    runs: list[str] = []
    active = 0
    most = 0

    async def run(uri: str) -> None:
        nonlocal active, most
        active += 1
        most = max(most, active)
        runs.append(uri)
        await asyncio.sleep(0.05)
        active -= 1

    scheduler = InspectionScheduler(run)
    for _ in range(5):
        scheduler.schedule("a", 0.02)
    await asyncio.sleep(0.04)
    assert runs == ["a"]  # five requests inside the quiet period became one
    scheduler.schedule("a", 0.0)  # while the first one runs
    await asyncio.sleep(0.2)
    assert runs == ["a", "a"] and most == 1
    assert not scheduler.is_busy("a")


async def test_scheduler_cancel_forgets_pending_runs() -> None:
    runs: list[str] = []

    async def run(uri: str) -> None:
        runs.append(uri)

    scheduler = InspectionScheduler(run)
    scheduler.schedule("a", 0.05)
    scheduler.schedule("b", 0.05)
    scheduler.cancel("a")
    await asyncio.sleep(0.1)
    assert runs == ["b"]


def test_environment_messages_show_once_until_resolved() -> None:
    messages = EnvironmentMessages()
    assert messages.should_show("no_torch", "/usr/bin/python3")
    assert not messages.should_show("no_torch", "/usr/bin/python3")
    assert messages.should_show("timeout", "/usr/bin/python3")
    assert messages.should_show("no_torch", "/venv/bin/python")
    messages.resolved("/usr/bin/python3")
    assert messages.should_show("no_torch", "/usr/bin/python3")


async def test_a_crashed_inspection_child_keeps_the_worker() -> None:
    manager, created = make_manager()
    await manager.inspect("/a", ["python"], 1)

    async def child_crash(params: Any) -> dict[str, Any]:
        raise Crash("the inspection process crashed with SIGSEGV")

    created[0].inspect = child_crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await manager.inspect("/a", ["python"], 2)
    await asyncio.sleep(0)
    assert len(created) == 1 and created[0].state == "running"


async def test_a_worker_that_dies_between_inspections_is_replaced() -> None:
    manager, created = make_manager()
    manager.watch_interval = 0.01
    await manager.ensure_started("/a", ["python"])
    created[0].state = "crashed"  # killed from outside; nobody is inspecting
    for _ in range(20):
        await asyncio.sleep(0.01)
        if len(created) == 2 and created[1].state == "running":
            break
    assert len(created) == 2 and created[1].state == "running"
    await manager.stop_all()


async def test_a_worker_that_cannot_start_is_not_restarted_by_the_watchdog() -> None:
    class NoTorch(FakeWorker):
        async def start(self) -> None:
            self.state = "crashed"
            raise Crash("no torch")

    created: list[FakeWorker] = []

    def factory(interpreter: Sequence[str], roots: Sequence[str]) -> FakeWorker:
        created.append(NoTorch(interpreter, roots))
        return created[-1]

    manager = WorkerManager(factory)
    manager.watch_interval = 0.01
    with pytest.raises(Crash):
        await manager.ensure_started("/a", ["python"])
    await asyncio.sleep(0.1)
    assert len(created) == 1
    await manager.stop_all()


async def test_a_failed_start_is_not_retried_at_once_unless_asked() -> None:
    starts: list[int] = []

    class NoTorch(FakeWorker):
        async def start(self) -> None:
            starts.append(1)
            self.state = "crashed"
            raise Crash("no torch")

    manager = WorkerManager(lambda interpreter, roots: NoTorch(interpreter, roots))
    for _ in range(3):
        with pytest.raises(Crash):
            await manager.inspect("/a", ["python"], 1)
    assert len(starts) == 1  # the same error again, without a new process
    with pytest.raises(Crash):
        await manager.inspect("/a", ["python"], 1, retry=True)
    assert len(starts) == 2
    manager.backoff = 0.0
    with pytest.raises(Crash):
        await manager.inspect("/a", ["python"], 1)
    assert len(starts) == 3
    await manager.stop_all()
