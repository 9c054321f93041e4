"""The source map: Module classes, factories, submodules, model bindings, freeze loops and
hover targets, from source alone."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Optional

import pytest
from report_fixtures import RUNTIME_SCRIPTS

from paramlens.analysis.source_map import (
    FreezeLoop,
    SourceMap,
    build_source_map,
    report_for,
    target_at,
)

HEADER = "import torch\nimport torch.nn as nn\n"


def smap(body: str, module_names: tuple[str, ...] = ()) -> SourceMap:
    source = HEADER + textwrap.dedent(body)
    return build_source_map(ast.parse(source), source, module_names)


@pytest.mark.parametrize(
    ("body", "module_names", "expected"),
    [
        ("class A(nn.Module): pass\n", (), ["A"]),
        ("class A(torch.nn.Module): pass\n", (), ["A"]),
        ("class A(nn.Sequential): pass\n", (), ["A"]),
        ("class B(A): pass\nclass A(nn.Module): pass\n", (), ["A", "B"]),
        ("from pkg import Base\nclass A(Base): pass\n", (), []),
        ("from pkg import Base\nclass A(Base): pass\n", ("Base",), ["A"]),
        ("class A(object): pass\nclass B: pass\n", (), []),
        ("from torch import nn as tnn\nclass A(tnn.Linear): pass\n", (), ["A"]),
        ("import lightning as L\nclass A(L.LightningModule): pass\n", (), ["A"]),
        ("from transformers import PreTrainedModel\nclass A(PreTrainedModel): pass\n", (), ["A"]),
        ("from lib import Thing\nclass A(Thing): pass\n", ("A",), ["A"]),
    ],
)
def test_module_classes(body: str, module_names: tuple[str, ...], expected: list[str]) -> None:
    assert sorted(c.name for c in smap(body, module_names).classes) == expected


def test_class_name_span_points_at_the_name_token() -> None:
    source = HEADER + "class  Net(nn.Module):\n    pass\n"
    sm = build_source_map(ast.parse(source), source)
    span = sm.classes[0].span
    assert source.splitlines()[span.start_line][span.start_col : span.end_col] == "Net"
    assert sm.classes[0].line == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("class N(nn.Module): pass\ndef make():\n    return N()\n", ["make"]),
        ("class N(nn.Module): pass\ndef make(depth=2):\n    m = N()\n    return m\n", ["make"]),
        ("def make():\n    return nn.Linear(2, 3).double()\n", ["make"]),
        ("def make():\n    return torch.compile(nn.Linear(2, 3))\n", ["make"]),
        ("class N(nn.Module): pass\ndef make(depth):\n    return N()\n", []),
        ("def make():\n    return 3\n", []),
        ("def make():\n    pass\n", []),
        (
            "class N(nn.Module): pass\ndef a():\n    return b()\ndef b():\n    return N()\n",
            ["a", "b"],
        ),
    ],
)
def test_factories(body: str, expected: list[str]) -> None:
    assert sorted(f.name for f in smap(body).factories) == expected


def test_submodule_assignments_in_init() -> None:
    sm = smap(
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 8)
                if True:
                    self.act: nn.Module = nn.ReLU()
                self.scale = 2.0

            def forward(self, x):
                self.cache = x
        """
    )
    got = [(s.class_name, s.attr, s.line, s.constructor) for s in sm.submodules]
    assert got == [
        ("Net", "fc1", 6, "nn.Linear"),
        ("Net", "act", 8, "nn.ReLU"),
        ("Net", "scale", 9, None),
    ]


BINDINGS = """
from pkg.models import ResNet as R
import pkg.models as models
from torch.nn.parallel import DistributedDataParallel as DDP

class Net(nn.Module):
    pass

def make():
    return Net()

model = Net(3)
model = model.to("cuda")
made = make()
imported = R()
dotted = models.ResNet()
compiled = torch.compile(model)
dp = nn.DataParallel(make())
ddp = DDP(model, device_ids=[0])
inner = dp.module
linear = nn.Linear(2, 3)
model2 = Net()
model2 = load(model2)

def train():
    local = Net()
    return local

def fine_tune(model):
    return model

def fit(model: Net, other: "Net", n: int = 3):
    return model
"""


