"""Name filters compiled from loop conditions, and what a freeze loop does to a real report."""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from report_fixtures import load

from paramlens.analysis.filters import FilterError, compile_filter, freeze_effect, loop_names
from paramlens.analysis.source_map import build_source_map, report_for

NAMES = [
    "features.0.weight",
    "features.0.bias",
    "blocks.1.weight",
    "blocks.10.weight",
    "fc1.weight",
    "fc1.bias",
    "bias",
]
CONSTANTS: dict[str, Any] = {"FROZEN": ["fc1", "features"], "PREFIXES": ("blocks.1.",)}


def expression(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("'fc' in n", ["fc1.weight", "fc1.bias"]),
        ("'fc' not in n", [x for x in NAMES if "fc" not in x]),
        ("n.startswith('blocks.1')", ["blocks.1.weight", "blocks.10.weight"]),
        (
            "n.startswith(('fc1.', 'features.'))",
            ["features.0.weight", "features.0.bias", "fc1.weight", "fc1.bias"],
        ),
        ("n.startswith(PREFIXES)", ["blocks.1.weight"]),
        ("n.endswith('bias')", ["features.0.bias", "fc1.bias", "bias"]),
        ("n == 'bias'", ["bias"]),
        ("n != 'bias' and 'fc1' in n", ["fc1.weight", "fc1.bias"]),
        ("n in ['fc1', 'fc2']", []),
        ("n in ('fc1.weight',)", ["fc1.weight"]),
        ("re.match(r'blocks\\.\\d\\.', n)", ["blocks.1.weight"]),
        (
            "re.search('weight$', n)",
            ["features.0.weight", "blocks.1.weight", "blocks.10.weight", "fc1.weight"],
        ),
        ("re.fullmatch('fc1\\\\..*', n)", ["fc1.weight", "fc1.bias"]),
        ("re.compile('^fc').match(n)", ["fc1.weight", "fc1.bias"]),
        (
            "any(k in n for k in FROZEN)",
            ["features.0.weight", "features.0.bias", "fc1.weight", "fc1.bias"],
        ),
        ("any(n.startswith(k) for k in ['fc1', 'bias'])", ["fc1.weight", "fc1.bias", "bias"]),
        ("all(k not in n for k in FROZEN)", ["blocks.1.weight", "blocks.10.weight", "bias"]),
        ("not ('weight' in n or 'bias' in n)", []),
        ("n.split('.')[0] == 'blocks'", ["blocks.1.weight", "blocks.10.weight"]),
        ("n.lower().startswith('fc')", ["fc1.weight", "fc1.bias"]),
        ("f'{n}'.startswith('bias')", ["bias"]),
        ("len(n.split('.')) == 1", ["bias"]),
        ("True", NAMES),
    ],
)
def test_compiled_filters_select_names(condition: str, expected: list[str]) -> None:
    compiled = compile_filter(expression(condition), "n", CONSTANTS)
    assert compiled is not None
    assert [name for name in NAMES if compiled(name)] == expected


@pytest.mark.parametrize(
    "condition",
    [
        "n in frozen_names()",
        "n.startswith(prefix)",
        "isinstance(p, torch.Tensor)",
        "p.ndim > 1",
        "epoch > 3 and 'fc' in n",
        "re.match(pattern, n)",
        "n.startswith(PREFIXES) or cfg.freeze",
        "[k for k in FROZEN for j in FROZEN]",
    ],
)
def test_filters_that_are_not_static_compile_to_none(condition: str) -> None:
    assert compile_filter(expression(condition), "n", CONSTANTS) is None


def test_a_filter_that_raises_on_some_names_raises_filter_error() -> None:
    compiled = compile_filter(expression("n.split('.')[2] == 'weight'"), "n", {})
    assert compiled is not None
    assert compiled("a.0.weight") is True
    with pytest.raises(FilterError):
        compiled("bias")


def effect_at(name: str, snippet: str) -> tuple[Any, Any]:
    source, reports = load(name)
    sm = build_source_map(ast.parse(source), source, {r["object"] for r in reports})
    line = next(i for i, text in enumerate(source.splitlines()) if snippet in text)
    loop = next(loop for loop in sm.loops if loop.line <= line <= loop.line + 2)
    report = report_for(reports, loop.object, f"{name}.py")
    assert report is not None
    return loop, freeze_effect(loop, report)


