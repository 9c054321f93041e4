"""Server-side settings plumbing and the workspace scan for pre-warming (no client, no worker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from paramlens.features.lifecycle import imports_torch, python_files
from paramlens.server import ParamlensLanguageServer


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> ParamlensLanguageServer:
    monkeypatch.delenv("PARAMLENS_INTERPRETER", raising=False)
    ls = ParamlensLanguageServer()
    ls.shown: list[str] = []  # type: ignore[misc]
    ls.show_message = lambda message, kind: ls.shown.append(message)  # type: ignore[method-assign]
    return ls


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"inspect": "onSave"}, {"inspect": "onSave"}),
        ({"paramlens": {"timeoutSeconds": 5}}, {"timeout_seconds": 5.0}),  # nested section
        (
            {"loadMode": "module", "select": "FRZ01, frz12"},
            {"load_mode": "module", "select": ("FRZ01", "FRZ12")},
        ),
        ({"interpreter": ["/opt/py", "-X", "dev"]}, {"interpreter": ("/opt/py", "-X", "dev")}),
        ({"somethingElse": 1}, {"inspect": "onOpen"}),  # other clients' keys are ignored
    ],
)
def test_client_options_become_settings(
    server: ParamlensLanguageServer,
    tmp_path: Path,
    options: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    server.update_client_options(options, "initializationOptions")
    settings = server.settings_for(tmp_path / "model.py")
    for name, value in expected.items():
        assert getattr(settings, name) == value
    assert server.shown == []


def test_bad_values_fall_back_with_one_message(
    server: ParamlensLanguageServer, tmp_path: Path
) -> None:
    server.update_client_options({"timeoutSeconds": -1, "device": "gpu"}, "initializationOptions")
    server.update_client_options({"timeoutSeconds": -1, "device": "gpu"}, "initializationOptions")
    settings = server.settings_for(tmp_path / "model.py")
    assert settings.timeout_seconds == 30.0 and settings.device == "meta"
    assert len(server.shown) == 1
    assert "timeoutSeconds" in server.shown[0] and "device" in server.shown[0]


def test_untrusted_comes_only_from_initialization_options(
    server: ParamlensLanguageServer, tmp_path: Path
) -> None:
    server.update_client_options({"untrusted": True}, "workspace/configuration")
    assert not server.settings_for(tmp_path / "a.py").untrusted
    server.update_client_options({"untrusted": True}, "initializationOptions")
    server.update_client_options({"untrusted": False}, "workspace/configuration")
    assert server.untrusted and server.settings_for(tmp_path / "a.py").untrusted


def test_editor_settings_override_pyproject(
    server: ParamlensLanguageServer, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.paramlens]\ninspect = "onSave"\nignore = ["FRZ21"]\n', "utf-8"
    )
    assert server.settings_for(tmp_path / "m.py").inspect == "onSave"
    server.update_client_options({"inspect": "onCommand"}, "workspace/configuration")
    settings = server.settings_for(tmp_path / "m.py")
    assert settings.inspect == "onCommand" and settings.ignore == ("FRZ21",)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a.py": "import torch\n"}, True),
        ({"pkg/b.py": "from torch import nn\n"}, True),
        ({"c.py": "from torch.nn import Linear\n"}, True),
        ({"d.py": "import torchvision  # not torch\n", "e.txt": "import torch"}, False),
        ({".venv/lib/f.py": "import torch\n", "g.py": "x = 1\n"}, False),
        ({"node_modules/h.py": "import torch\n"}, False),
    ],
)
def test_workspace_scan_for_torch_imports(
    tmp_path: Path, files: dict[str, str], expected: bool
) -> None:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    assert imports_torch(tmp_path) is expected


def test_python_files_scan_is_bounded(tmp_path: Path) -> None:
    for index in range(10):
        (tmp_path / f"m{index}.py").write_text("x = 1\n", "utf-8")
    assert len(list(python_files(tmp_path, limit=4))) == 4
