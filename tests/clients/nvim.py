"""Run headless Neovim with the project's Neovim config (``docs/editors/neovim.lua``) and the
probe script (``nvim_probe.lua``), and return what the probe saw.

Each run gets throwaway XDG folders and its own copy of the workspace; ``paramlens`` (this
venv's) is first on PATH, the worker runs in ``PARAMLENS_INTERPRETER``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CONFIG = ROOT / "docs" / "editors" / "neovim.lua"
PROBE = HERE / "nvim_probe.lua"
NVIM = shutil.which("nvim")


def run_probe(
    file: Path, steps: list[dict[str, Any]], total_ms: int = 90_000, keep: Optional[Path] = None
) -> dict[str, Any]:
    """Open ``file`` in Neovim, run the probe ``steps``, return the probe's JSON result.

    ``keep``: a folder to leave Neovim's LSP log in (it holds the server's stderr).
    """
    assert NVIM is not None, "nvim is not installed (make system-deps)"
    scratch = Path(tempfile.mkdtemp(prefix="paramlens-nvim-"))
    try:
        out = scratch / "result.json"
        env = dict(os.environ)
        for name in ("CONFIG", "DATA", "STATE", "CACHE"):
            env[f"XDG_{name}_HOME"] = str(scratch / name.lower())
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        env.setdefault("PARAMLENS_INTERPRETER", sys.executable)
        env.update(PROBE_OUT=str(out), PROBE_STEPS=json.dumps(steps), PROBE_TOTAL_MS=str(total_ms))
        command = [NVIM, "--headless", "-u", str(CONFIG), "-i", "NONE", "-n", str(file)]
        command += ["-c", f"luafile {PROBE}"]
        completed = subprocess.run(
            command,
            env=env,
            cwd=file.parent,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=total_ms / 1000 + 20,
            check=False,
        )
        try:
            result: dict[str, Any] = json.loads(out.read_text("utf-8"))
        except (OSError, ValueError) as error:
            result = {"fatal": f"no probe result ({error})"}
        result["returncode"] = completed.returncode
        result["stderr"] = completed.stderr[-4000:]
        log = scratch / "cache" / "nvim" / "lsp.log"
        if keep is not None and log.exists():
            shutil.copy(log, keep / "lsp.log")
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
