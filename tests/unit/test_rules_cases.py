"""Every case file of the freeze catalogue yields at least the catalogue's reference detections,
and the files that show working code yield no warning or error."""

from __future__ import annotations

from pathlib import Path

import pytest

from paramlens.analysis.findings import Severity
from paramlens.analysis.rules import CheckResult, check_source, fix_all, workspace_module_classes

CASES = Path(__file__).parent.parent / "fixtures" / "freeze_cases"

# "Reference detections" of FREEZE_PITFALLS.md: (code, 1-based lines) per case file.
REFERENCE: dict[str, dict[str, set[int]]] = {
    "c01_state_dict_requires_grad.py": {"FRZ01": {7, 13, 23, 25, 32, 41, 64, 67}},
    "c02_state_dict_keep_vars.py": {"FRZ02": {29}},
    "c03_module_requires_grad_attr.py": {"FRZ03": {19, 24}, "FRZ04": {43}},
    "c04_typos.py": {
        "FRZ04": {64, 81, 83, 85, 87, 89, 91, 71, 74, 11, 18, 23, 28, 33, 38, 42, 48, 57},
        "FRZ21": {51},
    },
    "c05_data_detach_rebind.py": {"FRZ05": {43, 47, 6, 14, 19, 25, 32, 51}},
    "c06_comparison_not_assignment.py": {"FRZ06": {6, 12, 16}},
    "c07_buffers.py": {"FRZ07": {25, 31, 7, 9}},
    "c08_non_leaf.py": {"FRZ05": {13}, "FRZ08": {15, 17, 19}},
    "c10_eval_nograd_not_freeze.py": {"FRZ10": {59, 66, 70}},
    "c11_batchnorm_freeze.py": {"FRZ11": {70}},
    "c12_name_filters.py": {"FRZ12": {59, 47, 53, 70}},
    "c14_tied_parameters.py": {"FRZ14": {18, 36, 45, 70}},
    "c15a_load_state_dict.py": {"FRZ15A": {25}},
    "c15c_parameter_registration.py": {"FRZ15C": {10, 11, 12, 35}},
    "c15d_buffers_persistent.py": {"FRZ15D": {10}},
    "c15e_wrapper_prefixes.py": {"FRZ15E": {11, 18, 41}},
    "c16_generator_list_attr.py": {"FRZ16": {6, 8, 10, 12, 14, 46, 49, 51, 54, 57, 28, 30, 32}},
    "c17_optimizer_param_lists.py": {"FRZ17": {28, 34, 37, 46}},
    "c18_checkpoint_frozen_inputs.py": {"FRZ18": {17}},
    "c19_parametrizations.py": {"FRZ19": {11, 29}},
    "c20_embedding_from_pretrained.py": {"FRZ20": {5, 9}},
    "c21_weight_only_freeze.py": {"FRZ21": {5}},
    "c22_compile_freeze_after.py": {"FRZ09": {25}},
    "c23_freeze_all_after_replacing_head.py": {"FRZ23": {15}},
}
# Files whose code works as written (FRZ13, FRZ15f, the verified fixes): nothing to report.
CLEAN = ["c13_requires_grad_inside_no_grad.py", "c15f_module_conversions.py", "c99_quick_fixes.py"]


def _check(name: str) -> CheckResult:
    """As ``paramlens check`` does: with the Module classes imported from ``_common.py``."""
    path = CASES / name
    source = path.read_text(encoding="utf-8")
    classes = workspace_module_classes(str(path), source, str(CASES))
    return check_source(source, path=str(path), module_classes=classes)


def _found(name: str) -> dict[str, set[int]]:
    result = _check(name)
    assert result.syntax_error is None
    found: dict[str, set[int]] = {}
    for finding in result.findings:
        found.setdefault(finding.code, set()).add(finding.span.start_line + 1)
    return found


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_case_file_yields_at_least_the_reference_detections(name: str) -> None:
    found = _found(name)
    for code, lines in REFERENCE[name].items():
        missing = lines - found.get(code, set())
        assert not missing, f"{name}: {code} missing at lines {sorted(missing)}"


@pytest.mark.parametrize("name", CLEAN)
def test_working_case_files_yield_nothing(name: str) -> None:
    result = _check(name)
    assert result.findings == ()


def test_common_module_classes_come_from_the_star_import() -> None:
    source = (CASES / "c03_module_requires_grad_attr.py").read_text(encoding="utf-8")
    classes = workspace_module_classes(str(CASES / "c03.py"), source, str(CASES))
    assert {"Net", "make"} <= classes


def test_every_case_file_is_covered() -> None:
    names = {p.name for p in CASES.glob("c*.py")}
    assert names == set(REFERENCE) | set(CLEAN) | {
        "c09_freeze_after_optimizer.py",  # freezes in a helper; reference: no diagnostics
        "c15b_deepcopy.py",  # steps inside a helper of another file; reference: none
    }


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_fixes_on_case_files_parse_and_only_remove_findings(name: str) -> None:
    path = CASES / name
    source = path.read_text(encoding="utf-8")
    classes = workspace_module_classes(str(path), source, str(CASES))
    before = check_source(source, module_classes=classes).findings
    fixed = fix_all(source, before)
    compile(fixed, name, "exec")
    after = check_source(fixed, module_classes=classes).findings
    fixable = sum(1 for f in before if f.fix is not None)
    assert len(after) <= len(before) - (1 if fixable else 0)
    # A fix can make a statement effective and so newly reportable as info (FRZ21 after `==`).
    assert {f.code for f in after if f.severity is not Severity.INFO} <= {f.code for f in before}