def bound_model(sm: SourceMap, name: str, scope: str) -> Optional[tuple[str, str, bool]]:
    """(object, prefix, imported) of the binding of ``name`` at the end of ``scope``."""
    binding = sm.binding_at(name, 10_000, scope)
    if binding is None or binding.object is None:
        return None
    return binding.object, binding.prefix, binding.imported


@pytest.mark.parametrize(
    ("name", "scope", "expected"),
    [
        ("model", "", ("Net", "", False)),
        ("made", "", ("make", "", False)),
        ("imported", "", ("ResNet", "", True)),
        ("dotted", "", ("ResNet", "", True)),
        ("compiled", "", ("Net", "_orig_mod.", False)),
        ("dp", "", ("make", "module.", False)),
        ("ddp", "", ("Net", "module.", False)),
        ("inner", "", ("make", "", False)),
        ("linear", "", None),
        ("model2", "", None),
        ("local", "train", ("Net", "", False)),
        ("model", "fine_tune", None),
        ("model", "train", ("Net", "", False)),
        ("model", "fit", ("Net", "", False)),
        ("other", "fit", None),
        ("n", "fit", None),
    ],
)
def test_bindings_at_the_end_of_their_scope(
    name: str, scope: str, expected: Optional[tuple[str, str, bool]]
) -> None:
    assert bound_model(smap(BINDINGS), name, scope) == expected


def test_a_rebinding_holds_only_from_its_line() -> None:
    sm = smap("class A(nn.Module): pass\nclass B(nn.Module): pass\nm = A()\nx = 1\nm = B()\n")
    assert sm.binding_at("m", 5, "") is not None
    assert sm.binding_at("m", 5, "").object == "A"  # type: ignore[union-attr]
    assert sm.binding_at("m", 7, "").object == "B"  # type: ignore[union-attr]


STRUCTURE_KEPT = [
    "model.requires_grad = False",
    "model.fc.weight.requires_grad = False",
    "model.training: bool = False",
    "print(model)",
    "nn.init.zeros_(model.fc.weight)",
    "wrapped = nn.DataParallel(model)",
    "keep(model)",
]
STRUCTURE_CHANGED = [
    "model.fc.weight = None",
    "model[0] = nn.Linear(2, 2)",
    "model.fc, x = nn.Linear(2, 2), 1",
    "del model.fc",
    "model.layers.append(nn.Linear(2, 2))",
    "setattr(model, 'fc', nn.Linear(2, 2))",
    "replace_head(model)",
    "replace_head(other=1, m=model.body)",
    "prune.l1_unstructured(model.fc, 'weight', 0.3)",
    "get_peft_model(model, config)",
]


@pytest.mark.parametrize(
    ("store", "kept"),
    [(s, True) for s in STRUCTURE_KEPT] + [(s, False) for s in STRUCTURE_CHANGED],
)
def test_a_statement_that_may_restructure_the_model_ends_its_binding(
    store: str, kept: bool
) -> None:
    sm = smap(
        "class A(nn.Module): pass\n"
        "def keep(m):\n    m.fc.weight.requires_grad = False\n"
        "def replace_head(m, other=0):\n    m.head = nn.Linear(2, 2)\n"
        f"model = A()\n{store}\nprint(model.fc)\n"
    )
    before = sm.binding_at("model", 8, "")  # 0-based: the statement is line 8
    assert before is not None and before.object == "A"
    after = sm.binding_at("model", 10, "")
    assert after is not None and (after.object == "A") is kept
    hovered = any(t.kind == "attribute_chain" and t.span.start_line == 9 for t in sm.targets)
    assert hovered is kept


def test_a_function_restructuring_a_module_level_model_ends_it_only_there() -> None:
    sm = smap(
        """
        class A(nn.Module): pass
        model = A()
        def grow():
            print(model.fc)
            model.extra = nn.Linear(2, 2)
            print(model.extra)
        """
    )
    # lines are 0-based: `model.extra = ...` is line 7
    assert sm.binding_at("model", 7, "grow").object == "A"  # type: ignore[union-attr]
    assert sm.binding_at("model", 8, "grow").object is None  # type: ignore[union-attr]
    assert sm.binding_at("model", 10, "").object == "A"  # type: ignore[union-attr]


