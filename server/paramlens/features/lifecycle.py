"""``initialize`` / ``initialized`` / configuration / ``shutdown`` / ``exit``.

Settings come from ``initializationOptions`` and ``workspace/configuration`` (section
``paramlens``); the worker is pre-warmed when the workspace has Python files that import torch.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from lsprotocol import types
from pygls.uris import to_fs_path

from paramlens.log import get_logger

if TYPE_CHECKING:
    from paramlens.server import ParamlensLanguageServer

logger = get_logger("lifecycle")

SECTION = "paramlens"
SKIPPED_FOLDERS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "__pycache__",
        "build",
        "dist",
        "site-packages",
        ".tox",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
    }
)
TORCH_IMPORT = re.compile(r"^\s*(?:import\s+torch\b|from\s+torch(?:\.\w+)*\s+import\b)", re.M)
SCAN_LIMIT = 400  # Python files read when looking for torch imports
READ_LIMIT = 64 * 1024


def python_files(folder: Path, limit: int = SCAN_LIMIT) -> Iterator[Path]:
    """Python files under ``folder`` (skipping virtualenvs, caches and hidden folders)."""
    count = 0
    for directory, subfolders, files in os.walk(folder):
        subfolders[:] = sorted(
            d for d in subfolders if d not in SKIPPED_FOLDERS and not d.startswith(".")
        )
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(directory) / name
                count += 1
                if count >= limit:
                    return


def imports_torch(folder: Path) -> bool:
    """Whether any Python file of the workspace (first :data:`SCAN_LIMIT`) imports torch."""
    for path in python_files(folder):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                if TORCH_IMPORT.search(handle.read(READ_LIMIT)):
                    return True
        except OSError:
            continue
    return False


def workspace_folders(ls: ParamlensLanguageServer) -> list[Path]:
    """The workspace folders (or the root) as paths."""
    folders = [Path(to_fs_path(f.uri) or "") for f in ls.workspace.folders.values()]
    if not folders and ls.workspace.root_path:
        folders = [Path(ls.workspace.root_path)]
    return [f for f in folders if str(f) and f.is_dir()]


async def pull_configuration(ls: ParamlensLanguageServer) -> None:
    """Ask the client for the ``paramlens`` section (global, then per folder)."""
    if not ls.client_supports("workspace", "configuration"):
        return
    items = [types.ConfigurationItem(section=SECTION)]
    try:
        values = await asyncio.wait_for(
            ls.workspace_configuration_async(types.ConfigurationParams(items=items)), 3.0
        )
    except Exception as error:  # the client has no answer: initializationOptions stand
        logger.info("workspace/configuration gave no settings: %r", error)
        return
    for value in values or []:
        if isinstance(value, dict):
            ls.update_client_options(value, "workspace/configuration")


async def prewarm(ls: ParamlensLanguageServer) -> None:
    """Start a worker for each folder whose Python files import torch."""
    if ls.untrusted:
        return
    for folder in workspace_folders(ls):
        settings = ls.settings_for(folder / "__init__.py")
        if settings.untrusted or settings.inspect == "onCommand":
            continue
        if not await asyncio.to_thread(imports_torch, folder):
            continue
        interpreter = settings.interpreter_command()
        key = ls.workers.key(str(folder.resolve()), interpreter)
        if key in ls.workers:
            continue
        logger.info("pre-warming a worker for %s (%s)", folder, interpreter[0])
        async with ls.progress_bar("paramlens: starting the worker", folder.name):
            try:
                await ls.workers.ensure_started(str(folder.resolve()), interpreter)
            except Exception as error:
                ls.start_problem(error, " ".join(interpreter))


def register(server: ParamlensLanguageServer) -> None:
    """Register the lifecycle handlers."""

    @server.feature(types.INITIALIZE)
    def initialize(ls: ParamlensLanguageServer, params: types.InitializeParams) -> None:
        ls.log_handler.attach(asyncio.get_event_loop())
        ls.configured = asyncio.Event()
        options: Optional[Any] = params.initialization_options
        if isinstance(options, dict):
            ls.update_client_options(options, "initializationOptions")
        pull = ls.client_supports("text_document", "diagnostic") and ls.client_supports(
            "workspace", "diagnostics", "refresh_support"
        )
        ls.pull_diagnostics = pull
        from paramlens.features import diagnostics

        if pull:
            diagnostics.register_pull(ls)
        logger.info(
            "initialized: encoding %s, %s diagnostics, %s",
            ls.encoding,
            "pull" if pull else "push",
            "untrusted (static rules only)" if ls.untrusted else "trusted",
        )

    @server.feature(types.INITIALIZED)
    async def initialized(ls: ParamlensLanguageServer, params: types.InitializedParams) -> None:
        await pull_configuration(ls)
        if ls.configured is not None:
            ls.configured.set()
        await prewarm(ls)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: ParamlensLanguageServer, params: types.DidChangeConfigurationParams
    ) -> None:
        settings = params.settings
        if isinstance(settings, dict) and settings:
            ls.update_client_options(settings, "didChangeConfiguration")
        else:
            await pull_configuration(ls)
        wanted = set()
        for uri, state in list(ls.documents.items()):
            # New select/ignore re-filter the findings; new interpreter, device or models
            # change the reports (the cache keys on them).
            state.analysis_cache.clear()
            ls.refresh_diagnostics(uri)
            if state.path is not None and ls.can_inspect(state):
                settings = ls.settings_for(state.path)
                wanted.add(
                    ls.workers.key(ls.folder_for(state.path), settings.interpreter_command())
                )
                if settings.inspect != "onCommand":
                    ls.schedule_inspection(uri, 0.0)
        for folder in workspace_folders(ls):
            interpreter = ls.settings_for(folder / "__init__.py").interpreter_command()
            wanted.add(ls.workers.key(str(folder.resolve()), interpreter))
        await ls.workers.retain(wanted)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: ParamlensLanguageServer, params: Any) -> None:
        ls.scheduler.cancel_all()
        ls.stop_analysis()
        await ls.workers.stop_all()

    @server.feature(types.EXIT)
    def exit_(ls: ParamlensLanguageServer, params: Any) -> None:
        ls.scheduler.cancel_all()
        ls.stop_analysis()
        ls.workers.kill_all()
