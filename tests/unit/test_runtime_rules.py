"""Runtime-aware rules on the reports the real worker produced for the fixture scripts."""

from __future__ import annotations

import ast
import textwrap
from typing import Any

import pytest
from report_fixtures import load

from paramlens.analysis.findings import Severity, apply_edits
from paramlens.analysis.rules.runtime import runtime_findings


def line_of(source: str, snippet: str, occurrence: int = 0) -> int:
    hits = [i for i, text in enumerate(source.splitlines()) if snippet in text]
    return hits[occurrence]


def findings_of(name: str) -> tuple[str, list[Any]]:
    source, reports = load(name)
    return source, runtime_findings(ast.parse(source), source, reports, f"{name}.py")


# (fixture, snippet on the flagged line, occurrence, code, severity, words in the message)
EXPECTED = [
    (
        "acceptance_net",
        '"fc2" in name',
        0,
        "FRZ12",
        Severity.WARNING,
        [
            "`'fc2' in name` matches no parameter of net (4 parameters: bn1.weight, bn1.bias, "
            "fc1.weight, fc1.bias); nothing is frozen"
        ],
    ),
    ("c12_name_filters", '"fc" in name', 0, "FRZ12", Severity.WARNING, ["of Classifier", "…"]),
    ("c12_name_filters", '"layer5"', 0, "FRZ12", Severity.WARNING, ["of ResNetLike (10"]),
    ("c12_name_filters", '["layer1", "layer2"]', 0, "FRZ12", Severity.WARNING, ["no parameter"]),
    ("c12_name_filters", 'name == "fc"', 0, "FRZ12", Severity.WARNING, ["no parameter"]),
    (
        "c12_name_filters",
        '"blocks.1" in name',
        0,
        "FRZ12",
        Severity.WARNING,
        ["'blocks.1' also matches blocks.10.weight", "use 'blocks.1.'"],
    ),
    (
        "c12_name_filters",
        'name == "layer1.0"',
        0,
        "FRZ12",
        Severity.WARNING,
        ["no child module of ResNetLike (5 child modules: layer1"],
    ),
    (
        "c12_name_filters",
        "for p in m.parameters(recurse=False)",
        0,
        "FRZ12",
        Severity.WARNING,
        ["yields nothing: all 10 parameters of ResNetLike sit in submodules"],
    ),
    (
        "c14_tied_parameters",
        'name.startswith("lm_head")',
        0,
        "FRZ14",
        Severity.WARNING,
        ["lm_head.weight is embed.weight", "nothing is frozen"],
    ),
    ("tied_and_parametrized", 'startswith("lm_head"):', 0, "FRZ14", Severity.WARNING, []),
    (
        "tied_and_parametrized",
        'startswith("lm_head") or',
        0,
        "FRZ14",
        Severity.WARNING,
        ["this part of the filter does nothing (2 of 3 parameters frozen by the rest)"],
    ),
    (
        "tied_and_parametrized",
        'name == "fc1.weight"',
        0,
        "FRZ19",
        Severity.WARNING,
        ["fc1.parametrizations.weight.original0, fc1.parametrizations.weight.original1"],
    ),
    (
        "tied_and_parametrized",
        "wn.named_modules()",
        0,
        "FRZ11",
        Severity.INFO,
        ["bn (BatchNorm1d)", "running_mean/running_var keep updating"],
    ),
    ("tied_and_parametrized", '"blocks.1" in name', 0, "FRZ12", Severity.WARNING, ["blocks.11"]),
    (
        "tied_and_parametrized",
        "name.startswith(FROZEN)",
        0,
        "FRZ15E",
        Severity.WARNING,
        ["DataParallel/DDP prefixes every name with 'module.'", "would match embed.weight"],
    ),
    (
        "tied_and_parametrized",
        'name in ("body.weight", "body.bias")',
        0,
        "FRZ15E",
        Severity.WARNING,
        ["torch.compile prefixes every name with '_orig_mod.'"],
    ),
]