@pytest.mark.parametrize("rebind", ["model = 1", "model, x = 1, 2", "[x, *model] = 1, 2"])
def test_a_plain_assignment_rebinds(rebind: str) -> None:
    sm = smap(f"class A(nn.Module): pass\nmodel = A()\n{rebind}\nprint(model.fc)\n")
    binding = sm.binding_at("model", 6, "")
    assert binding is not None and binding.object is None


def only_loop(body: str) -> FreezeLoop:
    loops = smap("class Net(nn.Module): pass\n" + textwrap.dedent(body)).loops
    assert len(loops) == 1, loops
    return loops[0]


@pytest.mark.parametrize(
    ("body", "method", "path", "name_var", "values", "n_conditions"),
    [
        (
            "model = Net()\nfor n, p in model.named_parameters():\n"
            "    if 'fc' in n:\n        p.requires_grad = False\n",
            "named_parameters",
            "",
            "n",
            [False],
            1,
        ),
        (
            "model = Net()\nfor p in model.backbone.parameters():\n    p.requires_grad_(False)\n",
            "parameters",
            "backbone",
            None,
            [False],
            0,
        ),
        (
            "model = Net()\nfor n, p in model.named_parameters():\n    p.requires_grad_()\n",
            "named_parameters",
            "",
            "n",
            [True],
            0,
        ),
        (
            "model = Net()\nfor n, p in model.named_parameters():\n"
            "    if n.startswith('head'):\n        continue\n    p.requires_grad = False\n",
            "named_parameters",
            "",
            "n",
            [False],
            1,
        ),
        (
            "model = Net()\nfor n, p in model.named_parameters():\n"
            "    if 'fc' in n:\n        p.requires_grad = True\n    else:\n"
            "        with torch.no_grad():\n            p.requires_grad = False\n",
            "named_parameters",
            "",
            "n",
            [True, False],
            1,
        ),
        (
            "model = Net()\nfor name, m in model.named_modules():\n"
            "    if name == 'bn':\n        m.requires_grad_(False)\n",
            "named_modules",
            "",
            "name",
            [False],
            1,
        ),
        (
            "model = Net()\nfor name, m in model.named_children():\n"
            "    for q in m.parameters():\n        q.requires_grad = False\n",
            "named_children",
            "",
            "name",
            [False],
            0,
        ),
        (
            "model = Net()\n[p.requires_grad_(False) for n, p in model.named_parameters()"
            " if n.startswith('fc')]\n",
            "named_parameters",
            "",
            "n",
            [False],
            1,
        ),
        (
            "model = Net()\nfor n, p in model.named_parameters():\n"
            "    p.requires_grad = not n.startswith('fc')\n",
            "named_parameters",
            "",
            "n",
            [None],
            0,
        ),
    ],
)
def test_freeze_loops(
    body: str,
    method: str,
    path: str,
    name_var: Optional[str],
    values: list[Optional[bool]],
    n_conditions: int,
) -> None:
    loop = only_loop(body)
    assert (loop.method, loop.receiver_path, loop.name_var, loop.object) == (
        method,
        path,
        name_var,
        "Net",
    )
    assert [s.value for s in loop.sinks] == values
    assert len(loop.sinks[-1].conditions) == n_conditions


def test_loops_in_methods_of_the_class_use_self() -> None:
    sm = smap(
        """
        class Net(nn.Module):
            def freeze(self):
                for n, p in self.named_parameters(prefix="net"):
                    if "fc" in n:
                        p.requires_grad = False
        """
    )
    (loop,) = sm.loops
    assert (loop.receiver, loop.object, loop.name_prefix) == ("self", "Net", "net")


@pytest.mark.parametrize(
    "body",
    [
        # no requires_grad sink
        "model = Net()\nfor n, p in model.named_parameters():\n    print(n)\n",
        # an unknown receiver (a function argument)
        "def f(model):\n    for n, p in model.named_parameters():\n"
        "        p.requires_grad = False\n",
        # sinks on something else than the loop's item
        "model = Net()\nq = 1\nfor n, p in model.named_parameters():\n"
        "    q.requires_grad = False\n",
    ],
)
def test_not_freeze_loops(body: str) -> None:
    assert smap("class Net(nn.Module): pass\n" + body).loops == ()


