"""The static freeze rules on small snippets: what each flags, what it must not, fixes,
suppression, selection and robustness on any input."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paramlens.analysis.findings import Severity
from paramlens.analysis.rules import RULES, check_source, fix_all
from paramlens.analysis.rules.facts import collect_facts, import_bindings
from paramlens.analysis.rules.registry import is_enabled
from paramlens.analysis.rules.suppression import noqa_codes

HEADER = (
    "import torch\nimport torch.nn as nn\nmodel = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))\n"
)
MUST_NOT_FLAG = Path(__file__).parent.parent / "fixtures" / "must_not_flag"


def codes(snippet: str) -> list[tuple[str, int]]:
    """(code, 1-based line within the snippet) of every finding."""
    source = HEADER + textwrap.dedent(snippet)
    result = check_source(source)
    assert result.syntax_error is None
    offset = HEADER.count("\n")
    return [(f.code, f.span.start_line + 1 - offset) for f in result.findings]


FLAGGED = [
    # FRZ01 through a variable, .items(), .values(), indexing, comprehensions and reads
    ("sd = model.state_dict()\nfor k in sd:\n    sd[k].requires_grad = False\n", ("FRZ01", 3)),
    ("v = model.state_dict()['0.weight']\nv.requires_grad_(False)\n", ("FRZ01", 2)),
    ("n = [k for k, v in model.state_dict().items() if v.requires_grad]\n", ("FRZ01", 1)),
    ("for v in model.state_dict(keep_vars=False).values():\n    v.requires_grad = False\n",
     ("FRZ01", 2)),
    ("sd = model.state_dict()\nsd['0.weight'] = torch.zeros(8, 4)\n", ("FRZ01", 2)),
    ("sd = model.state_dict()\nsd['0.weight'] = torch.zeros(8, 4)  # yield sd\n", ("FRZ01", 2)),
    ("for k, v in model.state_dict(keep_vars=True).items():\n    v.requires_grad_()\n",
     ("FRZ02", 2)),
    # FRZ03: modules() loop variables, nn.* instances, self.<sub> of a workspace class
    ("for _, m in model.named_modules():\n    m.requires_grad = False\n", ("FRZ03", 2)),
    ("lin = nn.Linear(2, 2)\nlin.requires_grad = False\n", ("FRZ03", 2)),
    ("class B(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.fc = nn.Linear(2, 2)\n    def freeze(self):\n"
     "        self.fc.requires_grad = False\n", ("FRZ03", 6)),
    ("class A(nn.Module):\n    pass\nclass B(A):\n    pass\nb = B()\nb.requires_grad = False\n",
     ("FRZ03", 6)),
    ("from transformers import AutoModelForSequenceClassification as M\n"
     "model = M.from_pretrained('bert-base-uncased')\nmodel.bert.encoder.requires_grad = False\n",
     ("FRZ03", 3)),
    ("import torchvision\nnet = torchvision.models.resnet18()\nnet.layer1.requires_grad = False\n",
     ("FRZ03", 3)),
    # model factories, whatever the order of their definitions, and in a class's __init__
    ("def a():\n    return b()\ndef b():\n    return nn.Linear(1, 1)\nm = a()\n"
     "m.requires_grad = False\n", ("FRZ03", 6)),
    ("def block():\n    return nn.Linear(1, 1)\nclass B(nn.Module):\n    def __init__(self):\n"
     "        super().__init__()\n        self.fc = block()\n    def freeze(self):\n"
     "        self.fc.requires_grad = False\n", ("FRZ03", 8)),
    # flow into a helper of the same file that receives the model
    ("def freeze(m):\n    m.requires_grad = False\nfreeze(nn.Linear(2, 2))\n", ("FRZ03", 2)),
    ("def freeze(m):\n    for p in m.parameters():\n        p.data.requires_grad = False\n"
     "freeze(model)\nfreeze(nn.Linear(2, 2))\n", ("FRZ05", 3)),
    ("def freeze(m):\n    m.requires_grad = False\nfreeze(model)\nfreeze(nn.Conv2d(1, 1, 1))\n",
     ("FRZ03", 2)),
    ("for p in model.parameters():\n    p.requires_gard = False\n", ("FRZ04", 2)),
    ("model[0].weight.requires_grad(False)\n", ("FRZ04", 1)),
    ("for p in model.parameters():\n    p.requires_grad = 'False'\n", ("FRZ04", 2)),
    ("for p in model.parameters():\n    p.data.requires_grad = False\n", ("FRZ05", 2)),
    ("for p in model.parameters():\n    p = p.detach()\n    p.requires_grad_(False)\n",
     ("FRZ05", 3)),
    ("for p in model.parameters():\n    p.requires_grad != False\n", ("FRZ06", 2)),
    ("for b in model.buffers():\n    b.requires_grad = True\n", ("FRZ07", 2)),
    ("w = model[0].weight\nw[0].requires_grad_(False)\n", ("FRZ08", 2)),
    ("opt = torch.optim.Adam(model.parameters())\nmodel[0].requires_grad_(False)\n",
     ("FRZ09", 2)),
    ("def f(m):\n    for p in m.parameters():\n        p.requires_grad = False\n"
     "opt = torch.optim.SGD(model.parameters(), lr=1)\nf(model)\n", ("FRZ09", 5)),
    # the parameters of each module of the model are the model's
    ("opt = torch.optim.Adam(model.parameters())\nfor m in model.modules():\n"
     "    for p in m.parameters():\n        p.requires_grad = False\n", ("FRZ09", 4)),
    ("model.training = False\n", ("FRZ10", 1)),
    ("with torch.no_grad():\n    out = model(torch.ones(4))\nout.backward()\n", ("FRZ10", 3)),
    ("for m in model.modules():\n    if isinstance(m, nn.BatchNorm2d):\n        m.eval()\n",
     ("FRZ11", 2)),
    # FRZ11 (warning): model.train() after submodules were put in eval mode undoes it
    ("for m in model.modules():\n    if isinstance(m, nn.modules.batchnorm._BatchNorm):\n"
     "        m.eval()\nmodel.train()\n", ("FRZ11", 4)),
    ("def bn_eval(net):\n    for m in net.modules():\n        m.eval()\nbn_eval(model)\n"
     "for epoch in range(2):\n    model.train()\n", ("FRZ11", 6)),
    ("def fit(net):\n    net.train()\nmodel[0].eval()\nfit(model)\n", ("FRZ11", 4)),
    ("model[0].eval()\nmodel = model.to('cpu')\nmodel.train()\n", ("FRZ11", 3)),
    ("model[0].eval()\nmodel.train()\nmodel = nn.Sequential(nn.BatchNorm1d(2))\n"
     "for m in model.modules():\n    m.eval()\n", ("FRZ11", 2)),
    ("def main():\n    net = nn.Sequential(nn.BatchNorm1d(2))\n    net[0].eval()\n"
     "    net.train(True)\n", ("FRZ11", 4)),
    ("for n, p in model.named_parameters():\n    if n == 'encoder':\n"
     "        p.requires_grad = False\n",
     ("FRZ12", 2)),
    ("ps = list(model.named_parameters(remove_duplicate=False))\n", ("FRZ14", 1)),
    ("class LM(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.embed = nn.Embedding(9, 4)\n        self.head = nn.Linear(4, 9, bias=False)\n"
     "        self.head.weight = self.embed.weight\n"
     "lm = LM()\nlm.head.weight.requires_grad = False\n", ("FRZ14", 8)),
    ("def freeze_backbone(m):\n    m.eval()\n", ("FRZ10", 1)),
    ("opt = torch.optim.SGD(model.parameters(), lr=1)\nmodel.load_state_dict({}, assign=True)\n",
     ("FRZ15A", 2)),
    ("model.load_state_dict({}, strict=False)\n", ("FRZ15A", 1)),
    ("opt = torch.optim.SGD(model.parameters(), lr=1)\nmodel = nn.Linear(2, 2)\nopt.step()\n",
     ("FRZ15B", 2)),
    ("def train(m, o):\n    o.step()\nopt = torch.optim.SGD(model.parameters(), lr=1)\n"
     "model = nn.Linear(2, 2)\ntrain(model, opt)\n", ("FRZ15B", 4)),
    ("class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.w = torch.zeros(3, requires_grad=True)\n", ("FRZ15C", 4)),
    ("class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.register_buffer('b', torch.ones(2, requires_grad=True))\n", ("FRZ15D", 4)),
    ("dp = nn.DataParallel(model)\nfor n, p in dp.named_parameters():\n"
     "    if n.startswith('0.'):\n        p.requires_grad = False\n", ("FRZ15E", 3)),
    ("from torch.nn.parallel import DistributedDataParallel as DDP\nddp = DDP(model)\n"
     "for _, m in model.named_children():\n    for p in m.parameters():\n"
     "        p.requires_grad = False\n", ("FRZ15E", 5)),
    ("model.parameters().requires_grad = False\n", ("FRZ16", 1)),
    ("for name, p in model.parameters():\n    p.requires_grad = False\n", ("FRZ16", 1)),
    ("ps = model.parameters()\nn = sum(p.numel() for p in ps)\nopt = torch.optim.SGD(ps, lr=1)\n",
     ("FRZ17", 3)),
    ("ps = model.parameters()\nfor epoch in range(3):\n    for p in ps:\n        pass\n",
     ("FRZ17", 3)),
    ("model.requires_grad_(False)\nopt = torch.optim.SGD([p for p in model.parameters() "
     "if p.requires_grad], lr=1)\nmodel[1].requires_grad_(True)\n", ("FRZ17", 3)),
    ("def thaw(m):\n    m.requires_grad_(True)\nmodel.requires_grad_(False)\n"
     "opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1)\n"
     "thaw(model)\n", ("FRZ17", 5)),
    ("from torch.utils.checkpoint import checkpoint\ny = checkpoint(model, torch.ones(4))\n",
     ("FRZ18", 2)),
    ("from torch.nn.utils.parametrizations import weight_norm\nweight_norm(model[0])\n"
     "model[0].weight.requires_grad_(False)\n", ("FRZ19", 3)),
    ("e = nn.Embedding.from_pretrained(torch.ones(3, 3))\n", ("FRZ20", 1)),
    ("model[0].weight.requires_grad = False\n", ("FRZ21", 1)),
    ("model[1] = nn.Linear(8, 3)\nmodel.requires_grad_(False)\n", ("FRZ23", 2)),
]  # fmt: skip


@pytest.mark.parametrize(("snippet", "expected"), FLAGGED, ids=[e[1][0] for e in FLAGGED])
def test_flags(snippet: str, expected: tuple[str, int]) -> None:
    assert expected in codes(snippet)


NOT_FLAGGED = [
    # train() and eval() of the whole model (validation), or eval of the layers after train()
    "model.eval()\nmodel.train()\n",
    "for epoch in range(2):\n    model.train()\n    model[0].eval()\n",
    "def bn_eval(net):\n    for m in net.modules():\n        m.eval()\nbn_eval(model)\n"
    "for epoch in range(2):\n    model.train()\n    bn_eval(model)\n",
    "def fit(net):\n    net.train()\n    net[0].eval()\nmodel[0].eval()\nfit(model)\n",
    "teacher = nn.Linear(2, 2)\nteacher.eval()\nmodel.train()\n",
    "other = nn.Sequential(nn.BatchNorm1d(2))\nother[0].eval()\nmodel.train()\n",
    "model[0].eval()\nmodel.train(False)\n",
    # apply(fn) and helpers that pass the model on may put the layers in eval mode again
    "def set_bn_eval(m):\n    if isinstance(m, nn.BatchNorm1d):\n        m.eval()\n"
    "model[0].eval()\nmodel.train()\nmodel.apply(set_bn_eval)\n",
    "def bn_eval(net):\n    for m in net.modules():\n        m.eval()\ndef fit(net):\n"
    "    net.train()\n    bn_eval(net)\nbn_eval(model)\nfit(model)\n",
    # a dict a function returns, from any block of a try
    "sd = model.state_dict()\nsd['0.weight'] = torch.zeros(8, 4)\ndef get():\n    try:\n"
    "        pass\n    except Exception:\n        return sd\n    finally:\n        pass\n",
    "model[0].eval()\nmodel = nn.Sequential(nn.BatchNorm1d(2))\nmodel.train()\n",
    "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.bn = nn.BatchNorm1d(2)\n    def train(self, mode=True):\n"
    "        super().train(mode)\n        self.bn.eval()\n        return self\n"
    "net = Net()\nnet.bn.eval()\nnet.train()\n",
    "for k, v in model.state_dict(keep_vars=True).items():\n    v.requires_grad = False\n",
    "flag = True\nfor v in model.state_dict(keep_vars=flag).values():\n"
    "    v.requires_grad_(True)\n",
    "t = torch.zeros(3)\nt.requires_grad = True\n",
    "sd = model.state_dict()\nsd['0.weight'] = torch.zeros(8, 4)\nmodel.load_state_dict(sd)\n",
    "sd = model.state_dict()\nsd['0.weight'] = torch.zeros(8, 4)\ntorch.save(sd, 'x.pt')\n",
    "def f():\n    sd = model.state_dict()\n    sd['0.weight'] = torch.zeros(8, 4)\n"
    "    return sd\n",
    # a yield deep in an expression, over two lines, or of a nested function, uses it too
    "def f():\n    sd = model.state_dict()\n    sd['0.weight'] = torch.zeros(8, 4)\n"
    "    log.append((\n        yield sd))\n",
    "sd = model.state_dict()\nsd['0.weight'] = torch.zeros(8, 4)\ndef g():\n"
    "    if True:\n        yield from sd\n",
    "def f(x):\n    x.requires_grad = False\n",
    "with torch.no_grad():\n    w = model[0].weight * 2\nw.requires_grad = False\n",
    "model.requires_grad_(False)\nopt = torch.optim.SGD(model.parameters(), lr=1)\n",
    "opt = torch.optim.SGD(model.parameters(), lr=1)\nmodel[0].requires_grad_(False)\n"
    "opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1)\n",
    "opt = torch.optim.SGD(model.parameters(), lr=1)\nmodel = torch.compile(model)\nopt.step()\n",
    "for n, p in model.named_parameters():\n    if 'bias' in n:\n        p.requires_grad = False\n",
    "model.requires_grad_(False)\nmodel[1] = nn.Linear(8, 3)\n",
    "model[1] = nn.Linear(8, 3)\nmodel.requires_grad_(False)\nmodel[1].requires_grad_(True)\n",
    "def thaw(m):\n    for p in m.parameters():\n        p.requires_grad = True\n"
    "model.head = nn.Linear(8, 3)\nmodel.requires_grad_(False)\nthaw(model.head)\n",
    "class Trainer:\n    def __init__(self):\n        self.training = False\n",
    "model[0].weight.requires_grad = False\nmodel[0].bias.requires_grad = False\n",
    "x = model.parameters()\nopt = torch.optim.SGD(x, lr=1)\n",
    "opt = torch.optim.Adam(model.parameters())\nfor step in range(9):\n"
    "    for p in model.parameters():\n        p.requires_grad = True\n    opt.zero_grad()\n"
    "    for p in model.parameters():\n        p.requires_grad = False\n",
    "p = next(model.parameters())\np.requires_grad = False\n",
    "def freeze_backbone(m):\n    m.eval()\n    m.requires_grad_(False)\n",
    "emb = nn.Embedding.from_pretrained(torch.ones(3, 3), freeze=False)\n"
    "emb.weight.requires_grad = False\n",
    "head = nn.Linear(3, 3, bias=False)\nhead.weight.requires_grad = False\n",
    "import timm\nvit = timm.create_model('vit_base_patch16_224')\n"
    "vit.pos_embed.requires_grad = False\nvit.cls_token.requires_grad = False\n",
    "from transformers import CLIPModel\nclip = CLIPModel.from_pretrained('x')\n"
    "for n, p in clip.named_parameters():\n    if n == 'logit_scale':\n"
    "        p.requires_grad = False\n",
]


@pytest.mark.parametrize("snippet", NOT_FLAGGED)
def test_does_not_flag(snippet: str) -> None:
    assert codes(snippet) == []


@pytest.mark.parametrize("path", sorted(MUST_NOT_FLAG.glob("*.py")), ids=lambda p: p.name)
def test_must_not_flag_corpus_has_no_warning_or_error(path: Path) -> None:
    result = check_source(path.read_text(encoding="utf-8"), path=str(path))
    assert result.syntax_error is None
    assert [f for f in result.findings if f.severity is not Severity.INFO] == []


FIXES = [
    ("for k, v in model.state_dict().items():\n    v.requires_grad = False\n",
     "for k, v in model.named_parameters():\n    v.requires_grad = False\n"),
    ("lin = nn.Linear(2, 2)\nlin.requires_grad = False\n",
     "lin = nn.Linear(2, 2)\nlin.requires_grad_(False)\n"),
    ("for p in model.parameters():\n    p.require_grad = False\n",
     "for p in model.parameters():\n    p.requires_grad = False\n"),
    ("for p in model.parameters():\n    p.requires_grad == False\n",
     "for p in model.parameters():\n    p.requires_grad = False\n"),
    ("for p in model.parameters():\n    p.data.requires_grad = False\n",
     "for p in model.parameters():\n    p.requires_grad = False\n"),
    ("for p in model.parameters:\n    p.requires_grad_(False)\n",
     "for p in model.parameters():\n    p.requires_grad_(False)\n"),
]  # fmt: skip


@pytest.mark.parametrize(("before", "after"), FIXES)
def test_certain_fixes_rewrite_the_code(before: str, after: str) -> None:
    source = HEADER + before
    fixed = fix_all(source, check_source(source).findings)
    assert fixed == HEADER + after
    assert check_source(fixed).findings == ()


@pytest.mark.parametrize(
    ("flag", "says"),
    [
        ("False", "nothing is frozen: state_dict() values are never the parameters; every "
         "parameter stays trainable"),
        ("True", "nothing is unfrozen: state_dict() values are never the parameters; a frozen "
         "parameter stays frozen"),
    ],
)  # fmt: skip
def test_frz01_says_what_a_loop_over_state_dict_leaves(flag: str, says: str) -> None:
    source = HEADER + f"for k, v in model.state_dict().items():\n    v.requires_grad = {flag}\n"
    (finding,) = check_source(source).findings
    assert (
        finding.message
        == "this loop over model.state_dict().items() changes detached copies, so " + says
    )


def test_related_locations_point_at_the_cause() -> None:
    source = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=1)\n"
        "for k, v in model.state_dict().items():\n    v.requires_grad = False\n"
        "model[0].requires_grad_(False)\n"
    )
    by_code = {f.code: f for f in check_source(source).findings}
    ((loop_span, _),) = by_code["FRZ01"].related
    ((opt_span, note),) = by_code["FRZ09"].related
    assert loop_span.start_line == opt_span.start_line + 1 == HEADER.count("\n") + 1
    assert "optimizer opt" in note


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_fixes_keep_line_endings_and_survive_form_feeds(newline: str) -> None:
    source = newline.join(
        [
            "import torch.nn as nn",
            "\x0c",
            "lin = nn.Linear(2, 2)  # \x0c page",
            "lin.requires_grad = False",
            "",
        ]
    )
    fixed = fix_all(source, check_source(source).findings)
    assert fixed == source.replace("lin.requires_grad = False", "lin.requires_grad_(False)")


def test_fix_all_applies_a_shared_loop_edit_once() -> None:
    source = HEADER + (
        "for k, v in model.state_dict().items():\n"
        "    v.requires_grad = False\n    v.requires_grad_(False)\n"
    )
    fixed = fix_all(source, check_source(source).findings)
    assert fixed.count("model.named_parameters()") == 1


def test_noqa_with_code_bare_and_other_code() -> None:
    source = HEADER + (
        "model.training = False  # noqa: FRZ10\n"
        "model.training = False  # NOQA\n"
        "model.training = False  # noqa: E712\n"
    )
    lines = [f.span.start_line - HEADER.count("\n") + 1 for f in check_source(source).findings]
    assert lines == [3]
    assert noqa_codes("x  # noqa: frz01, FRZ15a") == frozenset({"FRZ01", "FRZ15A"})
    assert noqa_codes("x  # noqa") == frozenset()
    assert noqa_codes("x") is None


_NOQA_PATTERN = r"#\s*noqa(?::[ \t]*(?P<codes>[A-Za-z0-9_]+(?:[ \t]*,?[ \t]*[A-Za-z0-9_]+)*))?"


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*"#noqaNOQA: \t,FRZ01x_\u00a0\u2003", "noqa", "NoQa", "# noqa", ": ", "FRZ01", ", "]
        ),
        max_size=14,
    ).map("".join)
)
def test_noqa_comments_are_read_as_ruffs_pattern_reads_them(line: str) -> None:
    """The hand-written reader of noqa comments agrees with the regular expression it replaced
    (ruff's syntax): the first ``#`` then ``noqa``, codes after a colon."""
    import re

    match = re.search(_NOQA_PATTERN, line, re.IGNORECASE) if "noqa" in line.lower() else None
    if match is None:
        expected = None
    else:
        codes = match.group("codes") or ""
        expected = frozenset(c.upper() for c in re.split(r"[\s,]+", codes) if c)
    assert noqa_codes(line) == expected


@pytest.mark.parametrize(
    ("code", "select", "ignore", "enabled"),
    [
        ("FRZ15A", (), (), True),
        ("FRZ15A", ("FRZ15",), (), True),
        ("FRZ15A", ("frz01",), (), False),
        ("FRZ15A", ("ALL",), ("FRZ15A",), False),
        ("FRZ01", (), ("FRZ1",), True),
        ("FRZ12", (), ("FRZ1",), False),
    ],
)
def test_select_and_ignore_are_prefixes(
    code: str, select: tuple[str, ...], ignore: tuple[str, ...], enabled: bool
) -> None:
    assert is_enabled(code, select, ignore) is enabled


def test_select_ignore_apply_to_check_source() -> None:
    source = HEADER + "model.training = False\nmodel.parameters().requires_grad = False\n"
    assert {f.code for f in check_source(source, select=["FRZ16"]).findings} == {"FRZ16"}
    assert {f.code for f in check_source(source, ignore=["FRZ16"]).findings} == {"FRZ10"}


def test_workspace_module_classes_make_imported_instances_modules(tmp_path: Path) -> None:
    from paramlens.analysis.rules import workspace_module_classes

    (tmp_path / "layers.py").write_text(
        "import torch.nn as nn\nclass Block(nn.Module):\n    pass\n"
        "def make():\n    return Block()\n"
    )
    (tmp_path / "models.py").write_text("from layers import Block\nclass Net(Block):\n    pass\n")
    source = "from models import Net\nfrom layers import *\nn = Net()\nn.requires_grad = False\n"
    script = tmp_path / "train.py"
    classes = workspace_module_classes(str(script), source, str(tmp_path))
    assert {"Net", "Block", "make"} <= classes
    result = check_source(source, module_classes=classes)
    assert [(f.code, f.span.start_line) for f in result.findings] == [("FRZ03", 3)]
    assert check_source(source).findings == ()


def test_every_finding_code_is_registered_with_a_doc_page() -> None:
    docs = Path(__file__).parent.parent.parent / "docs" / "rules"
    for code in RULES:
        assert (docs / f"{code}.md").is_file(), code


@pytest.mark.parametrize(
    "source",
    [
        "",
        "\n\n",
        "def f(:\n",
        "x = (" * 300 + ")" * 300,
        "x = " + "+".join(["a.requires_grad"] * 5000) + "\n",
        "y = " + "[" * 90 + "]" * 90 + "\n",
        "\x00",
        "model.requires_grad = \udcff\n",
        "for (a, (b, c)) in zip(x, y):\n    a.requires_grad = b\n",
        "async def f():\n    async for p in m.parameters():\n        p.requires_grad = False\n",
        "match x:\n    case 1:\n        p.requires_grad == False\n",
    ],
)
def test_never_raises_on_odd_input(source: str) -> None:
    result = check_source(source)
    assert result.syntax_error is None or result.findings == ()


def test_syntax_error_is_one_finding_at_its_position() -> None:
    result = check_source("x = 1\ndef f(:\n    pass\n")
    assert result.findings == ()
    assert result.syntax_error is not None
    assert result.syntax_error.code == "FRZ000"
    assert result.syntax_error.span.start_line == 1


def test_fifty_thousand_lines() -> None:
    block = HEADER + "for p in model.parameters():\n    p.require_grad = False\n"
    source = block * (50_000 // block.count("\n"))
    result = check_source(source)
    assert len(result.findings) == source.count("require_grad =")


CORPUS = [
    HEADER,
    "for k, v in model.state_dict().items():\n    v.requires_grad = False\n",
    "opt = torch.optim.SGD(model.parameters())\nmodel.fc = nn.Linear(2, 2)\n",
    "with torch.no_grad():\n    y = model(x)\ny.backward()\n",
    "class M(nn.Module):\n    def __init__(self):\n        self.l = [nn.Linear(1, 1)]\n",
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(CORPUS), min_size=1, max_size=4),
    st.integers(min_value=0, max_value=400),
    st.text(max_size=8),
)
def test_fuzz_mutated_sources_never_raise(parts: list[str], cut: int, noise: str) -> None:
    source = "".join(parts)
    cut %= len(source) + 1
    mutated = source[:cut] + noise + source[cut:]
    for text in (source, mutated, source[:cut]):
        result = check_source(text)
        for finding in result.findings:
            assert finding.code in RULES
            assert finding.span.start_line <= finding.span.end_line


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x2FFF), max_size=200))
def test_fuzz_arbitrary_text_never_raises(text: str) -> None:
    check_source(text)


