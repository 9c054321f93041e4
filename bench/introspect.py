"""Benchmark of the introspection engine against ``torchinfo.summary()``.

For a DarkNet-53 (YOLOv3 backbone), a 7B and a 70B Llama-style definition it measures, in one run:

* paramlens cold: a new worker (start + torch import + warm-up) until the first report;
* paramlens warm: one more inspection on a running worker (fork, load, build on meta, report);
* the worker's peak RSS (the worker and its inspection children, sampled from ``/proc``);
* torchinfo in a fresh process: import, build the model (CPU where it fits in RAM, else on the
  meta device), ``summary()`` — cold (first) and warm (repeated in the same process) — and its
  peak RSS.

Results go to ``bench/results/introspect.json`` and ``bench/results/introspect.md``.
Usage: ``python bench/introspect.py [--repeat N] [--cold N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

from paramlens.settings import Settings  # noqa: E402 - after the path set-up above
from paramlens.worker_client import WorkerClient, build_inspect_params  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PYTHON = os.environ.get("PARAMLENS_INTERPRETER", sys.executable)
MODELS = [
    # name, file, object, expected parameters, how torchinfo's process builds it, fits on CPU
    (
        "DarkNet-53",
        ROOT / "examples" / "darknet.py",
        "DarkNet",
        40_584_928,
        "DarkNet([1, 2, 8, 8, 4])",
        True,
    ),
    ("Llama 7B", ROOT / "bench/models/llama.py", "llama_7b", 6_738_415_616, "llama_7b()", False),
    (
        "Llama 70B",
        ROOT / "bench/models/llama.py",
        "llama_70b",
        68_976_648_192,
        "llama_70b()",
        False,
    ),
]
TARGETS = {"warm_7b_ms": 150, "warm_70b_ms": 400, "rss_70b_mb": 1024, "cold_over_import_s": 1.5}

TORCHINFO_SCRIPT = r"""
import json, resource, sys, time
started = time.perf_counter()
import torch, torchinfo
imported = time.perf_counter() - started
# The definitions only, as paramlens loads them: examples/darknet.py trains at its top level.
sys.path.insert(0, sys.argv[1])
from paramlens_worker import loader
module = loader.load_target(sys.argv[2], [sys.argv[3]], "definitions")
factory = lambda: eval(sys.argv[4], vars(module))
device = sys.argv[5]
repeat = int(sys.argv[6])
times = []
for _ in range(repeat):
    begin = time.perf_counter()
    with torch.device(device):
        model = factory()
    stats = torchinfo.summary(model, verbose=0)
    times.append(time.perf_counter() - begin)
    count = stats.total_params
    del model, stats