def test_wrapped_receiver_keeps_the_prefix_and_unwraps_module() -> None:
    sm = smap(
        "class Net(nn.Module): pass\n"
        "dp = nn.DataParallel(Net())\n"
        "for n, p in dp.named_parameters():\n    p.requires_grad = False\n"
        "for n, p in dp.module.named_parameters():\n    p.requires_grad = False\n"
    )
    assert [(loop.prefix, loop.receiver_path) for loop in sm.loops] == [
        ("module.", ""),
        ("", ""),
    ]


TARGETS = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 4)

    def forward(self, x):
        return self.fc1(x)

model = Net()
w = model.fc1.weight
sd = model.state_dict(keep_vars=True)
for name, p in model.named_parameters():
    if name.startswith("fc2"):
        p.requires_grad = False
h = model.layers[0].weight
"""


def position(source: str, needle: str, occurrence: int = 0) -> tuple[int, int]:
    index = -1
    for _ in range(occurrence + 1):
        index = source.index(needle, index + 1)
    line = source.count("\n", 0, index)
    col = index - (source.rfind("\n", 0, index) + 1)
    return line, col


@pytest.mark.parametrize(
    ("needle", "occurrence", "expected"),
    [
        ("Net(nn", 0, ("class", "Net", "", None, False)),
        ("fc1 =", 0, ("submodule", "Net", "fc1", None, False)),
        ("fc1(x)", 0, ("submodule", "Net", "fc1", None, False)),
        ("Net()", 0, ("class", "Net", "", None, False)),
        ("weight\nsd", 0, ("attribute_chain", "Net", "fc1.weight", None, False)),
        ("fc1.weight", 0, ("attribute_chain", "Net", "fc1", None, False)),
        ("model.fc1", 0, ("attribute_chain", "Net", "", None, False)),
        ("model = Net", 0, ("attribute_chain", "Net", "", None, False)),
        ("sd =", 0, None),
        ("state_dict", 0, ("collection_call", "Net", "", "state_dict", True)),
        ("named_parameters", 0, ("collection_call", "Net", "", "named_parameters", False)),
        ('"fc2"', 0, ("filter_string", "Net", "", "named_parameters", False)),
        ("weight\n", 1, ("attribute_chain", "Net", "layers.0.weight", None, False)),
        ("super", 0, None),
        ("x)", 1, None),
    ],
)
def test_target_at(
    needle: str, occurrence: int, expected: Optional[tuple[str, str, str, Optional[str], bool]]
) -> None:
    source = HEADER + textwrap.dedent(TARGETS)
    sm = build_source_map(ast.parse(source), source)
    line, col = position(source, needle, occurrence)
    target = target_at(sm, line, col + 1)
    got = (
        None
        if target is None
        else (target.kind, target.object, target.path, target.method, target.keep_vars)
    )
    assert got == expected
    if target is not None and target.kind == "filter_string":
        assert target.text == "fc2" and target.loop is not None


def test_positions_are_code_points_after_wide_characters() -> None:
    source = HEADER + "class Net(nn.Module): pass\nmodel = Net()\nx = '模型'; y = model.fc1\n"
    sm = build_source_map(ast.parse(source), source)
    line, col = position(source, "fc1")
    target = target_at(sm, line, col)
    assert target is not None and target.path == "fc1"
    assert source.splitlines()[line][target.span.start_col : target.span.end_col] == "fc1"


def test_report_for_prefers_the_file_then_a_unique_name() -> None:
    a = {"object": "Net", "file": "/p/a.py"}
    b = {"object": "Net", "file": "/p/b.py"}
    c = {"object": "Other", "file": "/p/c.py"}
    reports = [a, b, c]
    assert report_for(reports, "Net", "/p/b.py") is b  # type: ignore[arg-type]
    assert report_for(reports, "Net", "/p/x.py") is None  # type: ignore[arg-type]
    assert report_for(reports, "Other", "/p/x.py") is c  # type: ignore[arg-type]
    assert report_for(reports, None, "/p/a.py") is None  # type: ignore[arg-type]


def test_models_held_by_plain_classes_bind_self_attributes() -> None:
    sm = smap(
        """
        class Net(nn.Module):
            pass

        class Trainer:
            def __init__(self, lr=0.1):
                model = Net()
                self.model = torch.compile(model)
                self.other = load()
                self.twice = Net()

            def reset(self):
                self.twice = nn.Linear(2, 3)

            def freeze(self):
                for n, p in self.model.named_parameters():
                    if "fc" in n:
                        p.requires_grad = False
                for p in self.model._orig_mod.fc1.parameters():
                    p.requires_grad = False
                for n, p in self.other.named_parameters():
                    p.requires_grad = False
                for n, p in self.twice.named_parameters():
                    p.requires_grad = False
        """
    )
    got = [(loop.receiver, loop.object, loop.prefix, loop.receiver_path) for loop in sm.loops]
    assert got == [("self.model", "Net", "_orig_mod.", ""), ("self.model", "Net", "", "fc1")]


_SCRIPTS = sorted(RUNTIME_SCRIPTS.glob("*.py"))


@pytest.mark.parametrize("script", _SCRIPTS, ids=[s.name for s in _SCRIPTS])
def test_every_position_finds_the_token_under_it(script: Path) -> None:
    source = script.read_text()
    lines = source.splitlines()
    sm = build_source_map(ast.parse(source), source)
    found = 0
    for line, text in enumerate(lines):
        for col in range(len(text) + 1):
            target = target_at(sm, line, col)
            if target is None:
                continue
            found += 1
            span = target.span
            assert (span.start_line, span.start_col) <= (line, col) <= (span.end_line, span.end_col)
            token = text[span.start_col : span.end_col]
            if target.kind == "filter_string":
                assert ast.literal_eval(token) == target.text
                continue
            variable = (target.variable or "").rsplit(".", 1)[-1]
            expected = {
                "class": {target.object, variable},
                "collection_call": {target.method},
                "submodule": {target.path.rsplit(".", 1)[-1]},
                # the variable, or the wrapper attribute that leads back to the model
                "attribute_chain": {target.path.rsplit(".", 1)[-1], variable}
                | ({"module", "_orig_mod"} if not target.path else set()),
            }[target.kind]
            assert token in expected, (line, col, target)
    assert found


HELPERS = """
class Net(nn.Module):
    pass