RECEIVERS = ["model", "model.fc", "p", "v", "m", "model.fc.weight", "sd['fc.weight']", "w[0]",
             "p.data", "p.detach()", "model.parameters()", "b", "self.fc", "x.T"]  # fmt: skip
ITERABLES = ["model.parameters()", "model.named_parameters()", "model.state_dict().items()",
             "model.state_dict(keep_vars=True).values()", "model.modules()", "model.buffers()",
             "model.named_children()", "params", "model.parameters",
             "enumerate(model.parameters())"]  # fmt: skip
TARGETS = ["p", "v", "m", "b", "k, v", "name, p", "_, m", "i, p"]
SINKS = ["{r}.requires_grad = {v}", "{r}.requires_grad_({v})", "{r}.requires_grad == {v}",
         "{r}.require_grad = {v}", "{r}.requires_grad_()", "{r}.training = {v}", "{r}.eval",
         "x = {r}.requires_grad"]  # fmt: skip
SETUP = [
    "model = nn.Sequential(nn.Linear(2, 2))",
    "sd = model.state_dict()",
    "w = model.fc.weight",
    "params = model.parameters()",
    "opt = torch.optim.SGD(model.parameters(), lr=0.1)",
    "model.fc = nn.Linear(2, 3)",
    "dp = nn.DataParallel(model)",
    "with torch.no_grad():\n    y = model(x)",
    "y.backward()",
    "opt.step()",
]


