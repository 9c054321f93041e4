"""Rendering reports: lens titles, hovers for every target kind, and the full summary."""

from __future__ import annotations

import ast
from typing import Any, Optional

import pytest
from report_fixtures import load

from paramlens.analysis.filters import freeze_effect
from paramlens.analysis.findings import Span
from paramlens.analysis.render import (
    class_lens_title,
    count,
    freeze_loop_lens_title,
    hover_markdown,
    hover_plaintext,
    size_text,
    submodule_lens_title,
    summary_markdown,
    summary_plaintext,
)
from paramlens.analysis.source_map import HoverTarget, build_source_map, report_for, target_at


def report(name: str, obj: str) -> Any:
    _, reports = load(name)
    found = report_for(reports, obj, None)
    assert found is not None
    return found


def hover(name: str, needle: str, occurrence: int = 0, plain: bool = False) -> Optional[str]:
    source, reports = load(name)
    sm = build_source_map(ast.parse(source), source, {r["object"] for r in reports})
    index = -1
    for _ in range(occurrence + 1):
        index = source.index(needle, index + 1)
    line = source.count("\n", 0, index)
    col = index - (source.rfind("\n", 0, index) + 1)
    target = target_at(sm, line, col)
    assert target is not None, needle
    found = report_for(reports, target.object, f"{name}.py")
    assert found is not None
    return (hover_plaintext if plain else hover_markdown)(target, found)


def test_the_acceptance_class_lens() -> None:
    assert class_lens_title(report("acceptance_net", "net")) == (
        "58 params · 58 trainable · 7 buffer values"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {
                "status": "needs_arguments",
                "error": {
                    "type": "NeedsArguments",
                    "message": "Deep needs constructor arguments (depth, width). Call it in this"
                    " file with literal arguments (model = Deep(...)), or set ...",
                    "file": None,
                    "line": None,
                },
            },
            "needs constructor arguments (depth, width) — set them in [tool.paramlens.models]"
            " or call it in this file",
        ),
        (
            {"status": "needs_arguments", "error": None},
            "needs constructor arguments — set them in [tool.paramlens.models] or call it in"
            " this file",
        ),
        (
            {
                "status": "error",
                "error": {"type": "ValueError", "message": "x" * 300, "file": None, "line": 3},
            },
            "failed: ValueError: " + "x" * 79 + "…",
        ),
        (
            {
                "status": "error",
                "error": {
                    "type": "RuntimeError",
                    "message": "boom\nmore",
                    "file": "x.py",
                    "line": 12,
                },
            },
            "failed: RuntimeError: boom (line 12)",
        ),
        (
            {
                "totals": {
                    "parameters": 40_584_928,
                    "trainable": 40_000_000,
                    "buffers": 0,
                    "lazy_parameters": 0,
                }
            },
            "40,584,928 params · 40,000,000 trainable",
        ),
        (
            {"totals": {"parameters": 1, "trainable": 0, "buffers": 1, "lazy_parameters": 2}},
            "1 param · 0 trainable · 2 lazy (size unknown) · 1 buffer value",
        ),
    ],
)
def test_class_lens_variants(change: dict[str, Any], expected: str) -> None:
    assert class_lens_title({**report("acceptance_net", "net"), **change}) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("fc1", "Linear · 52 params · 52 trainable"),
        ("pool", "AvgPool1d · no parameters"),
        ("bn1", "BatchNorm1d · 6 params · 6 trainable · 7 buffer values"),
    ],
)
def test_submodule_lenses(path: str, expected: str) -> None:
    entry = next(m for m in report("acceptance_net", "net")["modules"] if m["name"] == path)
    assert submodule_lens_title(entry) == expected


def test_submodule_lens_of_a_partly_frozen_module() -> None:
    entry = {"name": "x", "class": "Linear", "parameters": 52, "trainable": 4, "buffers": 0}
    assert submodule_lens_title(entry) == "Linear · 52 params · 4 trainable · 48 frozen"


@pytest.mark.parametrize(
    ("name", "snippet", "expected"),
    [
        (
            "acceptance_net",
            'name.startswith("fc1")',
            "freezes 2 of 4 parameter tensors · 52 of 58 parameters",
        ),
        ("acceptance_net", '"fc2" in name', "changes nothing: matches 0 of 4 parameters"),
        (
            "c12_name_filters",
            '"blocks.1" in name',
            "freezes 6 of 24 parameter tensors · 60 of 240 parameters",
        ),
        (
            "tied_and_parametrized",
            'name == "bn"',
            "freezes 2 of 7 parameter tensors · 16 of 82 parameters",
        ),
    ],
)
def test_freeze_loop_lenses(name: str, snippet: str, expected: str) -> None:
    source, reports = load(name)
    sm = build_source_map(ast.parse(source), source, {r["object"] for r in reports})
    line = next(i for i, t in enumerate(source.splitlines()) if snippet in t)
    loop = next(loop for loop in sm.loops if loop.line <= line <= loop.line + 2)
    found = report_for(reports, loop.object, f"{name}.py")
    assert found is not None
    effect = freeze_effect(loop, found)
    assert effect is not None
    assert freeze_loop_lens_title(effect) == expected