@pytest.mark.parametrize(
    ("name", "snippet", "matched", "frozen", "elements", "total"),
    [
        ("acceptance_net", '"fc2" in name', 0, (), 0, (4, 58)),
        ("acceptance_net", 'name.startswith("fc1")', 2, ("fc1.weight", "fc1.bias"), 52, (4, 58)),
        ("c12_name_filters", '"blocks.1" in name', 6, None, 60, (24, 240)),
        (
            "c12_name_filters",
            'startswith("blocks.1.")',
            2,
            ("blocks.1.weight", "blocks.1.bias"),
            20,
            (24, 240),
        ),
        ("c12_name_filters", '"weight" in name or "bias" in name', 6, None, 130, (6, 130)),
        ("c12_name_filters", 'name == "layer1.0"', 0, (), 0, (10, 90)),
        ("c14_tied_parameters", 'name.startswith("lm_head")', 0, (), 0, (3, 60)),
        ("tied_and_parametrized", 'name == "bn"', 1, ("bn.weight", "bn.bias"), 16, (7, 82)),
        ("tied_and_parametrized", '"blocks.1" in name', 6, None, 60, (24, 240)),
        ("tied_and_parametrized", "name.startswith(FROZEN)", 0, (), 0, (3, 60)),
    ],
)
def test_freeze_effect_on_real_reports(
    name: str,
    snippet: str,
    matched: int,
    frozen: Optional[tuple[str, ...]],
    elements: int,
    total: tuple[int, int],
) -> None:
    _, effect = effect_at(name, snippet)
    assert effect is not None
    assert len(effect.matched) == matched
    if frozen is not None:
        assert effect.frozen == frozen
    assert effect.frozen_elements == elements
    assert (effect.total_tensors, effect.total_elements) == total
    assert effect.unfrozen == ()


def test_loop_names_carry_the_wrapper_prefix_and_skip_tied_aliases() -> None:
    loop, effect = effect_at("tied_and_parametrized", "name.startswith(FROZEN)")
    assert effect.names == ("module.embed.weight", "module.body.weight", "module.body.bias")
    _, reports = load("tied_and_parametrized")
    tied = report_for(reports, "TiedLM", None)
    assert tied is not None
    assert [seen for seen, _ in loop_names(loop, tied)] == list(effect.names)


def test_a_filter_that_is_not_static_has_no_effect_to_tell() -> None:
    source = textwrap.dedent(
        """
        import torch.nn as nn
        class Net(nn.Module):
            pass
        model = Net()
        for n, p in model.named_parameters():
            if n in wanted():
                p.requires_grad = False
        """
    )
    _, reports = load("acceptance_net")
    report = dict(reports[0], object="Net")
    (loop,) = build_source_map(ast.parse(source), source).loops
    assert freeze_effect(loop, report) is None  # type: ignore[arg-type]


def test_unfreeze_in_else_branch_counts_both_ways() -> None:
    source = textwrap.dedent(
        """
        import torch.nn as nn
        class net(nn.Module):
            pass
        model = net()
        for n, p in model.named_parameters():
            if n.startswith("fc1"):
                p.requires_grad = True
            else:
                p.requires_grad = False
        """
    )
    _, reports = load("acceptance_net")
    (loop,) = build_source_map(ast.parse(source), source).loops
    effect = freeze_effect(loop, reports[0])
    assert effect is not None
    assert effect.unfrozen == ("fc1.weight", "fc1.bias")
    assert effect.frozen == ("bn1.weight", "bn1.bias")
    assert (effect.frozen_elements, effect.unfrozen_elements) == (6, 52)


ACCEPTANCE_HEAD = """
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm
from mylib import Block

class net(nn.Module):
    pass

class Custom(Block):
    pass

model = net()
"""


@pytest.mark.parametrize(
    ("loop", "frozen"),
    [
        (
            "for m in model.modules():\n    if isinstance(m, nn.BatchNorm1d):\n"
            "        m.requires_grad_(False)\n",
            ("bn1.weight", "bn1.bias"),
        ),
        (
            "for m in model.modules():\n    if isinstance(m, _BatchNorm):\n"
            "        m.requires_grad_(False)\n",
            ("bn1.weight", "bn1.bias"),
        ),
        (
            "for m in model.modules():\n    if isinstance(m, nn.BatchNorm2d):\n"
            "        m.requires_grad_(False)\n",
            (),
        ),
        (
            "for m in model.modules():\n    if isinstance(m, (nn.Linear, nn.BatchNorm1d)):\n"
            "        for q in m.parameters():\n            q.requires_grad = False\n",
            ("bn1.weight", "bn1.bias", "fc1.weight", "fc1.bias"),
        ),
        (
            "for n, m in model.named_modules():\n    if type(m).__name__.startswith('Batch'):\n"
            "        m.requires_grad_(False)\n",
            ("bn1.weight", "bn1.bias"),
        ),
        (
            "for n, m in model.named_children():\n    if m.__class__.__name__ == 'Linear':\n"
            "        m.weight.requires_grad = False\n",
            ("fc1.weight",),
        ),
        (
            "for n, p in model.named_parameters():\n    if p.ndim == 1:\n"
            "        p.requires_grad = False\n",
            ("bn1.weight", "bn1.bias", "fc1.bias"),
        ),
        (
            "for p in model.parameters():\n    if p.dim() > 1 and p.shape[1] == 12:\n"
            "        p.requires_grad = False\n",
            ("fc1.weight",),
        ),
        ("for p in model.parameters():\n    p.requires_grad = p.numel() < 5\n", ("fc1.weight",)),
        (
            "for p in list(model.parameters())[:-2]:\n    p.requires_grad = False\n",
            ("bn1.weight", "bn1.bias"),
        ),
        (
            "for n, p in list(model.named_parameters())[2:]:\n    p.requires_grad_(False)\n",
            ("fc1.weight", "fc1.bias"),
        ),
        (
            "for i, (n, p) in enumerate(model.named_parameters()):\n    if i < 3:\n"
            "        p.requires_grad = False\n",
            ("bn1.weight", "bn1.bias", "fc1.weight"),
        ),
        (
            "for i, p in enumerate(model.parameters()):\n    p.requires_grad = i % 2 == 1\n",
            ("bn1.weight", "fc1.weight"),
        ),
    ],
)
def test_conditions_on_the_loop_item(loop: str, frozen: tuple[str, ...]) -> None:
    source = ACCEPTANCE_HEAD + loop
    _, reports = load("acceptance_net")
    (found,) = build_source_map(ast.parse(source), source).loops
    effect = freeze_effect(found, reports[0])
    assert effect is not None
    assert effect.frozen == frozen