@st.composite
def freeze_programs(draw: st.DrawFn) -> str:
    """Small programs built from the shapes freeze code takes, mistakes included."""
    lines = [HEADER.rstrip("\n")]
    for _ in range(draw(st.integers(1, 8))):
        sink = draw(st.sampled_from(SINKS)).format(
            r=draw(st.sampled_from(RECEIVERS)), v=draw(st.sampled_from(["False", "True", "0", "f"]))
        )
        shape = draw(st.integers(0, 3))
        if shape == 0:
            lines.append(sink)
        elif shape == 1:
            lines.append(draw(st.sampled_from(SETUP)))
        else:
            target = draw(st.sampled_from(TARGETS))
            iterable = draw(st.sampled_from(ITERABLES))
            head = f"for {target} in {iterable}:"
            if shape == 3:
                lines.append(f"def helper(model):\n    {head}\n        {sink}\nhelper(model)")
            else:
                lines.append(f"{head}\n    {sink}")
    return "\n".join(lines) + "\n"


@settings(max_examples=200, deadline=None)
@given(freeze_programs())
def test_fuzz_freeze_programs_fixes_keep_code_valid(source: str) -> None:
    ast.parse(source)
    result = check_source(source)
    lines = source.split("\n")
    for finding in result.findings:
        assert finding.code in RULES
        assert 0 <= finding.span.start_line < len(lines)
        assert finding.span.end_col <= len(lines[finding.span.end_line])
    fixed = fix_all(source, result.findings)
    ast.parse(fixed)  # a certain fix never breaks the code
    assert len(check_source(fixed).findings) <= len(result.findings) + 2


