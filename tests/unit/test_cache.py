"""ReportCache: keys, invalidation by the file and by the workspace files it imported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paramlens.cache import ReportCache, content_hash

PYTHON = ("/usr/bin/python3",)


def result(*imported: Path) -> Any:
    return {
        "reports": [],
        "imported_files": [str(p) for p in imported],
        "output": "",
        "device": "meta",
        "duration_ms": 1.0,
    }


def test_hit_on_same_content_and_miss_on_change(tmp_path: Path) -> None:
    cache = ReportCache()
    target = tmp_path / "model.py"
    stored = result()
    cache.put(PYTHON, target, "class A: pass\n", stored)
    assert cache.get(PYTHON, target, "class A: pass\n") is stored
    assert cache.get(PYTHON, target, b"class A: pass\n") is stored
    assert cache.get(PYTHON, target, "class A: x = 1\n") is None
    assert cache.get(PYTHON, target, "class A: pass\n") is None  # the stale entry was dropped


def test_keys_separate_interpreters_paths_and_variants(tmp_path: Path) -> None:
    cache = ReportCache()
    first, second = result(), result()
    cache.put(PYTHON, tmp_path / "a.py", "x", first)
    cache.put(("/opt/py",), tmp_path / "a.py", "x", second)
    assert cache.get(PYTHON, tmp_path / "a.py", "x") is first
    assert cache.get(("/opt/py",), tmp_path / "a.py", "x") is second
    assert cache.get(PYTHON, tmp_path / "b.py", "x") is None
    assert cache.get(PYTHON, tmp_path / "a.py", "x", variant="cpu") is None
    assert cache.get(PYTHON, str(tmp_path / "sub" / ".." / "a.py"), "x") is first


def test_an_edit_to_an_imported_workspace_file_invalidates(tmp_path: Path) -> None:
    layers = tmp_path / "layers.py"
    layers.write_text("WIDTH = 3\n")
    cache = ReportCache()
    stored = result(layers)
    cache.put(PYTHON, tmp_path / "model.py", "from layers import WIDTH", stored)
    assert cache.get(PYTHON, tmp_path / "model.py", "from layers import WIDTH") is stored
    layers.write_text("WIDTH = 4\n")
    assert cache.get(PYTHON, tmp_path / "model.py", "from layers import WIDTH") is None
    cache.put(PYTHON, tmp_path / "model.py", "from layers import WIDTH", stored)
    layers.unlink()
    assert cache.get(PYTHON, tmp_path / "model.py", "from layers import WIDTH") is None


def test_least_recently_used_entries_are_evicted(tmp_path: Path) -> None:
    cache = ReportCache(max_entries=2)
    for name in ("a", "b"):
        cache.put(PYTHON, tmp_path / f"{name}.py", name, result())
    assert cache.get(PYTHON, tmp_path / "a.py", "a") is not None
    cache.put(PYTHON, tmp_path / "c.py", "c", result())
    assert len(cache) == 2
    assert cache.get(PYTHON, tmp_path / "b.py", "b") is None
    assert cache.get(PYTHON, tmp_path / "a.py", "a") is not None


def test_invalidate_by_path_and_importer(tmp_path: Path) -> None:
    layers = tmp_path / "layers.py"
    layers.write_text("")
    cache = ReportCache()
    cache.put(PYTHON, tmp_path / "model.py", "m", result(layers))
    cache.put(PYTHON, tmp_path / "other.py", "o", result())
    cache.invalidate(layers)
    assert cache.get(PYTHON, tmp_path / "model.py", "m") is None
    assert cache.get(PYTHON, tmp_path / "other.py", "o") is not None
    cache.invalidate()
    assert len(cache) == 0


def test_content_hash_treats_text_as_utf8() -> None:
    assert content_hash("é") == content_hash("é".encode())