EXPECTED += [
    (
        "training_script",
        "for name, p in self.named_parameters():",
        0,
        "FRZ11",
        Severity.INFO,
        ["backbone.stage1.1 (BatchNorm2d), backbone.stage2.1 (BatchNorm2d)"],
    ),
    (
        "training_script",
        "for name, p in self.model.backbone.named_parameters():",
        0,
        "FRZ11",
        Severity.INFO,
        ["backbone.stage1.1 (BatchNorm2d), but"],
    ),
    (
        "training_script",
        'name.startswith("classifier")',
        0,
        "FRZ12",
        Severity.WARNING,
        ["matches no parameter of build() → Classifier (12 parameters: backbone.stem.weight"],
    ),
    (
        "training_script",
        '("stem", "stage3")',
        0,
        "FRZ12",
        Severity.WARNING,
        [
            "`'stage3'` matches no child module of Classifier.backbone (3 child modules: stem, "
            "stage1, stage2); this element of the filter does nothing"
        ],
    ),
]


@pytest.mark.parametrize(
    ("name", "snippet", "occurrence", "code", "severity", "words"),
    EXPECTED,
    ids=[f"{e[0]}:{e[1]}" for e in EXPECTED],
)
def test_expected_findings(
    name: str, snippet: str, occurrence: int, code: str, severity: Severity, words: list[str]
) -> None:
    source, findings = findings_of(name)
    line = line_of(source, snippet, occurrence)
    here = [f for f in findings if f.span.start_line == line]
    assert [(f.code, f.severity) for f in here] == [(code, severity)], here
    for word in words:
        assert word in here[0].message


@pytest.mark.parametrize(
    "name",
    [
        "acceptance_net",
        "c12_name_filters",
        "c14_tied_parameters",
        "tied_and_parametrized",
        "training_script",
    ],
)
def test_no_other_findings(name: str) -> None:
    source, findings = findings_of(name)
    expected = {
        line_of(source, snippet, occurrence)
        for fixture, snippet, occurrence, *_ in EXPECTED
        if fixture == name
    }
    assert {f.span.start_line for f in findings} == expected


def test_the_over_match_fix_keeps_exactly_the_intended_block() -> None:
    source, findings = findings_of("c12_name_filters")
    line = line_of(source, '"blocks.1" in name')
    (finding,) = [f for f in findings if f.span.start_line == line]
    assert finding.fix is not None
    fixed = apply_edits(source, finding.fix.edits)
    assert fixed.splitlines()[line].strip().startswith("if 'blocks.1.' in name:")
    _, reports = load("c12_name_filters")
    refound = runtime_findings(ast.parse(fixed), fixed, reports, "c12_name_filters.py")
    assert line not in {f.span.start_line for f in refound}


NET = """
import torch.nn as nn

class net(nn.Module):
    pass

model = net()
"""


def freeze_loop(condition: str, receiver: str = "model") -> str:
    return (
        f"for n, p in {receiver}.named_parameters():\n"
        f"    if {condition}:\n"
        "        p.requires_grad = False\n"
    )


@pytest.mark.parametrize(
    "loop",
    [
        # plausible filters that match
        freeze_loop("'fc1' in n"),
        freeze_loop("'bias' in n"),
        # not statically evaluable: never flagged
        freeze_loop("n in load()"),
        # a filter on something else than the name
        freeze_loop("p.ndim > 1"),
        # an unknown receiver
        "def f(model):\n" + textwrap.indent(freeze_loop("'fc2' in n"), "    "),
        # a BatchNorm frozen and put in eval mode
        "for n, m in model.named_modules():\n    if n == 'bn1':\n"
        "        m.requires_grad_(False)\n        m.eval()\n",
        # the prefix-aware filter on a compiled model
        "cm = torch.compile(model)\n" + freeze_loop("n.startswith('_orig_mod.fc1')", "cm"),
    ],
)
def test_must_not_flag(loop: str) -> None:
    source = "import torch\n" + textwrap.dedent(NET) + loop
    _, reports = load("acceptance_net")
    assert runtime_findings(ast.parse(source), source, reports, "acceptance_net.py") == []


