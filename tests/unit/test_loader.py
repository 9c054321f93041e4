"""Definitions-only filtering, module names and workspace detection (pure; no torch)."""

from __future__ import annotations

import ast
import builtins
import os
import sys
import textwrap
from pathlib import Path

import pytest

from paramlens_worker import loader


def kept(source: str) -> str:
    tree = loader.definitions_only(ast.parse(textwrap.dedent(source)))
    return ast.unparse(tree)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import torch\nfrom torch import nn", "import torch\nfrom torch import nn"),
        ("def f():\n    train()", "def f():\n    train()"),
        ("class A:\n    x = run()", "class A:\n    x = run()"),
        ("N = 3\nM: int = 4\nS = 'a'", "N = 3\nM: int = 4\nS = 'a'"),
        ("BLOCKS = [1, 2, N * 2]", "BLOCKS = [1, 2, N * 2]"),
        ("CFG = {'dim': DIM, 'act': nn.ReLU}", "CFG = {'dim': DIM, 'act': nn.ReLU}"),
        ("act = lambda x: x", "act = lambda x: x"),
        ('"""doc"""', '"""doc"""'),
        ("model = Net()", ""),
        ("x = open('f').read()", ""),
        ("for i in range(3):\n    step()", ""),
        ("while True:\n    pass", ""),
        ("with open('log', 'w') as f:\n    f.write('x')", ""),
        ("train()", ""),
        ("if __name__ == '__main__':\n    main()", ""),
        ("model.fc.weight = None", ""),
        ("CACHE[k] = 1", ""),
        ("x = [n for n in range(3)]", ""),
        (
            "try:\n    import apex\nexcept ImportError:\n    apex = None\n    warn('no apex')",
            "try:\n    import apex\nexcept ImportError:\n    apex = None",
        ),
        (
            "try:\n    import a\nexcept ImportError:\n    raise RuntimeError('needs a')",
            "try:\n    import a\nexcept ImportError:\n    raise RuntimeError('needs a')",
        ),
        ("try:\n    download()\nexcept OSError:\n    pass", ""),
        (
            "if TYPE_CHECKING:\n    from x import Y\n    setup()",
            "if TYPE_CHECKING:\n    from x import Y",
        ),
        (
            "if sys.version_info >= (3, 10):\n    A = 1\nelse:\n    A = 2",
            "if sys.version_info >= (3, 10):\n    A = 1\nelse:\n    A = 2",
        ),
        ("if DEBUG:\n    import pdb", ""),
        (
            "import torch\nDEVICE = torch.device('cuda' if torch.cuda.is_available() else 'cpu')",
            "import torch\nDEVICE = torch.device('cuda' if torch.cuda.is_available() else 'cpu')",
        ),
        (
            "from torch import nn\nACT = nn.GELU()\nlog = logging.getLogger(__name__)",
            "from torch import nn\nACT = nn.GELU()",
        ),
        (
            "import logging\nlog = logging.getLogger(__name__)",
            "import logging\nlog = logging.getLogger(__name__)",
        ),
        ("import torch as T\nMASK = T.ones(4, 4)", "import torch as T\nMASK = T.ones(4, 4)"),
        ("import torch\nW = torch.load('weights.pt')", "import torch"),
        ("import torch\nM = torch.hub.load('repo', 'model')", "import torch"),
        ("from torch import nn\nX = nn.utils.prune.random_unstructured(m)", "from torch import nn"),
        ("import torch\nT = torch.ones(download())", "import torch"),
        ("import torch\nT = torch.ones(4).cuda()", "import torch"),
        ("N = int('3')\nF = open('f')", "N = int('3')"),
        ("def torch_ones():\n    pass\nX = torch_ones()", "def torch_ones():\n    pass"),
    ],
)
def test_definitions_only_keeps_only_definitions(source: str, expected: str) -> None:
    assert kept(source) == expected


def test_compiled_definitions_keep_original_line_numbers() -> None:
    source = "train()\n\n\ndef f():\n    return g()\n"
    code = loader.compile_definitions(source, "x.py")
    namespace: dict[str, object] = {}
    exec(code, namespace)
    function = namespace["f"]
    assert function.__code__.co_firstlineno == 4  # type: ignore[attr-defined]


