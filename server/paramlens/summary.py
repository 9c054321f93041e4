"""``paramlens summary``: the parameter table of each model in a file (text or JSON).

Exit codes: 0 every model was built, 1 some were not (each with its reason) or the file could
not be loaded, 2 usage errors (no such file, unknown ``--object``) or no usable interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from paramlens.settings import Settings, environment_interpreter, load_pyproject_settings
from paramlens.worker_client import WorkerError, WorkerSession, missing_modules_notice
from paramlens_worker.protocol import ModelReport

EXIT_OK = 0
EXIT_NOT_BUILT = 1
EXIT_USAGE = 2
ENVIRONMENT_KINDS = ("no_torch", "start_failed")
OUTPUT_LINES = 10


def human_count(value: int) -> str:
    """``40584928`` -> ``40.6M``."""
    for factor, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.1f}{suffix}"
    return str(value)


def human_bytes(value: int) -> str:
    """``162482976`` -> ``162.5 MB`` (decimal units, as torchinfo)."""
    for factor, suffix in ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB")):
        if value >= factor:
            return f"{value / factor:.1f} {suffix}"
    return f"{value} B"


def _shape(shape: Optional[Sequence[int]]) -> str:
    return "unknown (lazy)" if shape is None else f"[{', '.join(str(d) for d in shape)}]"


def _location(file: Optional[str], line: Optional[int], relative_to: Optional[Path]) -> str:
    shown = file or "?"
    if file and relative_to is not None:
        # Outside relative_to (or on another drive) the absolute path says more than "../..".
        with contextlib.suppress(ValueError):
            shown = Path(file).relative_to(relative_to).as_posix()
    return f"{shown}:{line}" if line else shown


def table_rows(report: ModelReport) -> list[tuple[str, ...]]:
    """``(index, name, kind, shape, dtype, requires_grad, marks)`` for every parameter, then
    every buffer."""
    rows: list[tuple[str, ...]] = []
    for parameter in report.get("parameters") or []:
        marks = []
        if not parameter["requires_grad"]:
            marks.append("frozen")
        if parameter.get("aliases"):
            marks.append("tied: " + ", ".join(parameter["aliases"]))
        if parameter.get("numel") is None:
            marks.append("lazy")
        rows.append(
            (
                str(len(rows)),
                parameter["name"],
                "param",
                _shape(parameter.get("shape")),
                parameter["dtype"],
                str(parameter["requires_grad"]),
                "; ".join(marks),
            )
        )
    for buffer in report.get("buffers") or []:
        rows.append(
            (
                str(len(rows)),
                buffer["name"],
                "buffer",
                _shape(buffer.get("shape")),
                buffer["dtype"],
                "-",
                "" if buffer["persistent"] else "non-persistent",
            )
        )
    return rows


def render_report(report: ModelReport, *, relative_to: Optional[Path] = None) -> str:
    """One model as a torchinfo-like text table (pure)."""
    title = f"{report['object']} — {_location(report['file'], report['line'], relative_to)}"
    if report.get("built_as"):
        title += f" — built as {report['built_as']}"
    if report.get("device"):
        title += f" on {report['device']}"
    if report.get("fallback_reason"):
        title += f" (meta failed: {report.get('fallback_reason')})"
    lines = [title]
    if report["status"] != "ok":
        error = report.get("error")
        message = "not built"
        if error:
            message = error["message"]
            if report["status"] == "error":
                message = f"{error['type']}: {message}"
        where = ""
        if error and error.get("file"):
            where = f" ({_location(error['file'], error['line'], relative_to)})"
        label = "needs arguments" if report["status"] == "needs_arguments" else "error"
        lines.append(f"  not built — {label}: {message}{where}")
        return "\n".join(lines) + "\n"
    header = ("#", "name", "kind", "shape", "dtype", "grad", "marks")
    rows = table_rows(report)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rule = "  " + "-" * (sum(widths) + 2 * (len(widths) - 1))
    lines.append(rule)
    for row in [header, *rows]:
        cells = [
            cell.rjust(widths[0]) if i == 0 else cell.ljust(widths[i]) for i, cell in enumerate(row)
        ]
        lines.append(("  " + "  ".join(cells)).rstrip())
        if row is header:
            lines.append(rule)
    lines.append(rule)
    lines.extend(_totals(report))
    return "\n".join(lines) + "\n"


def _totals(report: ModelReport) -> list[str]:
    totals = report.get("totals")
    if not totals:
        return []
    tied = sum(1 for p in report["parameters"] if p.get("aliases"))
    non_persistent = sum(1 for b in report["buffers"] if not b["persistent"])
    lazy = totals.get("lazy_parameters", 0)
    count = totals["parameters"]
    params = f"  Total params: {count:,}" + (f" ({human_count(count)})" if count >= 1000 else "")
    if lazy:
        params += f" + {lazy} lazy tensors of unknown size"
    lines = [
        params,
        f"  Trainable params: {totals['trainable']:,} · frozen: {totals['frozen']:,}",
        f"  Parameter tensors: {totals['parameter_tensors']}"
        + (f" ({tied} tied, counted once)" if tied else ""),
        f"  Buffers: {totals['buffers']:,} elements in {totals['buffer_tensors']} tensors"
        + (f" ({non_persistent} non-persistent)" if non_persistent else ""),
    ]
    by_dtype = ", ".join(
        f"{dtype} {human_bytes(size)}" for dtype, size in sorted(totals["bytes_by_dtype"].items())
    )
    lines.append(f"  Size: {human_bytes(totals['bytes'])}" + (f" ({by_dtype})" if by_dtype else ""))
    return lines


def render_reports(reports: Sequence[ModelReport], *, relative_to: Optional[Path] = None) -> str:
    """Every model's table, separated by blank lines."""
    if not reports:
        return "no model found: no nn.Module class, factory, or variable built from one\n"
    return "\n".join(render_report(r, relative_to=relative_to) for r in reports)