@pytest.mark.parametrize(
    ("needle", "occurrence", "present", "absent"),
    [
        # class name: totals and the direct children
        (
            "net(nn",
            0,
            [
                "**net** — built as `net()` on meta",
                "58 parameters · 58 trainable",
                "| `fc1` | Linear | 52 | 52 |",
                "| `pool` | AvgPool1d | 0 | 0 |",
            ],
            ["frozen"],
        ),
        # self.fc1 in __init__: its parameters with shapes
        (
            "fc1 = nn",
            0,
            [
                "**self.fc1** — Linear",
                "52 parameters",
                "| `weight` | [4, 12] | float32 | True | parameter |",
                "| `bias` | [4] | float32 | True | parameter |",
            ],
            ["running"],
        ),
        # self.bn1 in forward: parameters and buffers
        (
            "bn1(self",
            0,
            [
                "**self.bn1** — BatchNorm1d",
                "| `running_mean` | [3] | float32 | — | buffer |",
                "| `num_batches_tracked` | [] | int64 | — | buffer |",
            ],
            [],
        ),
        # attribute chains on the model variable
        (
            "weight.shape",
            0,
            [
                "**model.fc1.weight** — parameter",
                "[4, 12] · float32 · requires_grad=True · 48 elements",
            ],
            [],
        ),
        (
            "running_mean, model",
            0,
            ["**model.bn1.running_mean** — buffer", "Saved in state_dict"],
            [],
        ),
        # collection calls
        (
            "named_parameters",
            0,
            ["yields 4 parameters (58 elements)", "`fc1.weight`"],
            ["running_mean"],
        ),
        (
            "state_dict",
            0,
            ["holds 7 entries", "detached", "False (detached)", "`bn1.num_batches_tracked`"],
            [],
        ),
        # name filters: which names they match
        ('"fc2"', 0, ["**'fc2'**", "matches 0 of the 4 names", "`fc1.bias`"], []),
        (
            '"fc1"',
            0,
            ["matches 2 of the 4 names", "freezes 2 of 4 parameter tensors", "| `fc1.weight` |"],
            [],
        ),
    ],
)
def test_hovers_on_the_acceptance_script(
    needle: str, occurrence: int, present: list[str], absent: list[str]
) -> None:
    text = hover("acceptance_net", needle, occurrence)
    assert text is not None
    for fragment in present:
        assert fragment in text, (fragment, text)
    for fragment in absent:
        assert fragment not in text


def test_plaintext_hover_has_no_markdown() -> None:
    text = hover("acceptance_net", "fc1 = nn", plain=True)
    assert text is not None
    assert "|" not in text and "`" not in text and "**" not in text
    assert "weight  [4, 12]  float32  True" in text


def test_state_dict_keep_vars_and_tied_names() -> None:
    tied = report("tied_and_parametrized", "TiedLM")
    base = HoverTarget("collection_call", Span(0, 0, 0, 1), "TiedLM", variable="lm")
    kept = hover_markdown(
        HoverTarget(**{**base.__dict__, "method": "state_dict", "keep_vars": True}), tied
    )
    assert kept is not None
    assert "keep_vars=True: the values are the parameters themselves" in kept
    assert (
        "| `lm_head.weight` | [10, 4] | float32 | True | parameter · tied to embed.weight |" in kept
    )
    named = hover_markdown(HoverTarget(**{**base.__dict__, "method": "named_parameters"}), tied)
    assert named is not None
    assert "yields 3 parameters (60 elements)" in named
    assert "`lm_head.weight` (= `embed.weight`)" in named


def test_wrapped_model_hover_shows_the_prefixed_names() -> None:
    text = hover("tied_and_parametrized", "named_parameters", 4)  # dp.named_parameters()
    assert text is not None
    assert "`module.body.weight`" in text


