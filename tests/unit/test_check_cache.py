"""The results cache of ``paramlens check``: hits, a miss on each part of the key, corrupt
entries, --no-cache, --fix, and runs that never import the rule engine."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import paramlens.check_cache as check_cache
from paramlens.check_cache import CACHE_DIR, CheckCache, engine_hash
from paramlens.cli import main
from paramlens.settings import Settings

STATE_DICT_SCRIPT = textwrap.dedent(
    """\
    import torch.nn as nn

    model = nn.Linear(4, 8)
    for name, value in model.state_dict().items():
        value.requires_grad = False
    """
)
TWO_CODES = "model.training = False\nmodel.parameters().requires_grad = False\n"
USES_NET = "from models import Net\nn = Net()\nn.requires_grad = False\n"
MODULE_NET = "import torch.nn as nn\nclass Net(nn.Module):\n    pass\n"
PLAIN_NET = "class Net:\n    pass\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources the rule engine ran on: a file served from the cache adds nothing."""
    from paramlens.analysis import rules

    real = rules.check_source
    sources: list[str] = []

    def counting(source: str, **kwargs: Any) -> rules.CheckResult:
        sources.append(source)
        return real(source, **kwargs)

    monkeypatch.setattr(rules, "check_source", counting)
    return sources


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["check", "--no-runtime", *argv])
    out, err = capsys.readouterr()
    assert "internal error" not in err
    return code, out


def entries(project: Path) -> list[Path]:
    return sorted((project / CACHE_DIR).rglob("*.json"))


def test_a_second_run_comes_from_the_cache_with_the_same_output(
    project: Path, capsys: pytest.CaptureFixture[str], analysed: list[str]
) -> None:
    (project / "train.py").write_text(STATE_DICT_SCRIPT)
    (project / "broken.py").write_text("def f(:\n")
    first = check(capsys, ".")
    assert len(analysed) == 2 and len(entries(project)) == 2
    assert check(capsys, ".") == first
    assert check(capsys, "--format", "json", ".")[0] == 1
    assert len(analysed) == 2
    assert "FRZ000 SyntaxError" in first[1] and "FRZ01 [*]" in first[1]
    assert (project / CACHE_DIR / ".gitignore").read_text().splitlines()[-1] == "*"


def test_the_cache_lives_next_to_the_pyproject_else_in_the_current_folder(
    project: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "src").mkdir()
    (project / "src" / "train.py").write_text(TWO_CODES)
    check(capsys, str(project / "src"))
    assert entries(project)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "train.py").write_text(TWO_CODES)
    check(capsys, str(elsewhere / "train.py"))
    assert len(entries(project)) == 2  # no pyproject.toml above: the current folder
    assert not (elsewhere / CACHE_DIR).exists()


def test_no_cache_when_the_current_folder_is_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    (tmp_path / "s.py").write_text(TWO_CODES)
    assert "FRZ16" in check(capsys, str(tmp_path / "s.py"))[1]


def test_a_changed_file_is_checked_again(
    project: Path, capsys: pytest.CaptureFixture[str], analysed: list[str]
) -> None:
    script = project / "s.py"
    script.write_text(TWO_CODES)
    assert "FRZ16" in check(capsys, "s.py")[1]
    script.write_text("model.training = False\n")
    assert "FRZ16" not in check(capsys, "s.py")[1]
    assert len(analysed) == 2 and len(entries(project)) == 1  # the entry was rewritten


def test_select_and_ignore_are_part_of_the_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "s.py").write_text(TWO_CODES)
    assert "FRZ16" in check(capsys, "s.py")[1]
    _, ignored = check(capsys, "--ignore", "FRZ16", "s.py")
    assert "FRZ10" in ignored and "FRZ16" not in ignored
    _, selected = check(capsys, "--select", "FRZ16", "s.py")
    assert "FRZ16" in selected and "FRZ10" not in selected
    (project / "pyproject.toml").write_text('[tool.paramlens]\nignore = ["FRZ10"]\n')
    _, configured = check(capsys, "s.py")
    assert "FRZ16" in configured and "FRZ10" not in configured


def test_the_path_as_shown_is_part_of_the_key(
    project: Path, capsys: pytest.CaptureFixture[str], analysed: list[str]
) -> None:
    (project / "sub").mkdir()
    (project / "s.py").write_text(TWO_CODES)
    check(capsys, "s.py")
    check(capsys, "sub/../s.py")
    check(capsys, str(project / "s.py"))
    assert len(analysed) == 3


