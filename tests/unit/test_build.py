"""The release build: the modules setup.py compiles with mypyc are the ones that run."""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import os
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parents[2] / "setup.py"


def compiled_modules() -> tuple[str, ...]:
    """``MYPYC_MODULES`` of setup.py, read without running it."""
    for node in ast.parse(SETUP.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "MYPYC_MODULES":
            names = ast.literal_eval(node.value)
            return tuple(f"paramlens.analysis.rules.{name}" for name in names)
    raise AssertionError("setup.py lists no MYPYC_MODULES")


def test_setup_lists_modules_of_the_package() -> None:
    for name in compiled_modules():
        assert importlib.util.find_spec(name) is not None, name


@pytest.mark.skipif(
    os.environ.get("PARAMLENS_EXPECT_COMPILED") != "1",
    reason="asserted in the run of the unit suite on the compiled build (make test-compiled)",
)
def test_the_compiled_build_runs_the_compiled_modules() -> None:
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for name in compiled_modules():
        path = importlib.import_module(name).__file__ or ""
        assert path.endswith(suffixes), f"{name} runs from {path}, not from its compiled module"