def test_non_persistent_buffers_are_marked() -> None:
    wn = report("tied_and_parametrized", "WeightNormed")
    target = HoverTarget(
        "submodule", Span(0, 0, 0, 1), "WeightNormed", path="scale", variable="self"
    )
    text = hover_markdown(target, wn)
    assert text is not None
    assert "buffer · non-persistent" in text and "not in state_dict()" in text


def test_large_tables_are_capped() -> None:
    blocks = report("c12_name_filters", "Blocks")
    target = HoverTarget(
        "collection_call", Span(0, 0, 0, 1), "Blocks", method="parameters", variable="m"
    )
    text = hover_markdown(target, blocks, max_rows=5)
    assert text is not None
    assert text.count("| `blocks.") == 5
    assert "*… 19 more*" in text


def test_a_path_that_is_not_in_the_model_has_no_hover() -> None:
    target = HoverTarget("attribute_chain", Span(0, 0, 0, 1), "net", path="fc1.weight.shape")
    assert hover_markdown(target, report("acceptance_net", "net")) is None


def test_summary_markdown_is_the_full_table() -> None:
    text = summary_markdown(report("tied_and_parametrized", "WeightNormed"))
    assert text.startswith("### WeightNormed — built as `WeightNormed()` on meta")
    assert "| └─ fc1 | ParametrizedLinear | 48 | True |" in text
    assert "| │ │ │ └─ 0 | _WeightNorm | 0 | — |" in text
    assert "`fc1.parametrizations.weight.original0`" in text
    assert "Total params: 82" in text and "Buffer values: 25 in 4 tensors" in text
    plain = summary_plaintext(report("tied_and_parametrized", "WeightNormed"))
    assert "|" not in plain and "Total params: 82\n" in plain


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0, "param"), "0 params"),
        ((1, "param"), "1 param"),
        ((1234567, "param"), "1,234,567 params"),
        ((None, "param"), "? params"),
        ((2, "entry", "entries"), "2 entries"),
    ],
)
def test_count(args: tuple[Any, ...], expected: str) -> None:
    assert count(*args) == expected


@pytest.mark.parametrize(
    ("n", "expected"), [(264, "264 B"), (2048, "2.00 KB"), (3 * 1024**3, "3.00 GB")]
)
def test_size_text(n: int, expected: str) -> None:
    assert size_text(n) == expected


def test_the_module_repr_is_shown_when_the_report_has_it() -> None:
    net = report("acceptance_net", "net")
    modules = [
        dict(m, extra_repr="in_features=12, out_features=4, bias=True") if m["name"] == "fc1" else m
        for m in net["modules"]
    ]
    target = HoverTarget("submodule", Span(0, 0, 0, 1), "net", path="fc1", variable="self")
    text = hover_markdown(target, {**net, "modules": modules})
    assert text is not None
    assert "`Linear(in_features=12, out_features=4, bias=True)`" in text


def test_hovers_on_a_model_that_was_not_built_say_why() -> None:
    net = report("acceptance_net", "net")
    failed = {
        **net,
        "status": "needs_arguments",
        "error": {"type": "TypeError", "message": "missing 'depth'", "file": None, "line": None},
    }
    target = HoverTarget("submodule", Span(0, 0, 0, 1), "net", path="fc1", variable="self")
    text = hover_markdown(target, failed)
    assert text is not None
    assert "**net** — needs constructor arguments — missing 'depth'" in text
    full = {
        **failed,
        "error": {**failed["error"], "message": "net needs constructor arguments (d)"},
    }
    text = hover_markdown(target, full)
    assert text is not None and "**net** — net needs constructor arguments (d)" in text
    assert "`fc1` is unknown until the model can be built." in text


def test_strings_of_a_constant_used_by_a_filter_are_hover_targets() -> None:
    text = hover("tied_and_parametrized", '"embed"')
    assert text is not None
    assert "**'embed'**" in text and "matches 0 of the 3 names" in text
    assert "every name the loop sees starts with `module.`" in text


def test_filter_hover_explains_tied_names() -> None:
    text = hover("tied_and_parametrized", '"lm_head"')
    assert text is not None
    assert "Tied names the loop never sees" in text and "`lm_head.weight` is `embed.weight`" in text


def test_lazy_parameters_are_unknown_not_zero() -> None:
    net = report("acceptance_net", "net")
    params = [
        dict(p, shape=None, numel=None) if p["name"] == "fc1.weight" else p
        for p in net["parameters"]
    ]
    lazy = {**net, "parameters": params}
    target = HoverTarget("attribute_chain", Span(0, 0, 0, 1), "net", path="fc1.weight")
    text = hover_markdown(target, lazy)
    assert text is not None
    assert "uninitialized · float32 · requires_grad=True · ? elements" in text