def test_models_that_were_not_built_are_never_judged() -> None:
    source = "import torch\n" + textwrap.dedent(NET) + freeze_loop("'fc2' in n")
    _, reports = load("acceptance_net")
    failed = [dict(reports[0], status="error", parameters=[], modules=[], totals=None)]
    assert runtime_findings(ast.parse(source), source, failed, "acceptance_net.py") == []
    assert runtime_findings(ast.parse(source), source, [], "acceptance_net.py") == []


@pytest.mark.parametrize(
    ("loop", "codes"),
    [
        (
            "for m in model.modules():\n    if isinstance(m, nn.BatchNorm1d):\n"
            "        m.requires_grad_(False)\n",
            ["FRZ11"],
        ),
        ("for p in model.bn1.parameters():\n    p.requires_grad = False\n", ["FRZ11"]),
        ("for p in model.parameters():\n    p.requires_grad = False\nmodel.eval()\n", []),
        (
            "for m in model.modules():\n    if isinstance(m, nn.BatchNorm1d):\n"
            "        m.eval()\n        m.requires_grad_(False)\n",
            [],
        ),
        ("for p in model.fc1.parameters():\n    p.requires_grad = False\n", []),
        ("for p in model.pool.parameters():\n    p.requires_grad = False\n", ["FRZ12"]),
        ("model.requires_grad_(False)\n", ["FRZ11"]),
        ("model.bn1.requires_grad_(False)\n", ["FRZ11"]),
        ("model.bn1.requires_grad_(False)\nmodel.bn1.eval()\n", []),
        ("model.fc1.requires_grad_(False)\n", []),
        ("model.requires_grad_(True)\n", []),
        ("def f():\n    model.requires_grad_(False)\n    model.eval()\n", []),
    ],
)
def test_batchnorm_and_empty_collections(loop: str, codes: list[str]) -> None:
    source = "import torch\n" + textwrap.dedent(NET) + loop
    _, reports = load("acceptance_net")
    found = runtime_findings(ast.parse(source), source, reports, "acceptance_net.py")
    assert [f.code for f in found] == codes
    if codes == ["FRZ12"]:
        assert "`model.pool.parameters()` yields nothing: AvgPool1d has no parameters" in (
            found[0].message
        )


@pytest.mark.parametrize(
    ("loop", "message"),
    [
        (
            "for n, p in model.named_parameters():\n    if 'fc2' in n:\n        continue\n"
            "    p.requires_grad = False\n",
            "`'fc2' in n` matches no parameter of net (4 parameters: bn1.weight, bn1.bias, "
            "fc1.weight, fc1.bias); it excludes nothing, so 4 of 4 parameters are frozen",
        ),
        (
            freeze_loop("not n.startswith('head')"),
            "it excludes nothing, so 4 of 4 parameters are frozen",
        ),
        (
            freeze_loop("n.startswith('fc1') or n.startswith('fc2')"),
            "`n.startswith('fc2')` matches no parameter of net",
        ),
        (
            "for n, p in model.named_parameters():\n    p.requires_grad = 'fc2' in n\n",
            "the value is False for every name: all 4 parameters are frozen",
        ),
        (
            "for n, p in model.named_parameters():\n"
            "    p.requires_grad = n.startswith('fc1') or 'head' in n\n",
            "this part of the expression does nothing (2 parameters frozen)",
        ),
        (
            freeze_loop("n not in ['fc.weight', 'fc.bias']"),
            "`n in ['fc.weight', 'fc.bias']` matches no parameter of net (4 parameters: "
            "bn1.weight, bn1.bias, fc1.weight, fc1.bias); it excludes nothing, so 4 of 4 "
            "parameters are frozen",
        ),
        (
            freeze_loop("n != 'head.weight'"),
            "it excludes nothing, so 4 of 4 parameters are frozen",
        ),
        (
            freeze_loop("n not in ('fc1.weight', 'fc1.bias', 'head.bias')"),
            "`'head.bias'` matches no parameter of net",
        ),
        (
            freeze_loop("n.startswith(('fc1', 'fc2'))"),
            "`'fc2'` matches no parameter of net (4 parameters: bn1.weight, bn1.bias, fc1.weight,"
            " fc1.bias); this element of the filter does nothing",
        ),
        (
            freeze_loop("any(k in n for k in ['bn1', 'bn2'])"),
            "`'bn2'` matches no parameter of net",
        ),
        (
            "KEYS = ('fc1.', 'head.')\n" + freeze_loop("n.startswith(KEYS)"),
            "`'head.' (in KEYS)` matches no parameter of net",
        ),
    ],
)
def test_parts_of_filters_that_match_nothing(loop: str, message: str) -> None:
    source = "import torch\n" + textwrap.dedent(NET) + loop
    _, reports = load("acceptance_net")
    found = runtime_findings(ast.parse(source), source, reports, "acceptance_net.py")
    (finding,) = [f for f in found if f.code == "FRZ12"]
    assert message in finding.message