@pytest.mark.parametrize(
    ("clearing", "optimizer", "severity"),
    [
        ("opt.zero_grad()\n", "SGD(model.parameters(), lr=1, momentum=0.9)", Severity.INFO),
        ("opt.zero_grad(set_to_none=False)\n", "SGD(model.parameters(), lr=1)", Severity.INFO),
        ("opt.zero_grad(set_to_none=False)\n", "RMSprop(model.parameters())", Severity.INFO),
        ("opt.zero_grad(False)\n", "SGD(model.parameters(), lr=1, momentum=0.9)", Severity.WARNING),
        ("opt.zero_grad(set_to_none=False)\n", "Adam(model.parameters())", Severity.WARNING),
        ("", "SGD(model.parameters(), lr=1)", Severity.WARNING),
    ],
)
def test_frz09_severity_follows_the_verified_optimizer_table(
    clearing: str, optimizer: str, severity: Severity
) -> None:
    source = HEADER + f"opt = torch.optim.{optimizer}\n{clearing}model[0].requires_grad_(False)\n"
    (finding,) = [f for f in check_source(source).findings if f.code == "FRZ09"]
    assert finding.severity is severity


def test_frz09_between_backward_and_step_is_a_warning() -> None:
    source = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=1)\nopt.zero_grad()\n"
        "model(x).sum().backward()\nmodel[0].requires_grad_(False)\nopt.step()\n"
    )
    (finding,) = [f for f in check_source(source).findings if f.code == "FRZ09"]
    assert (
        finding.severity is Severity.WARNING and "between backward() and step()" in finding.message
    )