print(json.dumps({
    "import_s": imported, "times_s": times, "total_params": count,
    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def tree_rss_mb(pid: int) -> float:
    """RSS of ``pid`` and its children (an upper bound: copy-on-write pages count twice)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids.extend(int(c) for c in children)
    except OSError:
        pass
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class RssSampler:
    """Samples the worker tree's RSS every few milliseconds; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.pid))
            time.sleep(0.003)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def import_torch_seconds(runs: int) -> list[float]:
    """Wall time of ``python -c "import torch"``."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([PYTHON, "-c", "import torch"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


async def paramlens_cold(path: Path, obj: str) -> tuple[float, float]:
    """Seconds from a new worker to the first report, and the report's own build time."""
    settings = Settings(interpreter=(PYTHON,), timeout_seconds=120)
    started = time.perf_counter()
    client = WorkerClient(settings.interpreter_command())
    try:
        result = await client.inspect(build_inspect_params(path, settings, objects=[obj]))
    finally:
        await client.stop()
    return time.perf_counter() - started, result["duration_ms"]


async def paramlens_warm(
    client: WorkerClient, path: Path, obj: str, repeat: int, expected: int
) -> tuple[list[float], list[float], float]:
    """Warm inspection wall times (ms), in-child times (ms) and the worker's peak RSS (MB)."""
    settings = Settings(interpreter=(PYTHON,), timeout_seconds=120)
    params = build_inspect_params(path, settings, objects=[obj])
    walls, inner = [], []
    assert client.pid is not None
    with RssSampler(client.pid) as sampler:
        for _ in range(repeat):
            started = time.perf_counter()
            result = await client.inspect(params)
            walls.append((time.perf_counter() - started) * 1000)
            inner.append(result["duration_ms"])
            (report,) = result["reports"]
            assert report["status"] == "ok", report["error"]
            assert report["totals"]["parameters"] == expected, report["totals"]
    return walls, inner, sampler.peak


def torchinfo_run(path: Path, expression: str, on_cpu: bool, repeat: int) -> dict[str, Any]:
    """torchinfo in a fresh process; on the meta device when the model cannot fit in RAM."""
    device = "cpu" if on_cpu else "meta"
    started = time.perf_counter()
    arguments = [str(ROOT / "server"), str(path), str(ROOT), expression, device, str(repeat)]
    done = subprocess.run(
        [PYTHON, "-c", TORCHINFO_SCRIPT, *arguments],
        capture_output=True,
        text=True,
        cwd=str(path.parent),
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        return {"device": device, "error": done.stderr.strip().splitlines()[-1:]}
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    data["device"] = device
    data["process_wall_s"] = wall
    return data


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    with contextlib.suppress(OSError, IndexError):
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    torch_version = subprocess.run(
        [PYTHON, "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch_version,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def median(values: list[float]) -> Optional[float]:
    """Median, or None for no values."""
    return statistics.median(values) if values else None


async def run(repeat: int, cold_runs: int) -> dict[str, Any]:
    """Every measurement."""
    results: dict[str, Any] = {"machine": machine(), "repeat": repeat, "cold_runs": cold_runs}
    imports = import_torch_seconds(cold_runs)
    results["import_torch_s"] = median(imports)
    results["import_torch_best_s"] = min(imports)
    settings = Settings(interpreter=(PYTHON,))
    client = WorkerClient(settings.interpreter_command())
    started = time.perf_counter()
    await client.start()
    results["worker_start_s"] = time.perf_counter() - started
    assert client.pid is not None
    results["worker_idle_rss_mb"] = tree_rss_mb(client.pid)
    rows = []
    try:
        for name, path, obj, expected, expression, on_cpu in MODELS:
            colds = [await paramlens_cold(path, obj) for _ in range(cold_runs)]
            walls, inner, peak = await paramlens_warm(client, path, obj, repeat, expected)
            info = torchinfo_run(path, expression, on_cpu, max(3, repeat // 3))
            rows.append(
                {
                    "model": name,
                    "parameters": expected,
                    "paramlens_cold_s": median([c[0] for c in colds]),
                    "paramlens_cold_best_s": min(c[0] for c in colds),
                    "paramlens_cold_runs_s": [c[0] for c in colds],
                    "paramlens_warm_runs_ms": walls,
                    "paramlens_warm_ms": median(walls),
                    "paramlens_warm_best_ms": min(walls),
                    "paramlens_warm_in_child_ms": median(inner),
                    "paramlens_worker_peak_rss_mb": peak,
                    "torchinfo": info,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    finally:
        await client.stop()
    results["models"] = rows
    by_name = {r["model"]: r for r in rows}
    results["targets"] = {
        "warm_7b_ms": [by_name["Llama 7B"]["paramlens_warm_ms"], TARGETS["warm_7b_ms"]],
        "warm_70b_ms": [by_name["Llama 70B"]["paramlens_warm_ms"], TARGETS["warm_70b_ms"]],
        "rss_70b_mb": [
            by_name["Llama 70B"]["paramlens_worker_peak_rss_mb"],
            TARGETS["rss_70b_mb"],
        ],
        "cold_over_import_s": [
            max(r["paramlens_cold_s"] for r in rows) - results["import_torch_s"],
            TARGETS["cold_over_import_s"],
        ],
        "best_cold_over_best_import_s": [
            max(r["paramlens_cold_best_s"] for r in rows) - results["import_torch_best_s"],
            TARGETS["cold_over_import_s"],
        ],
    }
    return results


def _ms(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def render_markdown(results: dict[str, Any]) -> str:
    """The results as the committed markdown page."""
    m = results["machine"]
    lines = [
        "# Introspection benchmark",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM; {m['os']}; "
        f"Python {m['python']}, torch {m['torch']}. Run {m['date']}, load average "
        f"{m['load_average_1min']:.1f} at the start (the machine is shared).",
        f"Medians: warm over {results['repeat']} inspections, cold over "
        f"{results['cold_runs']} new workers. `python -c 'import torch'`: "
        f"{results['import_torch_s']:.2f} s. Worker start (import + warm-up): "
        f"{results['worker_start_s']:.2f} s, idle RSS {results['worker_idle_rss_mb']:.0f} MB.",
        "",
        "| model | params | paramlens cold (best) | paramlens warm (best) | worker peak RSS "
        "| torchinfo device | torchinfo cold (import+build+summary) | torchinfo warm "
        "| torchinfo peak RSS |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for row in results["models"]:
        info = row["torchinfo"]
        if "error" in info:
            info_cells = f"{info['device']} | failed: {' '.join(info['error'])} | - | -"
        else:
            cold = info["import_s"] + info["times_s"][0]
            warm = median(info["times_s"][1:]) or info["times_s"][0]
            info_cells = (
                f"{info['device']} | {cold:.2f} s | {_ms(warm * 1000)} | "
                f"{info['max_rss_mb']:.0f} MB"
            )
        lines.append(
            f"| {row['model']} | {row['parameters']:,} | {row['paramlens_cold_s']:.2f} s "
            f"({row['paramlens_cold_best_s']:.2f} s) "
            f"| {_ms(row['paramlens_warm_ms'])} ({_ms(row['paramlens_warm_best_ms'])}) "
            f"| {row['paramlens_worker_peak_rss_mb']:.0f} MB "
            f"| {info_cells} |"
        )
    lines += ["", "Targets (measured / target):", ""]
    for key, (value, target) in results["targets"].items():
        verdict = "met" if value <= target else "MISSED"
        lines.append(f"* {key}: {value:.2f} / {target} — {verdict}")
    lines += [
        "",
        "Notes: times are medians, with the best run in brackets (the closest to an idle "
        "machine when others share the two cores; best_cold_over_best_import_s compares those). "
        "paramlens builds on the meta device in a forked child of a warm worker; warm time is "
        "the full round trip (request, fork, definitions-only load, build, report, answer); "
        "cold time starts a new worker (import torch, warm-up) first. Worker RSS sums the "
        "worker and its child (copy-on-write pages counted twice, so it is an upper bound). "
        "torchinfo builds on CPU where the "
        "float32 weights fit in RAM; the Llama models (27 GB / 276 GB on CPU) only build on "
        "the meta device, where torchinfo can count parameters but not run a forward pass.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    """Run the benchmark and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="warm inspections per model")
    parser.add_argument("--cold", type=int, default=3, help="new workers per model")
    args = parser.parse_args()
    results = asyncio.run(run(args.repeat, args.cold))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "introspect.json").write_text(json.dumps(results, indent=2) + "\n")
    page = render_markdown(results)
    (RESULTS / "introspect.md").write_text(page)
    print(page)
    return 0 if all(v <= t for v, t in results["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