def freeze(model, depth=1):
    for name, p in model.named_parameters():
        p.requires_grad = False

def mixed(model):
    return model

def by_keyword(*, model):
    return model

def unknown(model):
    return model

def main():
    net = Net()
    freeze(net, 2)
    mixed(net)
    by_keyword(model=torch.compile(net))

mixed(nn.Linear(2, 2))
unknown(make_model())
"""


@pytest.mark.parametrize(
    ("name", "scope", "expected"),
    [
        ("model", "freeze", ("Net", "", False)),  # called from main(), defined before it
        ("model", "by_keyword", ("Net", "_orig_mod.", False)),
        ("model", "mixed", None),  # passed a Net and a Linear
        ("model", "unknown", None),
        ("depth", "freeze", None),
    ],
)
def test_a_helpers_parameter_is_the_model_every_call_passes(
    name: str, scope: str, expected: Optional[tuple[str, str, bool]]
) -> None:
    assert bound_model(smap(HELPERS), name, scope) == expected


def test_loops_in_a_helper_resolve_to_the_model_passed_to_it() -> None:
    (loop,) = smap(HELPERS).loops
    assert (loop.object, loop.receiver, loop.method) == ("Net", "model", "named_parameters")


def test_variables_bind_to_their_own_reports() -> None:
    source = textwrap.dedent(
        """
        model = nn.Sequential(nn.Linear(2, 2))
        alias = model
        def main():
            net = nn.Linear(2, 2)
        """
    )
    sm = build_source_map(ast.parse(source), source, [], variables=["model", "main.net"])
    assert sm.binding_at("alias", 10, "").object == "model"  # type: ignore[union-attr]
    assert sm.binding_at("net", 10, "main").object == "main.net"  # type: ignore[union-attr]
    # without a report, a torch class is no model of the file
    assert smap(source).binding_at("model", 10, "") is None


def test_a_helpers_parameter_takes_the_literal_every_call_passes() -> None:
    sm = smap(
        """
        class Net(nn.Module):
            pass

        def freeze(model, prefixes, keep="head", depth=1):
            depth = depth + 1
            for name, p in model.named_parameters():
                if any(name.startswith(x) for x in prefixes) and keep not in name:
                    p.requires_grad = False

        def main():
            freeze(Net(), ["a.", "b."], depth=2)
            freeze(Net(), prefixes=["a.", "b."], depth=2)

        def other(model, prefix):
            for name, p in model.named_parameters():
                if name.startswith(prefix):
                    p.requires_grad = False

        other(Net(), "a")
        other(Net(), "b")
        """
    )
    freeze, other = sm.loops
    assert freeze.constants["prefixes"] == ["a.", "b."]
    assert freeze.constants["keep"] == "head"  # the default, where no call passes it
    assert "depth" not in freeze.constants  # rebound in the body
    assert "prefix" not in other.constants  # the calls disagree


TRAINER = """
class Net(nn.Module):
    pass