def test_workspace_relative_imports_and_src_layout(tmp_path: Path) -> None:
    from paramlens.analysis.rules import workspace_module_classes

    package = tmp_path / "src" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "layers.py").write_text("from torch import nn\nclass Head(nn.Linear):\n    pass\n")
    (package / "model.py").write_text(
        "from .layers import Head\nfrom torch import nn\nclass Net(nn.Module):\n    pass\n"
    )
    script = tmp_path / "train.py"
    source = "from pkg.model import Net, Head\nfrom os import path\n"
    assert workspace_module_classes(str(script), source, str(tmp_path)) == {"Net", "Head"}
    inner = package / "train.py"
    assert workspace_module_classes(str(inner), "from .model import *\n", str(tmp_path)) == {
        "Net",
        "Head",
    }


@pytest.mark.parametrize(
    ("statement", "bindings"),
    [
        ("import torch", [("torch", "torch", False)]),
        ("import torch.nn", [("torch", "torch", False)]),
        ("import torch.nn as nn", [("nn", "torch.nn", False)]),
        (
            "from torch import nn, optim as o",
            [("nn", "torch.nn", True), ("o", "torch.optim", True)],
        ),
        ("from ..pkg import Net as N", [("N", "..pkg.Net", True)]),
        ("from . import layers", [("layers", "..layers", True)]),
        ("from torch.nn import *", []),
    ],
)
def test_import_bindings_name_what_each_import_binds(
    statement: str, bindings: list[tuple[str, str, bool]]
) -> None:
    node = ast.parse(statement).body[0]
    assert isinstance(node, (ast.Import, ast.ImportFrom))
    assert list(import_bindings(node)) == bindings


