"""Language-server benchmark: paramlens against jedi-language-server and python-lsp-server.

Measured over real stdio sessions (the same client code drives every server):

* ``initialize`` wall time and the server's resident memory (RSS, and its peak);
* ``didOpen`` -> first code lens with numbers, cold (fresh server and worker) and warm;
* hover and codeLens latency, p50/p99 over ``--requests`` requests on a loaded model
  (DarkNet-53, 40.6 M parameters), at the same positions for every server;
* ``didChange`` -> static diagnostics on a 5,000-line file: range edits as editors send them,
  typing in a line and adding or removing a line (the server re-parses only what changed and
  has no debounce: nothing waits before the rules run).

The other servers live in ``.venv-bench`` (they may pin other pygls versions):
``python3 -m venv .venv-bench && .venv-bench/bin/pip install jedi-language-server
python-lsp-server`` (``make bench-lsp`` does both). Results: ``bench/results/lsp.json`` and
``bench/results/lsp.md``.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from paramlens.analysis.source_map import build_source_map

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MODEL_FILE = ROOT / "examples" / "darknet.py"
BENCH_VENV = ROOT / ".venv-bench" / "bin"
TARGETS = {
    "hover_p50_ms": 5.0,
    "hover_p99_ms": 25.0,
    "did_change_to_diagnostics_p50_ms": 50.0,
    "did_change_new_line_to_diagnostics_p50_ms": 50.0,
    "server_rss_mb": 80.0,
}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def rss_mb(pid: int) -> dict[str, float]:
    """Resident memory of a process now and at its peak (Linux /proc)."""
    found: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return {
        "rss_mb": round(found.get("VmRSS", 0.0), 1),
        "peak_rss_mb": round(found.get("VmHWM", 0.0), 1),
    }


class RawClient:
    """A minimal JSON-RPC client over a server's stdio: the same bytes for every server (no
    typed decoding, which would trip over other servers' protocol versions)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.ids = 0
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.published: dict[str, list[tuple[float, Optional[int], int]]] = {}
        self.reader = asyncio.ensure_future(self._read())

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def request(self, method: str, params: Any) -> Any:
        self.ids += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[self.ids] = future
        self._send({"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params})
        return await future

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    async def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = 0
            while True:
                line = await stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            message = json.loads(await stream.readexactly(length))
            arrived = time.perf_counter()
            if "method" in message and "id" in message:  # a request from the server
                result: Any = None
                if message["method"] == "workspace/configuration":
                    result = [None for _ in message["params"]["items"]]
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": result})
            elif "method" in message:
                if message["method"] == "textDocument/publishDiagnostics":
                    params = message["params"]
                    self.published.setdefault(params["uri"], []).append(
                        (arrived, params.get("version"), len(params["diagnostics"]))
                    )
            else:
                future = self.waiting.pop(message.get("id"), None)
                if future is not None and not future.done():
                    future.set_result(message.get("result"))


CAPABILITIES: dict[str, Any] = {
    "general": {"positionEncodings": ["utf-16"]},
    "window": {"workDoneProgress": True},
    "workspace": {"configuration": True, "codeLens": {"refreshSupport": True}},
    "textDocument": {
        "hover": {"contentFormat": ["markdown", "plaintext"]},
        "publishDiagnostics": {"versionSupport": True},
        "synchronization": {"didSave": True},
    },
}


class Session:
    """One server over stdio."""

    def __init__(self, name: str, command: list[str], root: Path, options: Any = None) -> None:
        self.name = name
        self.command = command
        self.root = root
        self.options = options
        self.pid = 0
        self.initialize_ms = 0.0
        self.client: RawClient

    async def start(self) -> None:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=str(self.root),
            limit=1 << 26,
        )
        self.pid = process.pid
        self.client = RawClient(process)
        await self.client.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": self.root.as_uri(),
                "workspaceFolders": [{"uri": self.root.as_uri(), "name": "bench"}],
                "capabilities": CAPABILITIES,
                "initializationOptions": self.options,
            },
        )
        self.client.notify("initialized", {})
        self.initialize_ms = (time.perf_counter() - started) * 1000

    def open(self, path: Path, text: Optional[str] = None, version: int = 1) -> str:
        uri = path.as_uri()
        document = {
            "uri": uri,
            "languageId": "python",
            "version": version,
            "text": text if text is not None else path.read_text("utf-8"),
        }
        self.client.notify("textDocument/didOpen", {"textDocument": document})
        return uri

    async def hover(self, uri: str, position: dict[str, int]) -> Any:
        return await self.client.request(
            "textDocument/hover", {"textDocument": {"uri": uri}, "position": position}
        )

    async def lenses(self, uri: str) -> list[dict[str, Any]]:
        result = await self.client.request("textDocument/codeLens", {"textDocument": {"uri": uri}})
        return list(result or [])

    def change(self, uri: str, changes: list[dict[str, Any]], version: int) -> None:
        self.client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes},
        )

    def close(self, uri: str) -> None:
        self.client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.client.request("shutdown", None), 10)
            self.client.notify("exit", None)
            await asyncio.wait_for(self.client.process.wait(), 10)
        except (asyncio.TimeoutError, ConnectionError) as error:
            print(f"{self.name}: no clean shutdown ({error!r}); killing it", file=sys.stderr)
            self.client.process.kill()
            await self.client.process.wait()
        self.client.reader.cancel()


