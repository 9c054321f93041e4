"""Call-site arguments, class and assignment lines, fault dumps (pure; no torch)."""

from __future__ import annotations

import ast
import math
import textwrap
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paramlens_worker import sites

NAMESPACE: dict[str, Any] = {"BLOCKS": [1, 2, 8, 8, 4], "DIM": 64, "math": math, "run": print}


def expression(text: str) -> ast.expr:
    node = ast.parse(text, mode="eval").body
    return node


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("[1, 2, 8, 8, 4]", [1, 2, 8, 8, 4]),
        ("BLOCKS", [1, 2, 8, 8, 4]),
        ("(DIM, DIM * 4)", (64, 256)),
        ("-1", -1),
        ("{'dim': DIM, 'eps': 1e-5}", {"dim": 64, "eps": 1e-5}),
        ("math.pi", math.pi),
        ("None", None),
        ("2 ** 10 // 3", 341),
        ("{1, 2}", {1, 2}),
    ],
)
def test_literal_values(text: str, value: Any) -> None:
    assert sites.evaluate_literal(expression(text), NAMESPACE) == value


@pytest.mark.parametrize(
    "text",
    [
        "run()",
        "UNKNOWN",
        "[x for x in BLOCKS]",
        "BLOCKS.copy",
        "[*BLOCKS]",
        "{**NAMESPACE}",
        "lambda: 1",
        "run + 1",
        "1 / 0",
        "math.no_such_name",
    ],
)
def test_not_literal(text: str) -> None:
    with pytest.raises(sites.NotLiteral):
        sites.evaluate_literal(expression(text), NAMESPACE)


def test_call_arguments_and_sites_in_source_order() -> None:
    tree = ast.parse(
        textwrap.dedent(
            """
            def main():
                other = DarkNet(depth)
            model = DarkNet(BLOCKS, width=DIM)
            first = DarkNet([1], **kw)
            """
        )
    )
    calls = sites.call_sites(tree)["DarkNet"]
    assert [c.lineno for c in calls] == [3, 4, 5]
    with pytest.raises(sites.NotLiteral):
        sites.call_arguments(calls[0], NAMESPACE)
    assert sites.call_arguments(calls[1], NAMESPACE) == ([[1, 2, 8, 8, 4]], {"width": 64})
    with pytest.raises(sites.NotLiteral):
        sites.call_arguments(calls[2], NAMESPACE)


def test_returned_callees_ignore_nested_functions() -> None:
    function = ast.parse(
        textwrap.dedent(
            """
            def make() -> Net:
                def inner():
                    return Hidden()
                if flag:
                    return nets.Big(3)
                model = Built(2)
                if other:
                    return model
                return Small()
            """
        )
    ).body[0]
    assert isinstance(function, ast.FunctionDef)
    assert sites.returned_callees(function) == ["Net", "nets.Big", "Built", "Small"]


def test_class_index_lines_and_self_assignments() -> None:
    tree = ast.parse(
        textwrap.dedent(
            """
            import torch

            class Outer:
                class Inner:
                    def __init__(me):
                        me.w = 1

                def build(self):
                    self.late = 2
                    self.fc = 99

                def __init__(self, n):
                    super().__init__()
                    if n:
                        self.fc = Linear(n, n)
                    self.a, self.b = 1, 2
                    self.c: int = 3
                    other.d = 4
                    self.add_module("head", Linear(n, 1))
                    self.register_module(name, None)

            def factory():
                class Local:
                    pass
                return Local
            """
        )
    )
    index = sites.class_index(tree)
    assert set(index) == {"Outer", "Outer.Inner", "factory.<locals>.Local"}
    assert index["Outer"].line == 4
    assert index["Outer.Inner"].line == 5
    assert index["Outer.Inner"].assigned == {"w": 7}
    assert index["Outer"].assigned == {
        "fc": 16,
        "a": 17,
        "b": 17,
        "c": 18,
        "head": 20,
        "late": 10,
    }


FAULT_DUMP = """Fatal Python error: Segmentation fault

Current thread 0x00007f (most recent call first):
  File "/usr/lib/python3.11/ctypes/__init__.py", line 519 in string_at
  File "/work/proj/model.py", line 9 in __init__
  File "/work/worker/introspect.py", line 40 in build
"""


