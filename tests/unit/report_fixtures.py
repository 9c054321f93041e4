"""The fixture scripts and the reports the real worker made of them (see
``tests/fixtures/reports/regenerate.py``), for the pure tests of the model-aware analysis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RUNTIME_SCRIPTS = FIXTURES / "runtime"


def load(name: str) -> tuple[str, list[Any]]:
    """(source, reports) of a fixture script: ours in runtime/, the catalogue's in freeze_cases/."""
    script = RUNTIME_SCRIPTS / f"{name}.py"
    if not script.exists():
        script = FIXTURES / "freeze_cases" / f"{name}.py"
    reports = json.loads((FIXTURES / "reports" / f"{name}.json").read_text())
    return script.read_text(), reports