@pytest.mark.parametrize(
    ("train_override", "codes"),
    [
        ("        for m in self.modules():\n            m.eval()\n", []),
        ("        pass\n", ["FRZ11"]),
    ],
)
def test_a_train_override_that_keeps_batchnorm_in_eval_is_the_fix(
    train_override: str, codes: list[str]
) -> None:
    source = (
        "import torch\n" + textwrap.dedent(NET) + "class Keep(net):\n"
        "    def train(self, mode=True):\n        super().train(mode)\n"
        + train_override
        + "class Sub(Keep):\n    pass\nsub = Sub()\nsub.bn1.requires_grad_(False)\n"
    )
    _, reports = load("acceptance_net")
    sub = dict(reports[0], object="Sub")
    found = runtime_findings(ast.parse(source), source, [sub], "acceptance_net.py")
    assert [f.code for f in found] == codes


@pytest.mark.parametrize(
    ("loop", "message"),
    [
        (
            "for n, p in model.bn1.named_parameters():\n    if n == 'bn1.weight':\n"
            "        p.requires_grad = False\n",
            "`n == 'bn1.weight'` matches no parameter of net.bn1 (2 parameters: weight, bias)",
        ),
        (
            "for n, m in model.named_modules():\n    if n == 'fc2':\n"
            "        m.requires_grad_(False)\n",
            "matches no module of net (4 modules: '', pool, bn1, fc1)",
        ),
    ],
)
def test_messages_name_what_the_loop_iterates(loop: str, message: str) -> None:
    source = "import torch\n" + textwrap.dedent(NET) + loop
    _, reports = load("acceptance_net")
    (finding,) = runtime_findings(ast.parse(source), source, reports, "acceptance_net.py")
    assert message in finding.message


def test_an_if_else_over_one_dead_test_is_reported_once() -> None:
    loop = (
        "for n, p in model.named_parameters():\n    if 'fc2' in n:\n"
        "        p.requires_grad = True\n    else:\n        p.requires_grad = False\n"
    )
    source = "import torch\n" + textwrap.dedent(NET) + loop
    _, reports = load("acceptance_net")
    found = runtime_findings(ast.parse(source), source, reports, "acceptance_net.py")
    assert [f.code for f in found if f.code == "FRZ12"] == ["FRZ12"]


def test_check_source_keeps_the_runtime_finding_where_a_static_one_says_the_same() -> None:
    from paramlens.analysis.rules import check_source

    source, reports = load("c12_name_filters")
    line = line_of(source, 'if "blocks.1" in name:')
    static = [f for f in check_source(source).findings if f.span.start_line == line]
    runtime = [f for f in findings_of("c12_name_filters")[1] if f.span.start_line == line]
    assert [f.code for f in static] == [f.code for f in runtime] == ["FRZ12"]
    assert static[0].fix is None and runtime[0].fix is not None

    both = check_source(source, reports=reports, path="c12_name_filters.py").findings
    kept = [f for f in both if (f.code, f.span.start_line) == ("FRZ12", line)]
    assert kept == runtime  # the real names' message and its checked fix, not the static guess
    # Static findings that no runtime rule repeats are all still there.
    repeated = {(f.code, f.span.start_line) for f in findings_of("c12_name_filters")[1]}
    for finding in check_source(source).findings:
        assert (finding in both) is ((finding.code, finding.span.start_line) not in repeated)