def test_fault_frames_and_first_user_frame() -> None:
    frames = sites.fault_frames(FAULT_DUMP)
    assert frames == [
        ("/usr/lib/python3.11/ctypes/__init__.py", 519),
        ("/work/proj/model.py", 9),
        ("/work/worker/introspect.py", 40),
    ]
    assert sites.first_user_frame(frames, lambda f: f.startswith("/work/proj")) == (
        "/work/proj/model.py",
        9,
    )
    assert sites.first_user_frame(frames, lambda f: False) == (None, None)


LITERALS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(LITERALS)
def test_any_literal_evaluates_to_itself(value: Any) -> None:
    assert sites.evaluate_literal(expression(repr(value)), {}) == value


def builds(source: str) -> list[tuple[str, str, int]]:
    tree = ast.parse(textwrap.dedent(source))
    return [(b.key, ast.unparse(b.call), b.line) for b in sites.variable_builds(tree)]


def test_variables_bound_once_to_a_call_are_named_by_their_scope() -> None:
    assert builds(
        """
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU())

        def main(width):
            net = nn.Transformer(d_model=16)
            def inner():
                head = nn.Linear(2, 2)

        class Trainer:
            def fit(self):
                probe: nn.Module = nn.Linear(3, 3)
        """
    ) == [
        ("model", "nn.Sequential(nn.Linear(4, 8), nn.ReLU())", 3),
        ("main.net", "nn.Transformer(d_model=16)", 6),
        ("main.inner.head", "nn.Linear(2, 2)", 8),
        ("Trainer.fit.probe", "nn.Linear(3, 3)", 12),
    ]


@pytest.mark.parametrize(
    "source",
    [
        "model = nn.Linear(2, 2)\nmodel = nn.Linear(3, 3)",  # which one a loop sees: its line
        "model = nn.Linear(2, 2)\nfor model in models: pass",
        "def f(model):\n    model = nn.Linear(2, 2)",  # a parameter is bound by every call
        "def f():\n    global model\n    model = nn.Linear(2, 2)",
        "import model\nmodel = nn.Linear(2, 2)",
        "model, other = nn.Linear(2, 2), 1",  # not a single name
        "model = factory",  # not a call
        "a = b = nn.Linear(2, 2)",
    ],
)
def test_other_bindings_are_no_variable_builds(source: str) -> None:
    assert builds(source) == []


@pytest.mark.parametrize(
    ("change", "kept"),
    [
        ("model.fc = nn.Linear(512, 10)", False),  # the fine-tuning head: new names
        ("model.classifier[6] = nn.Linear(8, 2)", False),
        ("del model.fc", False),
        ("model.layers.append(nn.ReLU())", False),
        ("model.add_module('head', nn.Linear(2, 2))", False),
        ("model.register_buffer('mask', None)", False),
        ("setattr(model, 'fc', nn.Identity())", False),
        ("model[0] = nn.Identity()", False),
        ("model.fc.weight.requires_grad = False", True),  # flags and values: same names
        ("model.fc.weight.data = x", True),
        ("model.state_dict()['w'][0] = 1", True),
        ("other.fc = nn.Linear(2, 2)", True),
    ],
)
def test_a_model_restructured_in_its_scope_is_no_variable_build(change: str, kept: bool) -> None:
    found = builds(f"model = nn.Sequential(nn.Linear(2, 2))\n{change}\n")
    assert [key for key, _, _ in found] == (["model"] if kept else [])


def test_dotted_name() -> None:
    assert sites.dotted_name(expression("torch.nn.Linear")) == "torch.nn.Linear"
    assert sites.dotted_name(expression("Net")) == "Net"
    assert sites.dotted_name(expression("make()().x")) is None


def test_methods_returning_the_same_module_keep_the_variable() -> None:
    assert builds(
        """
        model = nn.Sequential(nn.Linear(2, 2)).to(device).eval()
        model = model.to(device)
        model = model.half().train()
        other = nn.Linear(2, 2)
        other = model.to(device)
        """
    ) == [("model", "nn.Sequential(nn.Linear(2, 2))", 2)]
