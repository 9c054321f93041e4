"""Settings: camelCase/snake_case, bad values fall back with one message, pyproject tables."""

import os
from pathlib import Path

import pytest

from paramlens.settings import (
    Settings,
    camel_case,
    load_pyproject_settings,
    merge_settings,
    project_root,
    snake_case,
)


@pytest.mark.parametrize(
    ("camel", "snake"),
    [("timeoutSeconds", "timeout_seconds"), ("loadMode", "load_mode"), ("inspect", "inspect")],
)
def test_case_conversion_round_trips(camel: str, snake: str) -> None:
    assert snake_case(camel) == snake
    assert camel_case(snake) == camel


def test_valid_values_are_taken_from_either_spelling() -> None:
    settings, problems = merge_settings(
        Settings(),
        {"timeoutSeconds": 5, "load_mode": "module", "select": "frz01, FRZ12", "interpreter": "py"},
        "init",
    )
    assert problems == []
    assert settings.timeout_seconds == 5.0
    assert settings.load_mode == "module"
    assert settings.select == ("FRZ01", "FRZ12")
    assert settings.interpreter_command() == ["py"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("timeoutSeconds", -1),
        ("timeoutSeconds", True),
        ("inspect", "always"),
        ("device", "cuda"),
        ("select", 3),
        ("models", ["x"]),
        ("interpreter", 7),
    ],
)
def test_bad_values_fall_back_with_one_message(key: str, value: object) -> None:
    settings, problems = merge_settings(Settings(), {key: value}, "init")
    assert settings == Settings()
    assert len(problems) == 1
    assert key in problems[0]


def test_unknown_keys_are_ignored_silently() -> None:
    settings, problems = merge_settings(Settings(), {"python.path": "x", "other": 1}, "init")
    assert settings == Settings() and problems == []


def test_pyproject_table_is_found_above_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.paramlens]\nignore = ["FRZ20"]\n[tool.paramlens.models]\n'
        '"pkg.nets:Net" = "Net(3, num_classes=10)"\n'
    )
    source = tmp_path / "pkg" / "nets.py"
    source.parent.mkdir()
    source.write_text("")
    settings, problems, path = load_pyproject_settings(source)
    assert path == str(tmp_path / "pyproject.toml")
    assert problems == []
    assert settings.ignore == ("FRZ20",)
    assert settings.models == {"pkg.nets:Net": "Net(3, num_classes=10)"}
    assert project_root(source) == str(tmp_path)
    assert project_root("nets.py") == "."  # a relative path stops at ".", as Path.parents do


def test_broken_pyproject_is_a_message_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.paramlens\n")
    settings, problems, _ = load_pyproject_settings(tmp_path)
    assert settings == Settings()
    assert len(problems) == 1


def test_an_edited_pyproject_is_read_again(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.paramlens]\nignore = ["FRZ20"]\n')
    assert load_pyproject_settings(tmp_path)[0].ignore == ("FRZ20",)
    assert load_pyproject_settings(tmp_path)[0].ignore == ("FRZ20",)  # from the last parse
    before = pyproject.stat()
    pyproject.write_text('[tool.paramlens]\nignore = ["FRZ21"]\n')  # the same size
    os.utime(pyproject, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert load_pyproject_settings(tmp_path)[0].ignore == ("FRZ21",)
    pyproject.write_text('[tool.paramlens]\nselect = ["FRZ01"]\n')
    assert load_pyproject_settings(tmp_path)[0].select == ("FRZ01",)
