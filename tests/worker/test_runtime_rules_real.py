"""The runtime-aware rules end to end: the real worker (real torch) builds the models of the
catalogue's FRZ12 case script, and the findings come from its reports."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from worker_support import worker_settings

from paramlens.analysis.render import class_lens_title, hover_markdown
from paramlens.analysis.rules.runtime import runtime_findings
from paramlens.analysis.source_map import build_source_map, target_at
from paramlens.worker_client import WorkerSession

pytestmark = pytest.mark.torch

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "freeze_cases"


def check_json(target: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``paramlens check --format json`` on ``target``, the runtime rules through the real
    worker in this interpreter (which has torch)."""
    return subprocess.run(
        [sys.executable, "-m", "paramlens", "check", "--no-cache", "--format", "json",
         "--interpreter", sys.executable, target],
        cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def c12(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    folder = tmp_path_factory.mktemp("c12")
    for name in ("_common.py", "c12_name_filters.py"):
        shutil.copy(CASES / name, folder / name)
    # "module" load mode: _common.py's function defaults refer to module-level tensors.
    settings = worker_settings(load_mode="module", timeout_seconds=120.0)
    with WorkerSession(settings) as session:
        result = session.inspect(folder / "c12_name_filters.py")
    return folder / "c12_name_filters.py", list(result["reports"])


def test_the_worker_reports_the_three_models_with_their_real_names(
    c12: tuple[Path, list[dict]],
) -> None:
    _, reports = c12
    names = {r["object"]: [p["name"] for p in r["parameters"]] for r in reports}
    assert set(names) == {"Classifier", "ResNetLike", "Blocks"}
    assert names["Classifier"][0] == "features.0.weight"
    assert len(names["Blocks"]) == 24


def test_frz12_findings_on_the_case_script(c12: tuple[Path, list[dict]]) -> None:
    path, reports = c12
    source = path.read_text()
    findings = runtime_findings(ast.parse(source), source, reports, str(path))
    lines = source.splitlines()
    got = {(f.span.start_line + 1, f.code) for f in findings}
    # 12a 'fc' on features/classifier, 12b layer5, 12c module names (two loops), 12d the
    # over-match of 'blocks.1', 12e a dotted name against named_children(), 12h recurse=False.
    expected_snippets = [
        '"fc" in name',
        'name.startswith("layer5")',
        'name in ["layer1", "layer2"]',
        'name == "fc"',
        '"blocks.1" in name',
        'name == "layer1.0"',
        "m.parameters(recurse=False)",
    ]
    expected = {
        (next(i for i, text in enumerate(lines, 1) if snippet in text), "FRZ12")
        for snippet in expected_snippets
    }
    assert got == expected
    by_line = {f.span.start_line + 1: f for f in findings}
    fc = by_line[next(i for i, t in enumerate(lines, 1) if '"fc" in name' in t)]
    assert "matches no parameter of Classifier (6 parameters: features.0.weight" in fc.message
    assert fc.message.endswith("nothing is frozen")
    over = by_line[next(i for i, t in enumerate(lines, 1) if '"blocks.1" in name' in t)]
    assert "blocks.10.weight" in over.message and over.fix is not None
    # the fixed loop two lines later (startswith('blocks.1.')) is not flagged
    fixed_line = next(i for i, t in enumerate(lines, 1) if 'startswith("blocks.1.")' in t)
    assert fixed_line not in by_line


def test_the_acceptance_example_end_to_end(session: WorkerSession) -> None:
    """net = AvgPool1d(2), BatchNorm1d(3), Linear(12, 4): a 58-parameter lens, a hover on fc1
    with weight [4, 12] and bias [4] (52 parameters), and the "fc2" filter flagged."""
    path = Path(__file__).resolve().parents[1] / "fixtures" / "runtime" / "acceptance_net.py"
    reports = list(session.inspect(path)["reports"])
    source = path.read_text()
    tree = ast.parse(source)
    (report,) = reports
    assert class_lens_title(report) == "58 params · 58 trainable · 7 buffer values"
    source_map = build_source_map(tree, source, {r["object"] for r in reports})
    line = next(i for i, text in enumerate(source.splitlines()) if "self.fc1 =" in text)
    target = target_at(source_map, line, source.splitlines()[line].index("fc1"))
    assert target is not None
    hover = hover_markdown(target, report)
    assert hover is not None
    for fragment in (
        "**self.fc1** — Linear",
        "52 parameters",
        "| `weight` | [4, 12] |",
        "| `bias` | [4] |",
    ):
        assert fragment in hover
    findings = runtime_findings(tree, source, reports, str(path))
    assert [(f.code, source.splitlines()[f.span.start_line].strip()) for f in findings] == [
        ("FRZ12", 'if "fc2" in name:')
    ]


def test_loops_over_variables_built_from_library_and_imported_classes(tmp_path: Path) -> None:
    """`paramlens check` with the real worker on models a script builds from classes it does
    not define: torch's (at module level and in main()) and one imported from the workspace.
    A model the script restructures after its construction is left alone."""
    write = lambda name, text: (tmp_path / name).write_text(textwrap.dedent(text))  # noqa: E731
    write(
        "parts.py",
        """
        from torch import nn


        class Net(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.fc1 = nn.Linear(width, 2)
        """,
    )
    write(
        "train.py",
        """
        import torch.nn as nn
        from parts import Net

        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        for name, p in model.named_parameters():
            if name.startswith("fc1"):
                p.requires_grad = False

        imported = Net(3)
        for name, p in imported.named_parameters():
            if "fc2" in name:
                p.requires_grad = False

        head = nn.Sequential(nn.Linear(4, 4))
        head.fc = nn.Linear(4, 2)
        for name, p in head.named_parameters():
            if "fc" in name:
                p.requires_grad = False


        def main():
            net = nn.Transformer(
                d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                dim_feedforward=32,
            )
            for name, p in net.named_parameters():
                if "encoder.layers.1" in name:
                    p.requires_grad = False


        def freeze_head(m):
            for name, p in m.named_parameters():
                if name.startswith("head."):
                    p.requires_grad = False


        freeze_head(imported)
        """,
    )
    done = check_json("train.py", tmp_path)
    assert done.returncode == 1, done.stderr
    found = [(i["location"]["row"], i["code"], i["message"]) for i in json.loads(done.stdout)]
    assert [(row, code) for row, code, _ in found] == [
        (7, "FRZ12"),
        (12, "FRZ12"),
        (28, "FRZ12"),
        (34, "FRZ12"),  # in a helper, on the model its one call passes
    ]
    messages = [message for _, _, message in found]
    assert (
        "matches no parameter of model (Sequential, 4 parameters: 0.weight, 0.bias" in (messages[0])
    )
    assert (
        "matches no parameter of imported (Net, 2 parameters: fc1.weight, fc1.bias)"
        in (messages[1])
    )
    # the real names: no layer 1 at all, not an over-matching prefix
    assert "matches no parameter of net (Transformer, 34 parameters" in messages[2]
    assert "matches no parameter of imported (Net, 2 parameters" in messages[3]


def test_the_must_not_flag_corpus_stays_clean_with_the_runtime_rules(tmp_path: Path) -> None:
    """Correct freezing in every idiom, models built by the real worker: no warning or error
    (information, such as FRZ11's BatchNorm statistics, is allowed)."""
    corpus = Path(__file__).resolve().parents[1] / "fixtures" / "must_not_flag"
    done = check_json(str(corpus), tmp_path)
    assert "runtime rules" not in done.stderr, done.stderr  # the worker did run
    items = json.loads(done.stdout)
    assert [i for i in items if i["severity"] != "info"] == []
    assert done.returncode in (0, 1)


def test_the_finetune_example_names_its_two_slips(tmp_path: Path) -> None:
    """examples/finetune.py defines no class: its models come from torch's classes, one of
    them reaches its freeze loop through a helper with a list of prefixes."""
    example = Path(__file__).resolve().parents[2] / "examples" / "finetune.py"
    done = check_json(str(example), tmp_path)
    assert done.returncode == 1, done.stderr
    lines = example.read_text().splitlines()
    found = [
        (i["code"], lines[i["location"]["row"] - 1].strip(), i["message"])
        for i in json.loads(done.stdout)
    ]
    assert [(code, line) for code, line, _ in found] == [
        ("FRZ12", "if any(name.startswith(prefix) for prefix in prefixes):"),
        ("FRZ12", 'if "norm" in name:  # Sequential names its layers "0", "1": nothing is frozen'),
    ]
    assert (
        "'layer.2.' (in prefixes)` matches no parameter of encoder (TransformerEncoder"
        in (found[0][2])
    )
    assert "of head (Sequential, 4 parameters: 0.weight, 0.bias, 1.weight, 1.bias)" in found[1][2]


def test_a_trainer_class_freezing_through_its_methods(tmp_path: Path) -> None:
    """A plain class holding the model (``Trainer(Encoder())``) whose method passes
    ``self.model`` to another method and to a function; a head set before a loop keeps that
    loop unjudged."""
    script = tmp_path / "trainer.py"
    script.write_text(
        textwrap.dedent(
            """
            import torch.nn as nn

            class Encoder(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(3))

            class Trainer:
                def __init__(self, model):
                    self.model = model

                def setup(self):
                    self.freeze_layers(self.model, 2)
                    freeze_norms(self.model)
                    self.model.head = nn.Linear(4, 2)
                    for name, p in self.model.named_parameters():
                        if not name.startswith("head."):
                            p.requires_grad = False

                def freeze_layers(self, model, count):
                    for name, p in model.named_parameters():
                        if name.startswith("layer.") and int(name.split(".")[1]) < count:
                            p.requires_grad = False

            def freeze_norms(model):
                for name, p in model.named_parameters():
                    if "norm" in name:
                        p.requires_grad = False

            def main():
                Trainer(Encoder()).setup()
            """
        )
    )
    done = check_json(str(script), tmp_path)
    found = [(i["location"]["row"], i["code"], i["message"]) for i in json.loads(done.stdout)]
    assert [(row, code) for row, code, _ in found] == [(23, "FRZ12"), (28, "FRZ12")], done.stderr
    assert all(
        "matches no parameter of Encoder (6 parameters: layers.0.weight" in m for *_, m in found
    )


def test_a_package_that_is_not_installed_leaves_the_other_models_judged(tmp_path: Path) -> None:
    """Lightning is not installed: the class based on it is not built, the file's own encoder
    is, and its filter that matches nothing is still reported; the run says what is missing."""
    script = tmp_path / "lit.py"
    script.write_text(
        textwrap.dedent(
            """
            import paramlens_fixture_lightning as pl
            import torch.nn as nn

            class Encoder(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(4, 4)

            class Lit(pl.LightningModule):
                def __init__(self):
                    super().__init__()
                    self.encoder = Encoder()

            def main():
                encoder = Encoder()
                for name, p in encoder.named_parameters():
                    if name.startswith("fc2"):
                        p.requires_grad = False
            """
        )
    )
    done = check_json(str(script), tmp_path)
    found = [(i["location"]["row"], i["code"], i["message"]) for i in json.loads(done.stdout)]
    assert [(row, code) for row, code, _ in found] == [(18, "FRZ12")], done.stderr
    assert "matches no parameter of Encoder (2 parameters: fc1.weight, fc1.bias)" in found[0][2]
    assert (
        "runtime rules: paramlens_fixture_lightning not installed in this interpreter: the models "
        "that need it are not built"
    ) in done.stderr