def test_compile_definitions_reports_syntax_errors_with_position() -> None:
    with pytest.raises(SyntaxError) as error:
        loader.compile_definitions("x = 1\ndef f(:\n", "bad.py")
    assert error.value.lineno == 2


def make(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("files", "target", "name", "entry"),
    [
        (["script.py"], "script.py", "script", ""),
        (["pkg/__init__.py", "pkg/models.py"], "pkg/models.py", "pkg.models", ""),
        (
            ["pkg/__init__.py", "pkg/sub/__init__.py", "pkg/sub/m.py"],
            "pkg/sub/m.py",
            "pkg.sub.m",
            "",
        ),
        (["pkg/__init__.py"], "pkg/__init__.py", "pkg", ""),
        (["src/mypkg/__init__.py", "src/mypkg/net.py"], "src/mypkg/net.py", "mypkg.net", "src"),
        (["examples/run.py"], "examples/run.py", "run", "examples"),
    ],
)
def test_module_name_walks_up_packages(
    tmp_path: Path, files: list[str], target: str, name: str, entry: str
) -> None:
    for file in files:
        make(tmp_path / file)
    got_name, got_entry = loader.module_name_for(str(tmp_path / target), [str(tmp_path)])
    assert got_name == name
    assert got_entry == str(tmp_path / entry) if entry else got_entry == str(tmp_path)


@pytest.mark.parametrize(
    ("name", "valid"), [("a.b", True), ("my-script", False), ("x.1y", False), ("_p", True)]
)
def test_valid_module_names(name: str, valid: bool) -> None:
    assert loader.is_valid_module_name(name) is valid


def test_workspace_files_exclude_installed_packages(tmp_path: Path) -> None:
    roots = [str(tmp_path)]
    assert loader.is_workspace_file(str(make(tmp_path / "a.py")), roots)
    assert not loader.is_workspace_file(str(make(tmp_path / "data.txt")), roots)
    site = make(tmp_path / ".venv/lib/python3.11/site-packages/lib.py")
    assert not loader.is_workspace_file(str(site), roots)
    assert not loader.is_workspace_file(os.__file__, [*roots, os.path.dirname(os.__file__)])
    assert not loader.is_workspace_file(loader.__file__, [str(Path(loader.__file__).parents[2])])
    inside = make(tmp_path / "venvlike/x.py")
    assert not loader.is_workspace_file(str(inside), roots, [str(tmp_path / "venvlike") + os.sep])
    assert loader.is_workspace_file(str(inside), roots, [])


def test_load_target_runs_only_definitions_of_the_file_and_its_workspace_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran.txt"
    make(tmp_path / "proj/pkg/__init__.py")
    make(
        tmp_path / "proj/pkg/helpers.py",
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('helpers')\nVALUE = 7\n",
    )
    target = make(
        tmp_path / "proj/pkg/main.py",
        "from .helpers import VALUE\n"
        f"open({str(marker)!r}, 'w').write('main')\n"
        "def double():\n    return VALUE * 2\n",
    )
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    module = loader.load_target(str(target), [str(tmp_path / "proj")], "definitions")
    assert module.double() == 14
    assert not marker.exists()
    imported = loader.imported_workspace_files([str(tmp_path / "proj")], str(target), set())
    assert str(tmp_path / "proj/pkg/helpers.py") in imported
    assert str(target) not in imported


