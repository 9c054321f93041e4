"""Typed settings: LSP ``initializationOptions`` / ``workspace/configuration`` (camelCase),
``[tool.paramlens]`` in pyproject.toml (snake_case or camelCase), CLI flags.

Bad values never fail: they fall back to the default and are reported once as a problem string.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping

from paramlens.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Any, Optional

    from _typeshed import StrPath

INSPECT_MODES = ("onOpen", "onSave", "onCommand")
LOAD_MODES = ("definitions", "module")
DEVICES = ("meta", "cpu")


class Settings(NamedTuple):
    """Every paramlens setting, with its default. Immutable: a change is a new value
    (``settings._replace(device="cpu")``)."""

    interpreter: tuple[str, ...] = ()  # empty: the server's own interpreter
    inspect: str = "onOpen"
    load_mode: str = "definitions"
    device: str = "meta"
    timeout_seconds: float = 30.0
    memory_limit_mb: int = 4096
    cpu_fallback_limit_mb: int = 512
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    models: dict[str, str] = {}  # shared by every default: never mutated, replaced
    untrusted: bool = False  # static rules only: never run user code
    cache: bool = True  # paramlens check: keep static findings in .paramlens_cache/

    def interpreter_command(self) -> list[str]:
        """The command that starts the worker's Python."""
        return list(self.interpreter) or [sys.executable]


def snake_case(name: str) -> str:
    """``timeoutSeconds`` -> ``timeout_seconds``."""
    return "".join("_" + c if "A" <= c <= "Z" and i else c for i, c in enumerate(name)).lower()


def camel_case(name: str) -> str:
    """``timeout_seconds`` -> ``timeoutSeconds``."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _codes(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of rule codes")
    return tuple(v.strip().upper() for v in value if v.strip())


def _interpreter(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError("expected a path or a list of command parts")


def _choice(choices: tuple[str, ...]) -> Any:
    def convert(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return str(value)

    return convert


def _positive(kind: type) -> Any:
    def convert(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError("expected a positive number")
        return kind(value)

    return convert


def _models(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError('expected a table of "module:Object" = "Object(args)"')
    return dict(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


_CONVERTERS = {
    "interpreter": _interpreter,
    "inspect": _choice(INSPECT_MODES),
    "load_mode": _choice(LOAD_MODES),
    "device": _choice(DEVICES),
    "timeout_seconds": _positive(float),
    "memory_limit_mb": _positive(int),
    "cpu_fallback_limit_mb": _positive(int),
    "select": _codes,
    "ignore": _codes,
    "models": _models,
    "untrusted": _boolean,
    "cache": _boolean,
}


def merge_settings(
    base: Settings, values: Optional[Mapping[str, Any]], source: str
) -> tuple[Settings, list[str]]:
    """Overlay ``values`` (camelCase or snake_case keys) on ``base``.

    Returns the new settings and one problem message per rejected value; unknown keys are
    ignored, since clients send their own settings alongside ours.
    """
    if not values:
        return base, []
    changes: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in values.items():
        name = snake_case(key)
        convert = _CONVERTERS.get(name)
        if convert is None or value is None:
            continue
        try:
            changes[name] = convert(value)
        except ValueError as error:
            problems.append(
                f"{source}: ignoring {camel_case(name)}={value!r} ({error}); "
                f"using {getattr(base, name)!r}"
            )
    return base._replace(**changes), problems


def folder_and_parents(path: StrPath) -> Iterator[str]:
    """The folder of ``path`` (itself if it is one) and every folder above it, as
    ``Path.parents`` lists them (a relative path stops at ``.``). The modules of
    ``paramlens check`` do without ``pathlib``: it imports ``urllib`` and ``ipaddress``."""
    directory = os.fspath(path)
    if not os.path.isdir(directory):
        directory = os.path.dirname(directory)
    if directory == ".":
        directory = ""
    while True:
        yield directory or "."
        above = os.path.dirname(directory)
        if above == directory:
            return
        directory = above


def find_pyproject(start: StrPath) -> Optional[str]:
    """The nearest pyproject.toml at or above ``start`` that has a ``[tool.paramlens]`` table,
    else the nearest one at all."""
    first: Optional[str] = None
    for folder in folder_and_parents(start):
        candidate = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(candidate):
            if first is None:
                first = candidate
            with open(candidate, encoding="utf-8", errors="replace") as handle:
                if "[tool.paramlens" in handle.read():
                    return candidate
    return first


# The last parse of each pyproject.toml with the (mtime, size) it had: the server asks for the
# settings of a document on every keystroke.
_PARSED: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}


def _read_toml(path: str) -> dict[str, Any]:
    status = os.stat(path)
    stamp = (status.st_mtime_ns, status.st_size)
    known = _PARSED.get(path)
    if known is not None and known[0] == stamp:
        return known[1]
    # Imported here: most runs of paramlens check meet no pyproject.toml.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.9/3.10
        import tomli as tomllib
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    _PARSED[path] = (stamp, data)
    return data


def load_pyproject_settings(
    start: StrPath, base: Optional[Settings] = None
) -> tuple[Settings, list[str], Optional[str]]:
    """``[tool.paramlens]`` of the project holding ``start``, overlaid on ``base``."""
    settings = base or Settings()
    path = find_pyproject(start)
    if path is None:
        return settings, [], None
    try:
        data = _read_toml(path)
    except (OSError, ValueError) as error:  # TOMLDecodeError is a ValueError
        return settings, [f"{path}: cannot read [tool.paramlens]: {error}"], path
    table = data.get("tool", {}).get("paramlens", {})
    if not isinstance(table, dict):
        return settings, [f"{path}: [tool.paramlens] is not a table"], path
    merged, problems = merge_settings(settings, table, str(path))
    return merged, problems, path


_ROOT_MARKERS = ("pyproject.toml", "setup.py", ".git")


def project_root(path: StrPath) -> str:
    """The folder of the nearest pyproject.toml, setup.py or .git above ``path``."""
    folders = list(folder_and_parents(path))
    for folder in folders:
        if any(os.path.exists(os.path.join(folder, marker)) for marker in _ROOT_MARKERS):
            return folder
    return folders[0]


def environment_interpreter() -> tuple[str, ...]:
    """``PARAMLENS_INTERPRETER`` (a path) if set: lets tests and CI pick the worker's Python."""
    value = os.environ.get("PARAMLENS_INTERPRETER", "").strip()
    return (value,) if value else ()