def hover_positions(text: str, count: int = 8) -> list[dict[str, int]]:
    """Positions of model-related tokens (submodules, chains, collection calls), spread out."""
    source_map = build_source_map(ast.parse(text), text)
    targets = [t for t in source_map.targets if t.kind != "class"]
    step = max(1, len(targets) // count)
    chosen = targets[::step][:count]
    return [{"line": t.span.start_line, "character": t.span.start_col} for t in chosen]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 50), 3),
        "p99_ms": round(percentile(values, 99), 3),
        "max_ms": round(max(values), 3),
        "count": len(values),
    }


async def timed_hovers(
    session: Session, uri: str, positions: Sequence[dict[str, int]], requests: int
) -> tuple[dict[str, float], int]:
    times: list[float] = []
    answered = 0
    for index in range(requests):
        position = positions[index % len(positions)]
        started = time.perf_counter()
        result = await session.hover(uri, position)
        times.append((time.perf_counter() - started) * 1000)
        answered += result is not None
    return summary(times), answered


async def first_lens_with_numbers(session: Session, uri: str, timeout: float = 180) -> float:
    """Milliseconds from now until a lens title carries parameter counts."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        titles = [
            lens["command"]["title"] for lens in await session.lenses(uri) if lens.get("command")
        ]
        if any("params" in title for title in titles):
            return (time.perf_counter() - started) * 1000
        await asyncio.sleep(0.005)
    raise TimeoutError("no lens with numbers")


def long_file(lines: int = 5000) -> str:
    """A 5,000-line module of model code: DarkNet under new names, again and again, with a
    few freeze mistakes at the end (so the diagnostics are not empty)."""
    base = MODEL_FILE.read_text("utf-8")
    chunks: list[str] = []
    index = 0
    while sum(chunk.count("\n") for chunk in chunks) < lines - 12:
        chunks.append(re.sub(r"\b(DarkNet|BasicBlock|model|darknet53)\b", rf"\g<1>{index}", base))
        index += 1
    text = "\n".join("".join(chunks).splitlines()[: lines - 12])
    mistakes = (
        "\n\nnet = DarkNet0([1, 2, 8, 8, 4])\n"
        "for key, value in net.state_dict().items():\n"
        "    value.requires_grad = False\n"
        "net.requires_grad = False\n"
        "for name, param in net.named_parameters():\n"
        "    param.requires_grad == False\n"
    )
    return text + mistakes


def edit_rounds(text: str, rounds: int, new_lines: bool) -> list[tuple[dict[str, Any], str]]:
    """``rounds`` edits of ``text`` as an editor sends them (a range change) with the text after
    each. Typing: the code of one line changes (``self.inplanes = 32`` -> ``= 33``, ``= 34``...).
    New lines: a statement is added after that line, then removed, in turns (the lines after it
    move). Both in a class halfway through the file."""
    lines = text.split("\n")
    marker = "self.inplanes = 32"
    rows = [i for i, line in enumerate(lines) if line.strip() == marker]
    row = rows[len(rows) // 2]
    col = lines[row].index(marker) + len(marker)
    indent = lines[row][: lines[row].index(marker)]
    edits = []
    current = text
    for round_ in range(rounds):
        if new_lines:
            added = f"\n{indent}self.extra = {round_}"
            if round_ % 2 == 0:
                change_range = {
                    "start": {"line": row, "character": col},
                    "end": {"line": row, "character": col},
                }
                change = {"range": change_range, "text": added}
                current = "\n".join([*lines[: row + 1], added[1:], *lines[row + 1 :]])
            else:
                change_range = {
                    "start": {"line": row, "character": col},
                    "end": {"line": row + 1, "character": len(added) - 1},
                }
                change = {"range": change_range, "text": ""}
                current = text
        else:
            start = {"line": row, "character": col - 2}
            old = "32" if round_ == 0 else str(32 + round_)
            change = {
                "range": {"start": start, "end": {"line": row, "character": col - 2 + len(old)}},
                "text": str(33 + round_),
            }
            current = "\n".join(
                [*lines[:row], lines[row][: col - 2] + str(33 + round_), *lines[row + 1 :]]
            )
        # The text the server makes of the change must be the one timed in process.
        assert apply_change(edits[-1][1] if edits else text, change) == current
        edits.append((change, current))
    return edits


def apply_change(text: str, change: dict[str, Any]) -> str:
    """A range change applied to ``text`` (ASCII text: columns are characters)."""
    lines = text.split("\n")
    start, end = change["range"]["start"], change["range"]["end"]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    first = offsets[start["line"]] + start["character"]
    last = offsets[end["line"]] + end["character"]
    return text[:first] + change["text"] + text[last:]


async def did_change_latency(
    session: Session, path: Path, rounds: int, new_lines: bool, lenses: bool = False
) -> dict[str, float]:
    """didChange (a range edit of the 5,000-line file, see :func:`edit_rounds`) ->
    publishDiagnostics of that version. ``lenses``: as VS Code does, the client asks for the
    code lenses of each version once its diagnostics arrived, and the next edit comes while
    the server computes them."""
    text = long_file()
    path.write_text(text, "utf-8")
    uri = session.open(path, text)
    await asyncio.sleep(1.0)  # the first analysis of the whole file
    times: list[float] = []
    pending: list[asyncio.Task[Any]] = []
    for version, (change, _) in enumerate(edit_rounds(text, rounds, new_lines), start=2):
        if lenses and version > 2:
            pending.append(asyncio.ensure_future(session.lenses(uri)))
            await asyncio.sleep(0.005)  # the request is being answered
        count_before = len(session.client.published.get(uri, []))
        started = time.perf_counter()
        session.change(uri, [change], version)
        while True:
            arrivals = session.client.published.get(uri, [])[count_before:]
            hit = next((t for t, v, _ in arrivals if v == version), None)
            if hit is not None:
                times.append((hit - started) * 1000)
                break
            if time.perf_counter() - started > 30:
                raise TimeoutError("no diagnostics after didChange")
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.05)
    await asyncio.gather(*pending)
    session.close(uri)
    return summary(times)


async def bench_paramlens(workspace: Path, requests: int) -> dict[str, Any]:
    interpreter = os.environ.get("PARAMLENS_INTERPRETER", sys.executable)
    session = Session(
        "paramlens",
        [sys.executable, "-m", "paramlens", "serve"],
        workspace,
        {"interpreter": interpreter},
    )
    await session.start()
    result: dict[str, Any] = {"initialize_ms": round(session.initialize_ms, 1)}
    result["rss_after_initialize"] = rss_mb(session.pid)
    model = workspace / "darknet.py"
    uri = session.open(model)
    result["did_open_to_lens_cold_ms"] = round(await first_lens_with_numbers(session, uri), 1)
    # warm: the worker is running; a changed file is not in the report cache
    warm = workspace / "darknet_warm.py"
    warm.write_text(model.read_text("utf-8") + "\n# warm copy\n", "utf-8")
    warm_uri = session.open(warm)
    result["did_open_to_lens_warm_ms"] = round(await first_lens_with_numbers(session, warm_uri), 1)
    text = model.read_text("utf-8")
    positions = hover_positions(text)
    await timed_hovers(session, uri, positions, 20)  # caches of the first requests
    result["hover"], result["hover_answered"] = await timed_hovers(
        session, uri, positions, requests
    )
    lens_times = []
    for _ in range(requests):
        started = time.perf_counter()
        await session.lenses(uri)
        lens_times.append((time.perf_counter() - started) * 1000)
    result["code_lens"] = summary(lens_times)
    result["rss_with_model_loaded"] = rss_mb(session.pid)
    result["did_change_to_diagnostics_5000_lines"] = await did_change_latency(
        session, workspace / "long_script.py", 30, new_lines=False
    )
    result["did_change_new_line_to_diagnostics_5000_lines"] = await did_change_latency(
        session, workspace / "long_script_lines.py", 30, new_lines=True
    )
    result["did_change_with_lenses_to_diagnostics_5000_lines"] = await did_change_latency(
        session, workspace / "long_script_lenses.py", 30, new_lines=False, lenses=True
    )
    result["rss_end"] = rss_mb(session.pid)
    await session.stop()
    return result


async def bench_other(
    name: str, executable: Path, workspace: Path, requests: int
) -> dict[str, Any]:
    if not executable.exists():
        return {"skipped": f"{executable} missing (see this script's docstring)"}
    session = Session(name, [str(executable)], workspace)
    await session.start()
    result: dict[str, Any] = {"initialize_ms": round(session.initialize_ms, 1)}
    model = workspace / "darknet.py"
    uri = session.open(model)
    positions = hover_positions(model.read_text("utf-8"))
    await timed_hovers(session, uri, positions, 5)
    result["hover"], result["hover_answered"] = await timed_hovers(
        session, uri, positions, requests
    )
    result["rss_end"] = rss_mb(session.pid)
    await session.stop()
    return result


def rules_alone_ms(rounds: int = 15) -> dict[str, float]:
    """The static rules on the 5,000-line file in this process (no server), p50: a first
    analysis (the whole file parsed) and after a typing edit (with what the rules keep of the
    document, as the server runs them): the floor of the didChange -> diagnostics latency."""
    from paramlens.analysis.rules import IncrementalRules, check_source

    text = long_file()
    whole, edited = [], []
    for _ in range(5):
        started = time.perf_counter()
        check_source(text, path="long_script.py")
        whole.append((time.perf_counter() - started) * 1000)
    incremental = IncrementalRules("long_script.py")
    check_source(text, path="long_script.py", incremental=incremental)
    for _, current in edit_rounds(text, rounds, new_lines=False):
        started = time.perf_counter()
        check_source(current, path="long_script.py", incremental=incremental)
        edited.append((time.perf_counter() - started) * 1000)
    return {
        "whole_file_ms": round(percentile(whole, 50), 1),
        "typing_edit_ms": round(percentile(edited, 50), 1),
    }


def verdicts(paramlens: dict[str, Any]) -> dict[str, dict[str, Any]]:
    measured = {
        "hover_p50_ms": paramlens["hover"]["p50_ms"],
        "hover_p99_ms": paramlens["hover"]["p99_ms"],
        "did_change_to_diagnostics_p50_ms": paramlens["did_change_to_diagnostics_5000_lines"][
            "p50_ms"
        ],
        "did_change_new_line_to_diagnostics_p50_ms": paramlens[
            "did_change_new_line_to_diagnostics_5000_lines"
        ]["p50_ms"],
        "server_rss_mb": paramlens["rss_with_model_loaded"]["rss_mb"],
    }
    return {
        key: {"measured": value, "target": TARGETS[key], "met": value <= TARGETS[key]}
        for key, value in measured.items()
    }


def markdown(report: dict[str, Any]) -> str:
    p = report["paramlens"]
    lines = [
        "# Language-server benchmark",
        "",
        f"{report['machine']} (load average {report['load_average']} at the start) · "
        f"Python {report['python']} · {report['date']} · "
        f"{report['requests']} requests per latency row · model: examples/darknet.py "
        "(DarkNet-53, 40.6 M parameters)",
        "",
        "## paramlens",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| initialize | {p['initialize_ms']} ms | |",
        f"| server RSS after initialize | {p['rss_after_initialize']['rss_mb']} MB | |",
        f"| server RSS with DarkNet-53 loaded, after the hovers and lenses | "
        f"{p['rss_with_model_loaded']['rss_mb']} MB | ≤ 80 MB |",
        f"| server RSS peak, after three 5,000-line files edited (59 models inspected in each) | "
        f"{p['rss_end']['peak_rss_mb']} MB | |",
        f"| didOpen → first lens with numbers, cold (worker start included) | "
        f"{p['did_open_to_lens_cold_ms']} ms | |",
        f"| didOpen → first lens with numbers, warm | {p['did_open_to_lens_warm_ms']} ms | |",
        f"| hover p50 / p99 | {p['hover']['p50_ms']} / {p['hover']['p99_ms']} ms | ≤ 5 / ≤ 25 ms |",
        f"| codeLens p50 / p99 | {p['code_lens']['p50_ms']} / {p['code_lens']['p99_ms']} ms | |",
        f"| didChange → diagnostics, 5,000 lines, typing in a line (a range edit of the code "
        f"of one line), p50 / p99 | {p['did_change_to_diagnostics_5000_lines']['p50_ms']} / "
        f"{p['did_change_to_diagnostics_5000_lines']['p99_ms']} ms | ≤ 50 ms |",
        f"| didChange → diagnostics, 5,000 lines, a line added or removed halfway, p50 / p99 | "
        f"{p['did_change_new_line_to_diagnostics_5000_lines']['p50_ms']} / "
        f"{p['did_change_new_line_to_diagnostics_5000_lines']['p99_ms']} ms | ≤ 50 ms |",
        f"| didChange → diagnostics, 5,000 lines, typing in a line while the code lenses of the "
        f"last version are computed (VS Code asks for them after each edit), p50 / p99 | "
        f"{p['did_change_with_lenses_to_diagnostics_5000_lines']['p50_ms']} / "
        f"{p['did_change_with_lenses_to_diagnostics_5000_lines']['p99_ms']} ms | |",
        f"| of which the static rules alone (check_source in process, p50): whole file / "
        f"after a typing edit | {p['static_rules_alone_5000_lines_ms']['whole_file_ms']} / "
        f"{p['static_rules_alone_5000_lines_ms']['typing_edit_ms']} ms | |",
        "",
        "Targets: "
        + ", ".join(
            f"{k} {'met' if v['met'] else 'MISSED'} ({v['measured']} vs {v['target']})"
            for k, v in report["targets"].items()
        ),
        "",
        "## Hover on the same file and positions",
        "",
        "| server | initialize | hover p50 | hover p99 | answered | RSS at end |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("paramlens", "jedi-language-server", "python-lsp-server"):
        r = report[name]
        if "skipped" in r:
            lines.append(f"| {name} | skipped: {r['skipped']} | | | | |")
            continue
        lines.append(
            f"| {name} | {r['initialize_ms']} ms | {r['hover']['p50_ms']} ms | "
            f"{r['hover']['p99_ms']} ms | {r['hover_answered']}/{report['requests']} | "
            f"{r['rss_end']['rss_mb']} MB |"
        )
    lines.append("")
    return "\n".join(lines)


async def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    workspace = Path(tempfile.mkdtemp(prefix="paramlens-bench-"))
    try:
        shutil.copy(MODEL_FILE, workspace / "darknet.py")
        (workspace / "pyproject.toml").write_text('[project]\nname = "bench"\n', "utf-8")
        report: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
            "python": platform.python_version(),
            "requests": args.requests,
            "load_average": [round(x, 2) for x in os.getloadavg()],  # at the start
        }
        report["paramlens"] = await bench_paramlens(workspace, args.requests)
        report["jedi-language-server"] = await bench_other(
            "jedi-language-server", BENCH_VENV / "jedi-language-server", workspace, args.requests
        )
        report["python-lsp-server"] = await bench_other(
            "python-lsp-server", BENCH_VENV / "pylsp", workspace, args.requests
        )
        report["paramlens"]["static_rules_alone_5000_lines_ms"] = rules_alone_ms()
        report["targets"] = verdicts(report["paramlens"])
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    text = markdown(report)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "lsp.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
        (RESULTS / "lsp.md").write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