def test_isinstance_on_a_class_with_unknown_bases_is_not_static() -> None:
    source = ACCEPTANCE_HEAD.replace("model = net()", "model = Custom()") + (
        "for m in model.modules():\n    if isinstance(m, nn.BatchNorm1d):\n"
        "        m.requires_grad_(False)\n"
    )
    _, reports = load("acceptance_net")
    report = dict(reports[0], object="Custom")
    report["modules"] = [
        dict(m, **({"class": "Custom"} if not m["name"] else {})) for m in reports[0]["modules"]
    ]
    (found,) = build_source_map(ast.parse(source), source, ("Block",)).loops
    assert found.object == "Custom"
    assert freeze_effect(found, report) is None  # type: ignore[arg-type]


_TEXT = st.text(alphabet="ab.01", max_size=6)
_ATOMS = st.one_of(
    _TEXT.map(lambda t: f"{t!r} in n"),
    _TEXT.map(lambda t: f"{t!r} not in n"),
    _TEXT.map(lambda t: f"n.startswith({t!r})"),
    st.tuples(_TEXT, _TEXT).map(lambda t: f"n.endswith({t!r})"),
    _TEXT.map(lambda t: f"n == {t!r}"),
    _TEXT.map(lambda t: f"n.split('.')[0] != {t!r}"),
    _TEXT.map(lambda t: f"re.search({re.escape(t)!r}, n)"),
    st.lists(_TEXT, max_size=3).map(lambda ts: f"any(k in n for k in {ts!r})"),
)
_CONDITIONS = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"({t[0]}) and ({t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]}) or ({t[1]})"),
        inner.map(lambda t: f"not ({t})"),
    ),
    max_leaves=6,
)


@given(condition=_CONDITIONS, names=st.lists(_TEXT, min_size=1, max_size=8))
@settings(max_examples=300, deadline=None)
def test_compiled_filters_agree_with_python(condition: str, names: list[str]) -> None:
    compiled = compile_filter(expression(condition), "n", {})
    assert compiled is not None
    code = compile(condition, "<filter>", "eval")
    for name in names:
        assert compiled(name) == bool(eval(code, {"re": re, "n": name}))


@pytest.mark.parametrize(
    ("loop", "names", "frozen_elements"),
    [
        (
            "dp = nn.DataParallel(model)\nfor n, m in dp.named_modules():\n"
            "    m.requires_grad_(False)\n",
            ["", "module", "module.pool", "module.bn1", "module.fc1"],
            58,
        ),
        (
            "dp = nn.DataParallel(model)\nfor n, m in dp.named_children():\n"
            "    m.requires_grad_(False)\n",
            ["module"],
            58,
        ),
        (
            "cm = torch.compile(model)\nfor n, p in cm.named_parameters(prefix='x'):\n"
            "    p.requires_grad_(False)\n",
            [
                "x._orig_mod.bn1.weight",
                "x._orig_mod.bn1.bias",
                "x._orig_mod.fc1.weight",
                "x._orig_mod.fc1.bias",
            ],
            58,
        ),
        ("for n, m in model.bn1.named_modules():\n    m.requires_grad_(False)\n", [""], 6),
        (
            "for n, b in model.named_buffers(recurse=True):\n    b.requires_grad = False\n",
            ["bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"],
            0,
        ),
    ],
)
def test_names_as_the_loop_sees_them(loop: str, names: list[str], frozen_elements: int) -> None:
    source = "import torch\n" + ACCEPTANCE_HEAD + loop
    _, reports = load("acceptance_net")
    (found,) = build_source_map(ast.parse(source), source).loops
    assert [seen for seen, _ in loop_names(found, reports[0])] == names
    effect = freeze_effect(found, reports[0])
    assert effect is not None
    assert effect.frozen_elements == frozen_elements