REGISTERING_CLASS = """\
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        if True:
            self.head = nn.Linear(2, 2)
        self.head.weight = self.fc.weight
        {call}("stats", torch.zeros(2))

    @staticmethod
    def helper():
        return [m.register_parameter("scale", None) for m in ()]
"""


@pytest.mark.parametrize(
    ("call", "buffer"),
    [
        ("self.register_buffer", True),
        # The parser folds the full-width letter into "r": the text never says register_.
        ("self.\uff52egister_buffer", True),
        ("self.registered", False),
    ],
)
def test_facts_with_the_source_are_the_facts_of_the_tree(call: str, buffer: bool) -> None:
    source = REGISTERING_CLASS.format(call=call)
    tree = ast.parse(source)
    with_source, tree_only = collect_facts(tree, (), source), collect_facts(tree, ())
    assert ("stats" in with_source.buffer_attrs) is buffer
    assert with_source.parameter_attrs == tree_only.parameter_attrs == {"scale"}
    assert with_source.buffer_attrs == tree_only.buffer_attrs
    assert list(with_source.submodule_attrs) == list(tree_only.submodule_attrs) == ["fc", "head"]
    tied = {"head.weight": ("fc.weight", 10), "fc.weight": ("head.weight", 10)}
    assert with_source.ties == tree_only.ties == tied


@pytest.mark.parametrize(
    "path", sorted((MUST_NOT_FLAG.parent / "freeze_cases").glob("c*.py"))[:6], ids=lambda p: p.name
)
def test_a_tree_given_gives_the_findings_of_the_source_parsed(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert check_source(source, tree=ast.parse(source)) == check_source(source)


def test_every_kind_declared_is_made_and_every_kind_made_is_declared() -> None:
    # engine.py names Kind's members twice: as ClassVar declarations (for mypy) and in the loop
    # that makes them (a compiled class keeps no __annotations__ to derive them from).
    from paramlens.analysis.rules.engine import Kind

    source = Path(__file__).resolve().parents[2] / "server/paramlens/analysis/rules/engine.py"
    kind_class = next(
        node
        for node in ast.parse(source.read_text()).body
        if isinstance(node, ast.ClassDef) and node.name == "Kind"
    )
    declared = {
        node.target.id
        for node in kind_class.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and ast.unparse(node.annotation) == "ClassVar[Kind]"
    }
    made = {name for name in dir(Kind) if isinstance(getattr(Kind, name), Kind)}
    assert declared == made
    assert all(getattr(Kind, name).name == name for name in made)
