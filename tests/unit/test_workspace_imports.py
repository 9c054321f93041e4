"""workspace_imports: the Module classes a file imports from its workspace, and every path that
answer depends on (what paramlens check's results cache compares on each run)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from paramlens.analysis.rules.workspace import import_lines, workspace_imports
from paramlens.cache import content_hash

SCRIPT = "from models import Net\nfrom helpers import *\nfrom torch import nn\n"


def write_workspace(root: Path) -> None:
    (root / "layers.py").write_text("import torch.nn as nn\nclass Block(nn.Module):\n    pass\n")
    (root / "models.py").write_text("from layers import Block\nclass Net(Block):\n    pass\n")


def test_files_read_and_places_looked_at_are_reported(tmp_path: Path) -> None:
    write_workspace(tmp_path)
    root = os.path.realpath(tmp_path)
    found = workspace_imports(str(tmp_path / "train.py"), SCRIPT, str(tmp_path))
    assert found.classes == {"Net"}
    files = dict(found.files)
    # models.py and, through it, layers.py were read: the hashes of the bytes read
    for name in ("models.py", "layers.py"):
        assert files[f"{root}/{name}"] == content_hash((tmp_path / name).read_bytes())
    # helpers.py does not exist (yet): each place it was looked for is part of the answer
    for missing in ("helpers.py", "helpers/__init__.py", "src/helpers.py", "torch/__init__.py"):
        assert files[f"{root}/{missing}"] is None
    assert f"{root}/train.py" not in files  # the file itself is hashed by its caller


def test_the_files_of_a_remembered_import_are_reported_again(tmp_path: Path) -> None:
    write_workspace(tmp_path)
    first = workspace_imports(str(tmp_path / "a.py"), SCRIPT, str(tmp_path))
    second = workspace_imports(str(tmp_path / "b.py"), SCRIPT, str(tmp_path))
    assert second == first


def test_a_created_file_changes_the_answer(tmp_path: Path) -> None:
    write_workspace(tmp_path)
    before = workspace_imports(str(tmp_path / "train.py"), SCRIPT, str(tmp_path))
    (tmp_path / "helpers.py").write_text("from torch import nn\nclass Head(nn.Module):\n    pass\n")
    after = workspace_imports(str(tmp_path / "train.py"), SCRIPT, str(tmp_path))
    assert after.classes == {"Net", "Head"} and before.classes == {"Net"}
    assert dict(before.files)[os.path.realpath(tmp_path / "helpers.py")] is None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["from a import b", "from a.b import (c,\n d)", "from_x = 1", " from a import b",
             "from  a\timport *", "x = 'from a import b'", "from a import (\nfrom b import c)",
             "\r", "\n", "# from a import b", "from", "import a", "from . import x"]
        ),
        max_size=12,
    ).map("\n".join)
)  # fmt: skip
def test_import_lines_are_what_a_search_of_line_starts_finds(source: str) -> None:
    pattern = re.compile(r"^from[ \t]+[\w.]+[ \t]+import[ \t]+(?:\([^)]*\)|[^\n]*)", re.MULTILINE)
    assert import_lines(source) == tuple(pattern.findall(source))


def test_real_paths_given_are_taken_as_they_are(tmp_path: Path) -> None:
    write_workspace(tmp_path)
    root = os.path.realpath(tmp_path)
    given = workspace_imports(f"{root}/train.py", SCRIPT, root, real=True)
    assert given == workspace_imports(str(tmp_path / "train.py"), SCRIPT, str(tmp_path))
