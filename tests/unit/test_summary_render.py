"""Rendering of summary tables and the pure parts of the worker client (no torch)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from paramlens import summary
from paramlens.settings import Settings
from paramlens.worker_client import (
    build_inspect_params,
    error_from_response,
    project_roots,
)
from paramlens_worker import protocol


def report(**changes: Any) -> Any:
    base = {
        "object": "TiedLM",
        "file": "/proj/lm.py",
        "line": 7,
        "built_as": "TiedLM(10, 4)",
        "device": "meta",
        "status": "ok",
        "error": None,
        "parameters": [
            {
                "name": "embed.weight",
                "shape": [10, 4],
                "dtype": "float32",
                "requires_grad": True,
                "numel": 40,
                "aliases": ["decoder.weight"],
            },
            {
                "name": "scale",
                "shape": [1],
                "dtype": "float32",
                "requires_grad": False,
                "numel": 1,
                "aliases": [],
            },
            {
                "name": "lazy.weight",
                "shape": None,
                "dtype": "float32",
                "requires_grad": True,
                "numel": None,
                "aliases": [],
            },
        ],
        "buffers": [
            {"name": "positions", "shape": [8], "dtype": "int64", "numel": 8, "persistent": False}
        ],
        "state_dict_keys": ["embed.weight", "decoder.weight", "scale"],
        "modules": [],
        "totals": {
            "parameters": 41,
            "trainable": 40,
            "frozen": 1,
            "parameter_tensors": 3,
            "buffers": 8,
            "buffer_tensors": 1,
            "bytes": 228,
            "bytes_by_dtype": {"float32": 164, "int64": 64},
            "lazy_parameters": 1,
        },
    }
    base.update(changes)
    return base


def test_table_rows_mark_tied_frozen_lazy_and_non_persistent() -> None:
    rows = summary.table_rows(report())
    assert rows == [
        ("0", "embed.weight", "param", "[10, 4]", "float32", "True", "tied: decoder.weight"),
        ("1", "scale", "param", "[1]", "float32", "False", "frozen"),
        ("2", "lazy.weight", "param", "unknown (lazy)", "float32", "True", "lazy"),
        ("3", "positions", "buffer", "[8]", "int64", "-", "non-persistent"),
    ]


def test_files_outside_the_working_folder_keep_their_absolute_path() -> None:
    inside = summary.render_report(report(), relative_to=Path("/proj")).splitlines()[0]
    outside = summary.render_report(report(), relative_to=Path("/elsewhere")).splitlines()[0]
    assert inside.startswith("TiedLM — lm.py:7 ")
    assert outside.startswith("TiedLM — /proj/lm.py:7 ")


def test_render_report_has_title_rows_and_totals() -> None:
    text = summary.render_report(report(), relative_to=Path("/proj"))
    lines = text.splitlines()
    assert lines[0] == "TiedLM — lm.py:7 — built as TiedLM(10, 4) on meta"
    assert any(line.split()[:2] == ["0", "embed.weight"] for line in lines)
    assert "  Total params: 41 + 1 lazy tensors of unknown size" in lines
    assert "  Trainable params: 40 · frozen: 1" in lines
    assert "  Parameter tensors: 3 (1 tied, counted once)" in lines
    assert "  Buffers: 8 elements in 1 tensors (1 non-persistent)" in lines


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (
            "needs_arguments",
            {"type": "NeedsArguments", "message": "Net needs constructor arguments (n)"},
            "  not built — needs arguments: Net needs constructor arguments (n) (lm.py:7)",
        ),
        (
            "error",
            {"type": "ValueError", "message": "boom"},
            "  not built — error: ValueError: boom (lm.py:7)",
        ),
    ],
)
def test_render_report_not_built(status: str, error: dict[str, Any], expected: str) -> None:
    failed = report(status=status, error={**error, "file": "/proj/lm.py", "line": 7})
    lines = summary.render_report(failed, relative_to=Path("/proj")).splitlines()
    assert lines[1] == expected


@pytest.mark.parametrize(
    ("value", "count", "size"),
    [
        (0, "0", "0 B"),
        (999, "999", "999 B"),
        (40_584_928, "40.6M", "40.6 MB"),
        (7 * 10**9, "7.0B", "7.0 GB"),
    ],
)
def test_human_numbers(value: int, count: str, size: str) -> None:
    assert summary.human_count(value) == count
    assert summary.human_bytes(value) == size


def test_no_models() -> None:
    assert (
        summary.render_reports([])
        == "no model found: no nn.Module class, factory, or variable built from one\n"
    )


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    args = argparse.Namespace(path=str(tmp_path / "nope.py"), object=None, format="text")
    assert summary.run_summary(args) == summary.EXIT_USAGE


def test_summary_settings_flags_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.paramlens]\ndevice = "cpu"\nload_mode = "module"\n'
    )
    monkeypatch.setenv("PARAMLENS_INTERPRETER", "/env/python")
    args = argparse.Namespace(interpreter=None, device=None, load_mode=None)
    settings, problems = summary.summary_settings(args, tmp_path / "m.py")
    assert (settings.device, settings.load_mode, settings.interpreter) == (
        "cpu",
        "module",
        ("/env/python",),
    )
    assert problems == []
    args = argparse.Namespace(interpreter="/my/python", device="meta", load_mode="definitions")
    settings, _ = summary.summary_settings(args, tmp_path / "m.py")
    assert (settings.device, settings.load_mode, settings.interpreter) == (
        "meta",
        "definitions",
        ("/my/python",),
    )


@pytest.mark.parametrize(
    ("error", "kind", "info_type"),
    [
        ({"code": protocol.ERROR_TIMEOUT, "message": "slow"}, "timeout", None),
        ({"code": protocol.ERROR_NO_TORCH, "message": "no torch"}, "no_torch", None),
        (
            {
                "code": protocol.ERROR_INSPECTION_FAILED,
                "message": "SyntaxError: x",
                "data": {"type": "SyntaxError", "message": "x", "file": "/a.py", "line": 3},
            },
            "error",
            "SyntaxError",
        ),
        (
            {
                "code": protocol.ERROR_CRASHED,
                "message": "SIGSEGV",
                "data": {
                    "type": "SIGSEGV",
                    "message": "m",
                    "file": None,
                    "line": None,
                    "kind": "crashed",
                },
            },
            "crashed",
            "SIGSEGV",
        ),
        ({"code": -1, "message": "?"}, "error", None),
    ],
)
def test_worker_errors_from_responses(
    error: dict[str, Any], kind: str, info_type: str | None
) -> None:
    worker_error = error_from_response(error)
    assert worker_error.kind == kind
    assert (worker_error.info or {}).get("type") == info_type
    assert str(worker_error) == error["message"]


def test_inspect_params_from_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    target = tmp_path / "src" / "pkg" / "m.py"
    target.write_text("")
    settings = Settings(device="cpu", timeout_seconds=5, models={"pkg.m:Net": "Net(3)"})
    params = build_inspect_params(target, settings, objects=["Net"])
    assert params["path"] == str(target.resolve())
    assert params["roots"] == [str(tmp_path.resolve()), str((tmp_path / "src").resolve())]
    assert params["device"] == "cpu"
    assert params["timeout_seconds"] == 5.0
    assert params["objects"] == ["Net"]
    assert params["models"] == {"pkg.m:Net": "Net(3)"}
    assert project_roots(tmp_path / "other.py") == [
        str(tmp_path.resolve()),
        str((tmp_path / "src").resolve()),
    ]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("one\ntwo\n", "paramlens: the inspected code printed:\n  | one\n  | two\n"),
        (
            "a\nb\nc\nd\n",
            "paramlens: the inspected code printed:\n  | a\n  | b\n  | ... (2 more lines)\n",
        ),
    ],
)
def test_output_excerpt(output: str, expected: str) -> None:
    assert summary.output_excerpt(output, lines=2) == expected


def test_title_says_why_meta_failed() -> None:
    fallback = report(device="cpu", fallback_reason="RuntimeError: item() on meta")
    title = summary.render_report(fallback, relative_to=Path("/proj")).splitlines()[0]
    assert title.endswith("on cpu (meta failed: RuntimeError: item() on meta)")


def test_inspect_params_add_the_workspace_folder(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    project = tmp_path / "packages" / "model"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    target = project / "net.py"
    target.write_text("")
    params = build_inspect_params(target, Settings(), folder=tmp_path)
    assert params["roots"] == [
        str(project.resolve()),
        str(tmp_path.resolve()),
        str((tmp_path / "src").resolve()),
    ]