class Trainer:
    def __init__(self, model, frozen=2):
        self.model = model

    def setup(self):
        self.freeze_layers(self.model, 2)
        self.strip(self.model)

    def freeze_layers(self, model, count):
        for name, p in model.named_parameters():
            if name.startswith("layer."):
                p.requires_grad = False

    def strip(self, model):
        model = 3
        for name, p in model.named_parameters():
            p.requires_grad = False

def main():
    trainer = Trainer(Net())
    trainer.setup()
"""


def test_a_plain_classs_methods_are_helpers_of_its_constructor_and_of_each_other() -> None:
    sm = smap(TRAINER)
    assert bound_model(sm, "model", "Trainer.__init__") == ("Net", "", False)
    assert bound_model(sm, "model", "Trainer.freeze_layers") == ("Net", "", False)
    # a parameter bound again in the body stays bound to what the body binds
    assert bound_model(sm, "model", "Trainer.strip") is None
    (loop,) = sm.loops
    assert (loop.object, loop.scope, loop.constants["count"]) == ("Net", "Trainer.freeze_layers", 2)


FREEZING_FROM_A_METHOD = """
class Net(nn.Module):
    pass

def freeze_backbone(model, prefix="backbone."):
    unfreeze_all(model)
    for name, p in model.named_parameters():
        if name.startswith(prefix):
            p.requires_grad = False

def unfreeze_all(model):
    for p in model.parameters():
        p.requires_grad = True

def build_and_fit(model):
    Fitter(model).fit()

class Fitter:
    def __init__(self, model):
        self.model = model
        freeze_backbone(self.model, "encoder.")

    def fit(self):
        unfreeze_all(self.model)

def main():
    build_and_fit(Net())
"""


def test_a_function_a_method_calls_learns_that_call() -> None:
    sm = smap(FREEZING_FROM_A_METHOD)
    # called from a method, and from the function a method calls: walked after the methods
    assert bound_model(sm, "model", "freeze_backbone") == ("Net", "", False)
    assert bound_model(sm, "model", "unfreeze_all") == ("Net", "", False)
    (freeze, _) = sorted(sm.loops, key=lambda loop: loop.line)
    assert freeze.constants["prefix"] == "encoder."
    # it builds the plain class, so it comes before the methods, which learn its call
    assert bound_model(sm, "model", "build_and_fit") == ("Net", "", False)
    assert bound_model(sm, "model", "Fitter.__init__") == ("Net", "", False)


HOLDER = """
class Net(nn.Module):
    pass

class Holder:
    def __init__(self, model):
        self.model = model

    def freeze(self):
        for p in self.model.parameters():
            p.requires_grad = False

    def reset(self):
        for p in self.model.parameters():
            p.requires_grad = False
        self.model.head = nn.Linear(4, 2)
        for p in self.model.parameters():
            p.requires_grad = False

class Plain:
    def __init__(self, model):
        self.model = model

def main():
    model = Net()
    Plain(model)
    for p in model.parameters():
        p.requires_grad = False
    Holder(model)
    for p in model.parameters():
        p.requires_grad = False
"""


def test_a_model_a_plain_class_restructures_stands_only_before_it_does() -> None:
    # the method that sets the head: bound up to that line; any other method may run after it
    # (unbound); the constructor of a class that restructures what it holds, a restructurer
    loops = sorted((loop.scope, loop.span.start_line, loop.object) for loop in smap(HOLDER).loops)
    assert loops == [("Holder.reset", 15, "Net"), ("main", 28, "Net")]  # the first loop of each
