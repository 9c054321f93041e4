"""Helpers of the worker tests: paths, the interpreter with torch, test settings."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from paramlens.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FAILURES = ROOT / "tests" / "fixtures" / "failures"
TIMEOUT_SECONDS = 4.0
MEMORY_LIMIT_MB = 1024


def worker_interpreter() -> str:
    """The Python with torch the worker runs in (``PARAMLENS_INTERPRETER`` in ``make test``)."""
    return os.environ.get("PARAMLENS_INTERPRETER", sys.executable)


def worker_settings(**changes: object) -> Settings:
    """Settings of the worker tests: short timeout, 1 GB memory limit."""
    values: dict[str, object] = {
        "interpreter": (worker_interpreter(),),
        "timeout_seconds": TIMEOUT_SECONDS,
        "memory_limit_mb": MEMORY_LIMIT_MB,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]
