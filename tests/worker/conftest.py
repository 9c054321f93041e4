"""Worker tests: the real worker subprocess in the interpreter with torch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from worker_support import worker_settings

from paramlens.worker_client import WorkerSession


@pytest.fixture(scope="module")
def session() -> Iterator[WorkerSession]:
    """One real worker shared by a test module (as the CLI shares one across files)."""
    with WorkerSession(worker_settings()) as shared:
        shared.start()
        yield shared
