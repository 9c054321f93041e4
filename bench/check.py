"""Benchmark ``paramlens check --no-runtime`` against ``ruff check`` (and TorchFix when
``.venv-bench`` has it) on one 5,000-line file and on a tree of 200 files, in one run.

paramlens runs cold (``--no-cache``, as ruff runs with ``--no-cache``) and warm (a second run,
every file from ``.paramlens_cache/``), and cold again as the release build (the rule engine
compiled with mypyc, ``make compiled``, in ``build/compiled``); the target is at most 20 ms of
CPU per 1,000 lines.
Also times ``check_source`` in process, the number the language server pays on each keystroke.
Writes ``bench/results/check.md`` and ``check.json``.

``--against REV`` also times the cold check of the paramlens of a git revision (a landing before)
and of this tree, both started the same way, in the same rounds: on a shared machine whose speed
changes from day to day, their ratio says what the change did.

    .venv/bin/python bench/check.py            # or: make bench-check
    .venv/bin/python bench/check.py --against 1a2b3c4
"""

from __future__ import annotations

import argparse
import ast
import gc
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from paramlens.analysis.rules import check_source  # noqa: E402

CASES = ROOT / "tests" / "fixtures" / "freeze_cases"
CORPUS = ROOT / "tests" / "fixtures" / "must_not_flag"
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
COLD = "paramlens check --no-runtime --no-cache (cold)"
WARM = "paramlens check --no-runtime (warm)"
COMPILED = "paramlens check --no-runtime --no-cache (cold), release build (mypyc)"
COMPILED_BUILD = ROOT / "build" / "compiled"
JUDGED = {COLD: "cold", COMPILED: "cold (release build)", WARM: "warm"}  # rows held to the target
REPEATS = 9  # a shared virtual machine: its slow spells come and go
TARGET_MS_PER_1000_LINES = 20.0


def corpus_sources() -> list[str]:
    """Real freeze code: the catalogue's case scripts and the must-not-flag corpus."""
    files = sorted(CASES.glob("c*.py")) + sorted(CORPUS.glob("*.py"))
    return [f.read_text(encoding="utf-8") for f in files]


def big_file(sources: list[str], lines: int) -> str:
    """Concatenate the corpus (names kept apart per copy) up to ``lines`` lines."""
    parts: list[str] = []
    count = 0
    index = 0
    while count < lines:
        text = sources[index % len(sources)]
        parts.append(f"# --- copy {index}\n{text}\n")
        count += text.count("\n") + 2
        index += 1
    return "".join(parts)


def child_environment(pycache: Path) -> dict[str, str]:
    """The environment of the timed commands: Python bytecode cached (in ``pycache``), as after
    ``pip install``; a ``PYTHONDONTWRITEBYTECODE`` of the calling shell would make paramlens
    compile its own modules again on every run."""
    environment = dict(os.environ)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment["PYTHONPYCACHEPREFIX"] = str(pycache)
    return environment


def run_once(command: list[str], cwd: Path, environment: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system of the child) of one run of ``command``, in ms."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=False, cwd=cwd, env=environment)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def timed(
    commands: dict[str, list[str]], cwd: Path, environment: dict[str, str], rounds: int = REPEATS
) -> dict[str, Optional[tuple[float, float]]]:
    """Best wall time and best CPU time of each command, in milliseconds (None if the tool is
    missing). Each command runs once untimed first (bytecode written, files in the page
    cache, and for paramlens without --no-cache, its results cache filled), then once per
    round, in turn: a slow spell of a shared machine hits every tool alike. CPU time is what a
    busy machine distorts least."""
    present = {
        name: command
        for name, command in commands.items()
        if shutil.which(command[0]) is not None or Path(command[0]).exists()
    }
    for command in present.values():
        subprocess.run(command, capture_output=True, check=False, cwd=cwd, env=environment)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in present}
    for _ in range(rounds):
        for name, command in present.items():
            samples[name].append(run_once(command, cwd, environment))
    return {
        name: (
            (min(w for w, _ in samples[name]), min(c for _, c in samples[name]))
            if name in samples
            else None
        )
        for name in commands
    }


# Counted in instructions too (valgrind's callgrind), which the load of a shared machine does
# not change: the rows of these tools.
COUNTED = (
    "paramlens check --no-runtime --no-cache",
    "paramlens at",
    "paramlens, this tree",
    "ruff",
)


def instructions(command: list[str], cwd: Path, environment: dict[str, str]) -> Optional[int]:
    """The instructions ``command`` executes (all its threads), or None without valgrind."""
    if shutil.which("valgrind") is None:
        return None
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind", *command],
            capture_output=True, text=True, check=False, cwd=cwd, env=environment,
        )  # fmt: skip
    found = re.search(r"Collected : (\d+)", done.stderr)
    return int(found.group(1)) if found else None


def in_process(sources: list[str]) -> float:
    """Best CPU time of ``check_source`` over all ``sources``, in milliseconds."""
    samples = []
    for _ in range(REPEATS):
        start = time.process_time()
        for source in sources:
            check_source(source)
        samples.append((time.process_time() - start) * 1000)
    return min(samples)