def output_excerpt(output: str, lines: int = OUTPUT_LINES) -> str:
    """What the inspected code printed, cut to its first ``lines`` lines (pure)."""
    printed = output.splitlines()
    shown = "\n".join(f"  | {line}" for line in printed[:lines])
    more = f"\n  | ... ({len(printed) - lines} more lines)" if len(printed) > lines else ""
    return f"paramlens: the inspected code printed:\n{shown}{more}\n"


def summary_settings(args: argparse.Namespace, path: Path) -> tuple[Settings, list[str]]:
    """Settings of a summary run: defaults, ``[tool.paramlens]``, the environment, the flags."""
    settings, problems, _ = load_pyproject_settings(path)
    changes: dict[str, Any] = {}
    interpreter = getattr(args, "interpreter", None)
    if interpreter:
        changes["interpreter"] = (interpreter,)
    elif not settings.interpreter and environment_interpreter():
        changes["interpreter"] = environment_interpreter()
    if getattr(args, "device", None):
        changes["device"] = args.device
    if getattr(args, "load_mode", None):
        changes["load_mode"] = args.load_mode
    return settings._replace(**changes), problems


def run_summary(args: argparse.Namespace) -> int:
    """The ``summary`` subcommand; returns the exit code."""
    path = Path(args.path)
    if not path.is_file():
        print(f"paramlens summary: no such file: {path}", file=sys.stderr)
        return EXIT_USAGE
    settings, problems = summary_settings(args, path)
    for problem in problems:
        print(f"paramlens: {problem}", file=sys.stderr)
    objects = [args.object] if getattr(args, "object", None) else None
    with WorkerSession(settings) as session:
        try:
            result = session.inspect(path, objects=objects)
        except WorkerError as error:
            return _report_failure(args, error)
    reports = result["reports"]
    if result.get("output") and args.format == "text":
        sys.stderr.write(output_excerpt(result["output"]))
    missing = missing_modules_notice(result)
    if missing:
        print(f"paramlens summary: {path}: {missing}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(reports, indent=2))
    else:
        print(render_reports(reports, relative_to=Path.cwd()), end="")
    return EXIT_OK if all(r["status"] == "ok" for r in reports) else EXIT_NOT_BUILT


def _report_failure(args: argparse.Namespace, error: WorkerError) -> int:
    info = error.info
    where = ""
    if info is not None and info.get("file"):
        where = f"{_location(info['file'], info['line'], Path.cwd())}: "
    print(f"paramlens summary: {where}{error}", file=sys.stderr)
    if error.output.strip():
        print(output_excerpt(error.output), file=sys.stderr, end="")
    if args.format == "json":
        print("[]")
    if error.kind in ENVIRONMENT_KINDS or (info is not None and info["type"] == "ObjectNotFound"):
        return EXIT_USAGE
    return EXIT_NOT_BUILT