def test_the_resolved_path_is_part_of_the_key(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same bytes shown by the same name in two folders import different classes."""
    for folder, net in (("a", MODULE_NET), ("b", PLAIN_NET)):
        (project / folder).mkdir()
        (project / folder / "train.py").write_text(USES_NET)
        (project / folder / "models.py").write_text(net)
    monkeypatch.chdir(project / "a")
    assert "FRZ03" in check(capsys, "train.py")[1]
    monkeypatch.chdir(project / "b")
    assert check(capsys, "train.py") == (0, "All checks passed!\n")


def test_the_project_root_is_part_of_the_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Workspace imports are looked for from the project root: a new root finds other files."""
    (project / "src").mkdir()
    (project / "src" / "train.py").write_text(USES_NET)
    (project / "models.py").write_text(MODULE_NET)
    assert "FRZ03" in check(capsys, "src/train.py")[1]
    (project / "src" / "setup.py").write_text("")  # src/ is a project root of its own now
    assert check(capsys, "src/train.py") == (0, "All checks passed!\n")


def test_an_imported_workspace_file_is_part_of_the_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "train.py").write_text(USES_NET)
    models = project / "models.py"
    models.write_text(PLAIN_NET)
    assert check(capsys, "train.py") == (0, "All checks passed!\n")
    models.write_text(MODULE_NET)  # the module classes change, train.py does not
    assert "FRZ03" in check(capsys, "train.py")[1]
    models.unlink()
    assert check(capsys, "train.py") == (0, "All checks passed!\n")


def test_an_imported_file_edited_during_the_run_is_compared_as_it_was_read(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from paramlens.analysis import rules

    (project / "train.py").write_text(USES_NET)
    models = project / "models.py"
    models.write_text(PLAIN_NET)
    real = rules.check_source

    def edit_then_check(source: str, **kwargs: Any) -> rules.CheckResult:
        models.write_text(MODULE_NET)  # after the classes were read, before the entry is kept
        return real(source, **kwargs)

    monkeypatch.setattr(rules, "check_source", edit_then_check)
    assert check(capsys, "train.py") == (0, "All checks passed!\n")
    monkeypatch.setattr(rules, "check_source", real)
    assert "FRZ03" in check(capsys, "train.py")[1]


def test_a_created_workspace_file_is_part_of_the_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "train.py").write_text(USES_NET)
    assert check(capsys, "train.py") == (0, "All checks passed!\n")
    (project / "models").mkdir()
    (project / "models" / "__init__.py").write_text(MODULE_NET)
    assert "FRZ03" in check(capsys, "train.py")[1]


@pytest.mark.parametrize("part", ["engine", "version", "python", "format"])
def test_the_engine_version_python_and_entry_format_are_part_of_the_key(
    project: Path, monkeypatch: pytest.MonkeyPatch, part: str
) -> None:
    from paramlens.analysis.findings import Finding, Severity, Span

    data = b"model.training = False\n"
    finding = Finding("FRZ10", "m", Severity.WARNING, Span(0, 0, 0, 5))
    path, settings = project / "s.py", Settings()
    CheckCache(project, "engine").entry(path, path, project, settings, data).store((), [finding])
    engine = "edited engine" if part == "engine" else "engine"
    with monkeypatch.context() as patch:
        if part == "version":
            patch.setattr(check_cache, "__version__", "9.9.9")
        if part == "python":
            patch.setattr(sys, "version", "3.99.0 (other build)")
        if part == "format":
            patch.setattr(check_cache, "ENTRY_FORMAT", check_cache.ENTRY_FORMAT + 1)
        entry = CheckCache(project, engine).entry(path, path, project, settings, data)
        assert entry.load() is None
    entry = CheckCache(project, "engine").entry(path, path, project, settings, data)
    assert entry.load() == [finding]


def test_the_engine_hash_follows_every_analysis_source(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "findings.py").write_text("A = 1\n")
    (tmp_path / "rules" / "engine.py").write_text("B = 1\n")
    first = engine_hash(tmp_path)
    (tmp_path / "rules" / "engine.py").write_text("B = 2\n")
    second = engine_hash(tmp_path)
    (tmp_path / "rules" / "new.py").write_text("")
    assert len({first, second, engine_hash(tmp_path)}) == 3
    assert engine_hash() == engine_hash()  # the real analysis/ folder
    with pytest.raises(FileNotFoundError):
        engine_hash(tmp_path / "missing")