def test_load_target_module_mode_runs_the_top_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran.txt"
    target = make(tmp_path / "plain_script.py", f"open({str(marker)!r}, 'w').write('x')\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    loader.load_target(str(target), [str(tmp_path)], "module")
    assert marker.read_text() == "x"


def test_load_target_with_a_name_taken_by_the_stdlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = make(tmp_path / "json.py", "MINE = True\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    module = loader.load_target(str(target), [str(tmp_path)], "definitions")
    assert module.MINE is True
    assert sys.modules["json"].__name__ == "json"
    assert not hasattr(sys.modules["json"], "MINE")


@pytest.mark.parametrize(
    ("source", "name", "line"),
    [
        ("import torch\nmodel = build()\nclass A:\n    pass", "model", 2),
        ("for step in range(3):\n    loss = step", "loss", 1),
        ("if __name__ == '__main__':\n    cfg = load()", "cfg", 1),
        ("try:\n    import a\nexcept ImportError:\n    a = make()", "a", 4),
        ("N = 3", "N", None),
        ("import torch\nDEV = torch.device('cpu')", "DEV", None),
        ("def f():\n    x = run()", "x", None),
        ("x = 1", "missing", None),
    ],
)
def test_skipped_binding_points_at_the_dropped_statement(
    source: str, name: str, line: int | None
) -> None:
    assert loader.skipped_binding(ast.parse(source), name) == line


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("torch.zeros", True),
        ("torch.nn.Linear", True),
        ("torch.nn.utils.prune.l1_unstructured", False),
        ("torch.load", False),
        ("math.sqrt", True),
        ("open", False),
        ("print", False),
        ("subprocess.run", False),
    ],
)
def test_safe_calls(name: str, safe: bool) -> None:
    assert loader.is_safe_call(name) is safe


def guarded(source: str) -> str:
    tree = loader.guard_missing_imports(ast.parse(textwrap.dedent(source)))
    return ast.unparse(tree)


def test_top_level_imports_bind_stand_ins_when_their_module_is_missing() -> None:
    hook, error = loader.MISSING_HOOK, "__paramlens_error"
    assert guarded("import a.b, c as d") == (
        f"try:\n    import a.b\nexcept ModuleNotFoundError as {error}:\n"
        f"    a = {hook}({error}, 'a')\n"
        f"try:\n    import c as d\nexcept ModuleNotFoundError as {error}:\n"
        f"    d = {hook}({error}, 'c')"
    )
    assert guarded("from x.y import A, B as C") == (
        f"try:\n    from x.y import A, B as C\nexcept ModuleNotFoundError as {error}:\n"
        f"    A = {hook}({error}, 'x.y.A')\n    C = {hook}({error}, 'x.y.B')"
    )


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations",  # must stay first, and is always there
        "from . import layers",  # the workspace's own: its errors are the user's to see
        "from x import *",  # binds names nobody can list
        "try:\n    import apex\nexcept ImportError:\n    apex = None",  # the file decides
        "def f():\n    import timm",  # runs when built: fails then, as it should
    ],
)
def test_imports_that_stay_as_they_are(source: str) -> None:
    assert guarded(source) == ast.unparse(ast.parse(source))


def test_a_guarded_file_loads_without_the_module_and_fails_only_what_needs_it() -> None:
    source = (
        "import paramlens_no_such_module as lib\n"
        "from paramlens_no_such_module.nn import Base\n"
        "import os\n"
        "class A(Base):\n    pass\n"
        "def f(act=lib.layers.GELU()):\n    return act\n"
        "def g():\n    return lib.build(3)\n"
    )
    hooked = {**vars(builtins), loader.MISSING_HOOK: loader.Missing.stand_in}
    namespace: dict[str, object] = {"__builtins__": hooked}
    loader.Missing.loading = True  # as while the worker loads the target
    try:
        exec(loader.compile_definitions(source, "x.py"), namespace)
    finally:
        loader.Missing.loading = False
    assert "paramlens_no_such_module" in loader.Missing.modules
    assert repr(namespace["lib"]) == "<paramlens_no_such_module: not installed>"
    assert namespace["os"] is os
    with pytest.raises(ModuleNotFoundError, match=r"paramlens_no_such_module\.build needs"):
        namespace["g"]()  # type: ignore[operator]
    with pytest.raises(ModuleNotFoundError, match=r"paramlens_no_such_module\.nn\.Base needs"):
        namespace["A"]()  # type: ignore[operator]
    stand_in = namespace["f"]()  # type: ignore[operator]
    assert isinstance(stand_in, loader.Missing)  # made at load time, as a default
    assert not isinstance(3, namespace["lib"])  # type: ignore[arg-type]
    assert not issubclass(int, namespace["lib"])  # type: ignore[arg-type]