def parse_only(sources: list[str]) -> float:
    """Best CPU time of ``ast.parse`` alone (the floor of any ast-based checker), in ms, with
    the cyclic collector off as ``check_source`` has it."""
    samples = []
    gc.disable()
    try:
        for _ in range(REPEATS):
            start = time.process_time()
            for source in sources:
                ast.parse(source)
            samples.append((time.process_time() - start) * 1000)
    finally:
        gc.enable()
    return min(samples)


def launcher(server: Path) -> list[str]:
    """``paramlens check --no-runtime --no-cache`` of the package in ``server``, started as the
    ``paramlens`` command starts it (its ``main()``, which ends the process)."""
    code = (
        f"import sys; sys.path.insert(0, {str(server)!r}); "
        "from paramlens.cli import main; sys.exit(main())"
    )
    return [sys.executable, "-c", code, "check", "--no-runtime", "--no-cache"]


def main() -> int:
    """Run the benchmark and write the results."""
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--against", metavar="REV", help="also time this git revision's check")
    against = options.parse_args().against
    sources = corpus_sources()
    torchfix = ROOT / ".venv-bench" / "bin" / "torchfix"
    paramlens = [str(BIN / "paramlens"), "check", "--no-runtime"]
    tools: dict[str, list[str]] = {COLD: [*paramlens, "--no-cache"]}
    if (COMPILED_BUILD / "paramlens").is_dir():
        tools[COMPILED] = launcher(COMPILED_BUILD)
    else:
        print(f"no release build in {COMPILED_BUILD} (make compiled): its row is left out")
    tools |= {
        WARM: paramlens,
        "ruff check (all rules)": [str(BIN / "ruff"), "check", "--no-cache", "--isolated",
                                   "--select", "ALL", "--exit-zero", "--quiet"],
        "ruff check (default rules)": [str(BIN / "ruff"), "check", "--no-cache", "--isolated",
                                       "--exit-zero", "--quiet"],
        "ruff check (default rules), from its cache": [str(BIN / "ruff"), "check", "--isolated",
                                                       "--exit-zero", "--quiet"],
    }  # fmt: skip
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        compared: dict[str, str] = {}
        if against:
            revision = subprocess.run(
                ["git", "rev-parse", "--short", against],
                cwd=ROOT, capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            archive = subprocess.run(
                ["git", "archive", revision, "server"], cwd=ROOT, capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
            (base / "server").rename(base / "against")
            compared = {
                f"paramlens at {revision} (cold, same start)": revision,
                "paramlens, this tree (cold, same start)": "this tree",
            }
            tools[next(iter(compared))] = launcher(base / "against")
            tools[list(compared)[1]] = launcher(ROOT / "server")
        # No pyproject.toml above: both caches land in the working folder, outside the inputs.
        environment = child_environment(base / "pycache")
        single = base / "big" / "train.py"
        single.parent.mkdir()
        single.write_text(big_file(sources, 5000), encoding="utf-8")
        tree = base / "tree"
        for i in range(200):
            path = tree / f"pkg{i % 10}" / f"module_{i}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(sources[i % len(sources)], encoding="utf-8")
        tree_files = sorted(tree.rglob("*.py"))
        tree_lines = sum(p.read_text().count("\n") for p in tree_files)
        single_lines = single.read_text().count("\n")
        for label, target, lines in (
            ("one 5,000-line file", single, single_lines),
            ("200 files", tree, tree_lines),
        ):
            found = timed(
                {tool: [*command, str(target)] for tool, command in tools.items()},
                base,
                environment,
            )
            if torchfix.exists():  # one run: it takes seconds
                found["torchfix"] = run_once([str(torchfix), str(target)], base, environment)
            for tool, times in found.items():
                wall, cpu = times if times is not None else (None, None)
                per_1000 = None if cpu is None else round(cpu / lines * 1000, 2)
                counted = None
                if times is not None and tool.startswith(COUNTED):
                    counted = instructions([*tools[tool], str(target)], base, environment)
                rows.append(
                    {
                        "input": label,
                        "lines": lines,
                        "tool": tool,
                        "wall_ms": None if wall is None else round(wall, 1),
                        "cpu_ms": None if cpu is None else round(cpu, 1),
                        "instructions_m": None if counted is None else round(counted / 1e6, 1),
                        "cpu_ms_per_1000_lines": per_1000,
                        "meets_target": None
                        if per_1000 is None or tool not in JUDGED
                        else per_1000 <= TARGET_MS_PER_1000_LINES,
                    }
                )
        big = single.read_text()
        in_process_big = in_process([big])
        parse_big = parse_only([big])
        tree_sources = [p.read_text() for p in tree_files]
        in_process_tree = in_process(tree_sources)
    summary = {
        "python": platform.python_version(),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "repeats": REPEATS,
        "process_rows": rows,
        "check_source_5000_lines_ms": round(in_process_big, 1),
        "check_source_5000_lines_ms_per_1000": round(in_process_big / single_lines * 1000, 2),
        "ast_parse_5000_lines_ms": round(parse_big, 1),
        "check_source_200_files_ms": round(in_process_tree, 1),
        "check_source_200_files_ms_per_1000": round(in_process_tree / tree_lines * 1000, 2),
        "torchfix": "installed in .venv-bench" if torchfix.exists() else "not installed",
        "against": against,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "check.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines_md = [
        "# paramlens check benchmark",
        "",
        f"Python {summary['python']}, {summary['machine']}, {summary['cpus']} CPUs shared with "
        f"other work (load average {summary['load_average']}); for each command the best of "
        f"{REPEATS} rounds that run every command once in turn, after one untimed run of each "
        "(TorchFix: one run; wall time, process start included), one run of "
        "`bench/check.py`. Inputs: the catalogue's case scripts and the must-not-flag corpus, "
        "concatenated to 5,000 lines, or copied to 200 files.",
        "",
        f"*Cold*: `{COLD}`, every file parsed and checked (ruff's rows run with `--no-cache` "
        f"too). *Warm*: `{WARM}` again over unchanged files, every file's findings from "
        "`.paramlens_cache/` (the rule engine is not even imported). *Release build*: the cold "
        "command as the released wheels run it, with the rule engine compiled by mypyc "
        "(`make compiled`; the same source, whose unit suite `make test` also runs on that "
        "build); the other paramlens rows run the editable install of `make setup`, plain "
        "Python. Python bytecode is cached for every run, as after `pip install` (the shell "
        "here sets `PYTHONDONTWRITEBYTECODE`, "
        "under which paramlens would compile its own modules again on each run, ~20 ms more). "
        f"Target: at most {TARGET_MS_PER_1000_LINES:.0f} ms of CPU per 1,000 lines.",
        "",
        "| input | lines | tool | wall ms | CPU ms | CPU ms / 1,000 lines | instructions (M) "
        "| target met |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        wall = "n/a" if row["wall_ms"] is None else f"{row['wall_ms']:.1f}"
        cpu = "n/a" if row["cpu_ms"] is None else f"{row['cpu_ms']:.1f}"
        per = (
            "n/a" if row["cpu_ms_per_1000_lines"] is None else f"{row['cpu_ms_per_1000_lines']:.2f}"
        )
        mark = {None: "", True: "yes", False: "**no**"}[row["meets_target"]]
        count = "" if row["instructions_m"] is None else f"{row['instructions_m']:,.1f}"
        lines_md.append(
            f"| {row['input']} | {row['lines']} | {row['tool']} | {wall} | {cpu} | {per} "
            f"| {count} | {mark} |"
        )
    judged = [row for row in rows if row["meets_target"] is not None]

    def verdict(row: dict[str, Any]) -> str:
        run = JUDGED[row["tool"]]
        return f"{run} on {row['input']} ({row['cpu_ms_per_1000_lines']:.2f})"

    met = [verdict(row) for row in judged if row["meets_target"]]
    missed = [verdict(row) for row in judged if not row["meets_target"]]
    lines_md += [
        "",
        f"Target of at most {TARGET_MS_PER_1000_LINES:.0f} ms / 1,000 lines: met by "
        f"{', '.join(met) or 'no row'}; missed by {', '.join(missed) or 'no row'}.",
        "",
    ]
    if compared:
        old, new = compared
        ratios = []
        for label in ("one 5,000-line file", "200 files"):
            by_tool = {r["tool"]: r for r in rows if r["input"] == label}
            ratio = f"{by_tool[new]['cpu_ms'] / by_tool[old]['cpu_ms']:.3f} in CPU time"
            if by_tool[new]["instructions_m"] and by_tool[old]["instructions_m"]:
                share = by_tool[new]["instructions_m"] / by_tool[old]["instructions_m"]
                ratio += f", {share:.3f} in instructions"
            ratios.append(f"{ratio} on {label}")
        lines_md += [
            f"This tree against {compared[old]}, both started as `python -c` with the package "
            f"first on `sys.path`, in the same rounds (this tree / {compared[old]}): "
            f"{'; '.join(ratios)}.",
            "",
        ]
    lines_md += [
        "In process (`check_source` from scratch, plain Python, what the CLI runs on each file it "
        "has no cache entry for, without interpreter start and imports; best CPU time; the "
        "language server re-checks only what an edit changed, see `lsp.md`):",
        "",
        f"* 5,000-line file: {summary['check_source_5000_lines_ms']} ms "
        f"({summary['check_source_5000_lines_ms_per_1000']} ms / 1,000 lines)",
        f"* of which `ast.parse` alone: {summary['ast_parse_5000_lines_ms']} ms",
        f"* 200 files: {summary['check_source_200_files_ms']} ms "
        f"({summary['check_source_200_files_ms_per_1000']} ms / 1,000 lines)",
        f"* TorchFix: {summary['torchfix']}",
        "",
    ]
    (RESULTS / "check.md").write_text("\n".join(lines_md))
    print("\n".join(lines_md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