def damaged(text: str, damage: str) -> bytes:
    """The entry ``text`` (of TWO_CODES's file) damaged in one way."""
    entry = json.loads(text)
    first = entry["findings"][0]
    raw = {
        "empty": b"",
        "truncated": text[: len(text) // 2].encode(),
        "not utf-8": b"\xff\xfe{",
        "not an object": b"[1, 2]",
        "deeply nested": b"[" * 100_000,
    }
    changed = {
        "span of strings": {"findings": [[*first[:3], ["0"] * 4, *first[4:]]]},
        "unknown severity": {"findings": [[*first[:2], "fatal", *first[3:]]]},
        "file named by a number": {"files": [[0, None]]},  # never read as file descriptor 0
        "findings not a list": {"findings": "FRZ10"},
    }
    return raw[damage] if damage in raw else json.dumps({**entry, **changed[damage]}).encode()


@pytest.mark.parametrize(
    "damage",
    [
        "empty",
        "truncated",
        "not utf-8",
        "not an object",
        "deeply nested",
        "span of strings",
        "unknown severity",
        "file named by a number",
        "findings not a list",
    ],
)
def test_a_corrupt_entry_is_a_miss_and_is_rewritten(
    project: Path, capsys: pytest.CaptureFixture[str], analysed: list[str], damage: str
) -> None:
    (project / "s.py").write_text(TWO_CODES)
    expected = check(capsys, "s.py")
    (entry,) = entries(project)
    entry.write_bytes(damaged(entry.read_text(), damage))
    assert check(capsys, "s.py") == expected
    assert len(analysed) == 2
    assert json.loads(entry.read_text())["findings"]
    assert check(capsys, "s.py") == expected and len(analysed) == 2


def test_no_cache_flag_and_setting(
    project: Path, capsys: pytest.CaptureFixture[str], analysed: list[str]
) -> None:
    (project / "s.py").write_text(TWO_CODES)
    check(capsys, "--no-cache", "s.py")
    assert not (project / CACHE_DIR).exists()
    check(capsys, "s.py")
    check(capsys, "--no-cache", "s.py")  # a warm cache is not read either
    assert len(analysed) == 3
    (project / "pyproject.toml").write_text("[tool.paramlens]\ncache = false\n")
    check(capsys, "s.py")
    assert len(analysed) == 4


def test_fix_checks_again_a_cached_file_it_can_rewrite(
    project: Path, capsys: pytest.CaptureFixture[str], analysed: list[str]
) -> None:
    script = project / "train.py"
    script.write_text(STATE_DICT_SCRIPT)
    (project / "clean.py").write_text("x = 1\n")
    assert "FRZ01 [*]" in check(capsys, ".")[1]
    assert check(capsys, "--fix", ".") == (0, "Found 1 finding (1 fixed, 0 remaining).\n")
    assert "named_parameters()" in script.read_text()
    assert analysed.count("x = 1\n") == 1  # nothing to fix there: from the cache
    assert check(capsys, ".") == (0, "All checks passed!\n")


def test_findings_computed_with_model_reports_are_not_kept(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from paramlens.check import Runtime

    monkeypatch.setattr(Runtime, "reports", lambda self, path, source: ([], None))
    (project / "s.py").write_text(TWO_CODES)
    assert main(["check", "s.py"]) == 1
    assert not entries(project)


def run_cli(project: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``paramlens check`` in a fresh interpreter; its last line of output says whether the
    rule engine was imported."""
    code = (
        "import sys\nfrom paramlens.cli import main\ncode = main(sys.argv[1:])\n"
        "print('engine imported:', 'paramlens.analysis.rules' in sys.modules)\nsys.exit(code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, "check", "--no-runtime", *argv],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_run_from_the_cache_never_imports_the_rule_engine(project: Path) -> None:
    (project / "train.py").write_text(STATE_DICT_SCRIPT)
    cold, warm = run_cli(project, "."), run_cli(project, ".")
    assert cold.stdout.endswith("engine imported: True\n")
    assert warm.stdout.endswith("engine imported: False\n")
    assert warm.stdout.replace("False", "True") == cold.stdout
    assert warm.returncode == cold.returncode == 1


def test_concurrent_runs_agree_and_leave_no_temporary_files(project: Path) -> None:
    for i in range(20):
        (project / f"m{i}.py").write_text(TWO_CODES if i % 2 else STATE_DICT_SCRIPT)
    code = "import sys\nfrom paramlens.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    command = [sys.executable, "-c", code, "check", "--no-runtime", "."]
    runs = [
        subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, text=True) for _ in range(4)
    ]
    outputs = {run.communicate(timeout=60)[0] for run in runs}
    assert len(outputs) == 1 and "Found 30 findings" in outputs.pop()
    files = [f for f in (project / CACHE_DIR).rglob("*") if f.is_file()]
    assert len([f for f in files if f.suffix == ".json"]) == 20
    assert {f.name for f in files if f.suffix != ".json"} == {".gitignore", "CACHEDIR.TAG"}
