"""Real inspections: DarkNet acceptance, tied weights, buffers, call sites, packages, loading."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from worker_support import EXAMPLES, ROOT

from paramlens.worker_client import WorkerSession

pytestmark = pytest.mark.torch


def only(result: Any, name: str) -> Any:
    (report,) = [r for r in result["reports"] if r["object"] == name]
    return report


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_darknet_is_built_from_its_call_site_in_named_parameters_order(
    session: WorkerSession,
) -> None:
    result = session.inspect(EXAMPLES / "darknet.py")
    report = only(result, "DarkNet")
    assert report["status"] == "ok"
    assert report["built_as"] == "DarkNet([1, 2, 8, 8, 4])"
    assert report["device"] == "meta"
    assert report["file"] == str(EXAMPLES / "darknet.py")
    assert report["line"] == 15
    shapes = {p["name"]: p["shape"] for p in report["parameters"]}
    names = [p["name"] for p in report["parameters"]]
    assert names[:7] == [
        "conv1.weight",
        "bn1.weight",
        "bn1.bias",
        "layer1.ds_conv.weight",
        "layer1.ds_bn.weight",
        "layer1.ds_bn.bias",
        "layer1.residual_0.conv1.weight",
    ]
    assert shapes["conv1.weight"] == [32, 3, 3, 3]
    assert shapes["bn1.weight"] == [32]
    assert shapes["layer1.ds_conv.weight"] == [64, 32, 3, 3]
    assert shapes["layer1.residual_0.conv1.weight"] == [32, 64, 1, 1]
    assert shapes["layer5.residual_3.conv2.weight"] == [1024, 512, 3, 3]
    totals = report["totals"]
    assert totals["parameter_tensors"] == 156
    assert totals["parameters"] == 40_584_928
    assert totals["trainable"] == 40_584_928  # the file's own freeze loop did not run
    assert totals["buffer_tensors"] == 156
    assert all(p["requires_grad"] for p in report["parameters"])
    assert len(report["state_dict_keys"]) == 156 + 156


def test_module_tree_carries_class_and_assignment_lines(session: WorkerSession) -> None:
    report = only(session.inspect(EXAMPLES / "darknet.py"), "DarkNet")
    modules = {m["name"]: m for m in report["modules"]}
    assert modules[""]["class"] == "DarkNet"
    assert modules[""]["class_line"] == 15
    assert modules[""]["parameters"] == 40_584_928
    assert modules["conv1"]["assigned_line"] == 19
    assert (
        modules["conv1"]["extra_repr"]
        == "3, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False"
    )
    assert modules["layer3"]["assigned_line"] == 25
    assert modules["layer3"]["class"] == "Sequential"
    assert modules["layer1.residual_0"]["class"] == "BasicBlock"
    assert modules["layer1.residual_0"]["class_line"] == 53
    assert modules["layer1.residual_0"]["class_file"] == str(EXAMPLES / "darknet.py")
    assert modules["layer1.residual_0"]["assigned_line"] is None  # added via OrderedDict
    assert modules["layer1.residual_0.conv2"]["assigned_line"] == 59
    assert modules["layer1.residual_0"]["parameters"] == 2048 + 64 + 18432 + 128
    block = only(session.inspect(EXAMPLES / "darknet.py"), "BasicBlock")
    assert block["status"] == "ok"
    assert block["built_as"] == "DarkNet([1, 2, 8, 8, 4]).layer1.residual_0"


def test_a_training_script_runs_none_of_its_top_level(
    session: WorkerSession, tmp_path: Path
) -> None:
    marker = tmp_path / "side-effects.txt"
    script = write(
        tmp_path / "train.py",
        f"""
        import urllib.request
        import torch
        from torch import nn

        MARKER = {str(marker)!r}


        class Net(nn.Module):
            def __init__(self, width=8):
                super().__init__()
                self.fc = nn.Linear(width, 2)


        open(MARKER, "a").write("top level ran\\n")
        model = Net(16)
        for p in model.parameters():
            p.requires_grad = False
        urllib.request.urlopen("http://example.invalid/weights.pt")
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(10):
            open(MARKER, "a").write("trained\\n")
        torch.save(model.state_dict(), MARKER + ".pt")
        if __name__ == "__main__":
            open(MARKER, "a").write("main ran\\n")
        """,
    )
    report = only(session.inspect(script), "Net")
    assert report["built_as"] == "Net(16)"
    assert report["totals"]["trainable"] == 16 * 2 + 2
    assert not marker.exists()
    assert not Path(str(marker) + ".pt").exists()


def test_tied_weights_non_persistent_buffers_and_frozen_parameters(
    session: WorkerSession,
) -> None:
    report = only(session.inspect(EXAMPLES / "tied_lm.py"), "TiedLM")
    assert report["built_as"] == "TiedLM(VOCAB, DIM, layers=3)"
    parameters = {p["name"]: p for p in report["parameters"]}
    assert "decoder.weight" not in parameters
    assert parameters["embed.weight"]["aliases"] == ["decoder.weight"]
    assert parameters["temperature"]["requires_grad"] is False
    assert parameters["temperature"]["shape"] == [1]
    buffers = {b["name"]: b for b in report["buffers"]}
    assert buffers["positions"]["persistent"] is False
    assert buffers["step"]["persistent"] is True
    assert buffers["positions"]["dtype"] == "int64"
    keys = report["state_dict_keys"]
    assert "decoder.weight" in keys and "embed.weight" in keys
    assert "positions" not in keys and "step" in keys
    totals = report["totals"]
    embed = 1000 * 64
    linears = 3 * (64 * 64 + 64)
    assert totals["parameters"] == 1 + embed + linears + 2 * 64  # the tied tensor counts once
    assert totals["frozen"] == 1
    assert totals["parameter_tensors"] == 1 + 1 + 6 + 2
    decoder = {m["name"]: m for m in report["modules"]}["decoder"]
    assert decoder["parameters"] == embed  # its weight belongs to its subtree too


def test_needs_arguments_says_how_to_provide_them(session: WorkerSession, tmp_path: Path) -> None:
    script = write(
        tmp_path / "needs.py",
        """
        from torch import nn


        class Needs(nn.Module):
            def __init__(self, width, depth=2):
                super().__init__()
                self.fc = nn.Linear(width, width)


        def build(width):
            return Needs(width)
        """,
    )
    report = only(session.inspect(script), "Needs")
    assert report["status"] == "needs_arguments"
    message = report["error"]["message"]
    assert "needs constructor arguments (width)" in message
    assert "[tool.paramlens.models]" in message
    assert "line 12" in message  # the call site it could not use, and why


def test_models_setting_and_zero_argument_factories(session: WorkerSession, tmp_path: Path) -> None:
    script = write(
        tmp_path / "factories.py",
        """
        from torch import nn


        class Wide(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.fc = nn.Linear(width, 1, bias=False)


        def small() -> nn.Module:
            return nn.Linear(2, 2)


        def helper(x):
            return x
        """,
    )
    original = session.settings
    session.settings = original._replace(models={"factories:Wide": "Wide(width=5)"})
    try:
        result = session.inspect(script)
    finally:
        session.settings = original
    assert [r["object"] for r in result["reports"]] == ["Wide", "small"]
    wide = only(result, "Wide")
    assert wide["built_as"] == "Wide(width=5)"
    assert wide["totals"]["parameters"] == 5
    assert only(result, "small")["totals"]["parameters"] == 6


def test_package_with_relative_imports_loads_definitions_only(session: WorkerSession) -> None:
    result = session.inspect(EXAMPLES / "vision" / "models.py")
    report = only(result, "SmallCNN")
    assert report["status"] == "ok"
    assert report["modules"][1]["name"] == "features"
    assert set(result["imported_files"]) == {
        str(EXAMPLES / "vision" / "__init__.py"),
        str(EXAMPLES / "vision" / "config.py"),
        str(EXAMPLES / "vision" / "layers.py"),
    }
    assert not (ROOT / "vision-layers-imported.txt").exists()
    assert not Path("vision-layers-imported.txt").exists()
    layer = {m["name"]: m for m in report["modules"]}["features.0"]
    assert layer["class"] == "ConvBNAct"
    assert layer["class_file"] == str(EXAMPLES / "vision" / "layers.py")
    assert layer["class_line"] == 9


def test_src_layout_absolute_imports(session: WorkerSession, tmp_path: Path) -> None:
    marker = tmp_path / "imported.txt"
    write(tmp_path / "pyproject.toml", "[project]\nname = 'demo'\n")
    write(tmp_path / "src" / "mypkg" / "__init__.py", "")
    write(
        tmp_path / "src" / "mypkg" / "layers.py",
        f"""
        from torch import nn
        open({str(marker)!r}, "w").write("ran")
        HIDDEN = 12


        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(HIDDEN, HIDDEN)
        """,
    )
    script = write(
        tmp_path / "scripts" / "train.py",
        """
        from torch import nn
        from mypkg.layers import Block, HIDDEN


        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.block = Block()
                self.head = nn.Linear(HIDDEN, 1)
        """,
    )
    result = session.inspect(script)
    report = only(result, "Model")
    assert report["totals"]["parameters"] == 12 * 12 + 12 + 12 + 1
    assert result["imported_files"] == [
        str(tmp_path / "src" / "mypkg" / "__init__.py"),
        str(tmp_path / "src" / "mypkg" / "layers.py"),
    ]
    assert not marker.exists()


def test_module_load_mode_runs_the_file(session: WorkerSession, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    script = write(
        tmp_path / "configured.py",
        f"""
        import sys
        from torch import nn
        open({str(marker)!r}, "w").write(repr(sys.argv))
        WIDTH = int("7")


        class Net(nn.Module):
            def __init__(self, width=WIDTH):
                super().__init__()
                self.fc = nn.Linear(width, 1)
        """,
    )
    original = session.settings
    session.settings = original._replace(load_mode="module")
    try:
        report = only(session.inspect(script), "Net")
    finally:
        session.settings = original
    assert report["totals"]["parameters"] == 8
    assert marker.read_text() == repr([str(script)])


def test_lazy_parameters_are_unknown_not_zero(session: WorkerSession, tmp_path: Path) -> None:
    script = write(
        tmp_path / "lazy.py",
        """
        from torch import nn


        class Lazy(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.LazyLinear(4)
                self.out = nn.Linear(4, 1)
        """,
    )
    report = only(session.inspect(script), "Lazy")
    weight = report["parameters"][0]
    assert weight["name"] == "fc.weight"
    assert weight["shape"] is None and weight["numel"] is None
    assert report["totals"]["lazy_parameters"] == 2
    assert report["totals"]["parameters"] == 5


def test_cpu_fallback_when_meta_fails_and_its_size_limit(
    session: WorkerSession, tmp_path: Path
) -> None:
    script = write(
        tmp_path / "needs_data.py",
        """
        import torch
        from torch import nn


        class Small(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.scale = float(self.fc.weight.abs().max().item())


        class Huge(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.scale = float(self.fc.weight.abs().max().item())
                self.table = nn.Parameter(torch.zeros(1024, 1024, 1024))
        """,
    )
    result = session.inspect(script)
    small = only(result, "Small")
    assert (small["status"], small["device"]) == ("ok", "cpu")
    assert "meta" in small["fallback_reason"]  # .item() on a meta tensor
    huge = only(result, "Huge")
    assert huge["status"] == "error"
    assert "cpuFallbackLimitMb" in huge["error"]["message"]
    assert result["device"] == "cpu"


def test_library_constructors_at_top_level_run_and_skipped_names_are_explained(
    session: WorkerSession, tmp_path: Path
) -> None:
    script = write(
        tmp_path / "config_driven.py",
        """
        import json
        import logging

        import torch
        from torch import nn

        log = logging.getLogger(__name__)
        DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        ACT = nn.GELU()
        CONFIG = json.load(open("config.json"))


        class UsesConstants(nn.Module):
            def __init__(self, device=DEVICE):
                super().__init__()
                log.info("building on %s", device)
                self.fc = nn.Linear(4, 4)
                self.act = ACT


        class UsesConfig(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(CONFIG["width"], 1)
        """,
    )
    result = session.inspect(script)
    assert only(result, "UsesConstants")["totals"]["parameters"] == 20
    failed = only(result, "UsesConfig")
    assert failed["status"] == "error"
    assert failed["error"]["type"] == "NameError"
    assert failed["error"]["line"] == 25
    assert "set by top-level code at line 11" in failed["error"]["message"]
    assert 'loadMode = "module"' in failed["error"]["message"]


def test_a_module_that_breaks_introspection_is_a_report_in_error(
    session: WorkerSession, tmp_path: Path
) -> None:
    script = write(
        tmp_path / "odd.py",
        """
        from torch import nn


        class Odd(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)

            def named_parameters(self, *args, **kwargs):
                raise RuntimeError("no parameters for you")


        class Plain(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
        """,
    )
    result = session.inspect(script)
    odd = only(result, "Odd")
    assert odd["status"] == "error"
    assert odd["error"]["line"] == 11
    assert only(result, "Plain")["totals"]["parameters"] == 6


def test_explicit_devices_stay_on_meta(session: WorkerSession, tmp_path: Path) -> None:
    script = write(
        tmp_path / "gpu_code.py",
        """
        import torch
        from torch import nn


        class OnGpu(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4).cuda()
                self.half = nn.Linear(4, 2).to("cuda", torch.float16)
                self.register_buffer("mask", torch.ones(4, 4, device="cuda:0"))
                self.scale = nn.Parameter(torch.zeros(3).cpu())
        """,
    )
    report = only(session.inspect(script), "OnGpu")
    assert (report["status"], report["device"]) == ("ok", "meta"), report["error"]
    dtypes = {p["name"]: p["dtype"] for p in report["parameters"]}
    assert dtypes == {
        "scale": "float32",
        "fc.weight": "float32",
        "fc.bias": "float32",
        "half.weight": "float16",
        "half.bias": "float16",
    }
    assert report["buffers"][0]["shape"] == [4, 4]


def test_factories_with_parameters_are_built_from_their_call_site(
    session: WorkerSession, tmp_path: Path
) -> None:
    script = write(
        tmp_path / "factory_call.py",
        """
        from torch import nn


        def mlp(width, depth=2):
            layers = [nn.Linear(width, width) for _ in range(depth)]
            return nn.Sequential(*layers)


        def unused_helper(width):
            return nn.Linear(width, 1)


        model = mlp(8, depth=3)
        """,
    )
    result = session.inspect(script)
    assert [r["object"] for r in result["reports"]] == ["mlp"]
    report = only(result, "mlp")
    assert report["built_as"] == "mlp(8, depth=3)"
    assert report["totals"]["parameters"] == 3 * (8 * 8 + 8)


def test_variables_bound_to_models_built_elsewhere_are_reports_of_their_own(
    session: WorkerSession, tmp_path: Path
) -> None:
    write(
        tmp_path / "parts.py",
        """
        from torch import nn


        class Net(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.fc1 = nn.Linear(width, 2)


        def make_head(width):
            return nn.Linear(width, 1)


        def make_pair():
            return nn.Linear(1, 1), nn.Linear(1, 1)
        """,
    )
    script = write(
        tmp_path / "finetune.py",
        """
        import torch
        from torch import nn
        from parts import Net, make_head, make_pair

        WIDTH = 6
        backbone = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, WIDTH))
        net = Net(WIDTH)
        head = make_head(WIDTH)
        pair = make_pair()
        swapped = nn.Sequential(nn.Linear(2, 2))
        swapped[0] = nn.Linear(2, 3)
        hub = torch.hub.load("pytorch/vision", "resnet18")


        ACT = nn.GELU()  # nothing to freeze


        def main(width):
            local = 3
            encoder = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16)
            sized = nn.Linear(width, local)


        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                block = nn.Sequential(nn.Linear(2, 2))  # a part of Model's own report
                self.add_module("block", block)
        """,
    )
    result = session.inspect(script)
    assert [(r["object"], r["kind"], r["line"]) for r in result["reports"]] == [
        ("backbone", "variable", 7),
        ("net", "variable", 8),
        ("head", "variable", 9),
        ("main.encoder", "variable", 21),
        ("Model", "class", 25),
    ]
    backbone = only(result, "backbone")
    assert backbone["device"] == "meta"
    assert backbone["built_as"] == "nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, WIDTH))"
    assert [p["name"] for p in backbone["parameters"]] == [
        "0.weight", "0.bias", "2.weight", "2.bias"
    ]  # fmt: skip
    assert only(result, "backbone")["totals"]["parameters"] == 4 * 8 + 8 + 8 * 6 + 6
    assert [p["name"] for p in only(result, "net")["parameters"]] == ["fc1.weight", "fc1.bias"]
    assert only(result, "head")["totals"]["parameters"] == 7
    encoder = only(result, "main.encoder")
    assert encoder["modules"][0]["class"] == "TransformerEncoderLayer"
    assert "self_attn.in_proj_weight" in [p["name"] for p in encoder["parameters"]]
    # a file's own classes stay reports of kind "class"
    own = write(tmp_path / "own.py", "from torch import nn\n\nclass A(nn.Module):\n    pass\n")
    assert [(r["object"], r["kind"]) for r in session.inspect(own)["reports"]] == [("A", "class")]


def test_the_models_setting_builds_a_variable_that_a_library_function_makes(
    session: WorkerSession, tmp_path: Path
) -> None:
    script = write(
        tmp_path / "hub_script.py",
        """
        import torch
        from torch import nn

        def main():
            model = torch.hub.load("pytorch/vision", "resnet18", weights="DEFAULT")
        """,
    )
    assert session.inspect(script)["reports"] == []  # a library function is never called
    original = session.settings
    configured = {"hub_script:main.model": "nn.Sequential(nn.Linear(3, 3))"}
    session.settings = original._replace(models=configured)
    try:
        result = session.inspect(script)
    finally:
        session.settings = original
    (report,) = result["reports"]
    assert (report["object"], report["kind"], report["line"]) == ("main.model", "variable", 6)
    assert report["built_as"] == "nn.Sequential(nn.Linear(3, 3))"
    assert report["totals"]["parameters"] == 12
