"""The catalogue of freeze rules: one stable code per pitfall of ``FREEZE_PITFALLS.md``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from paramlens.analysis.findings import Severity
from paramlens.records import NamedTuple

SYNTAX_ERROR_CODE = "FRZ000"


class RuleInfo(NamedTuple):
    """What the CLI, the docs and the language server show about one rule."""

    code: str
    name: str
    severity: Severity  # the usual severity; some findings of a rule are milder or worse
    summary: str


_W, _E, _I = Severity.WARNING, Severity.ERROR, Severity.INFO

_RULES = (
    RuleInfo(SYNTAX_ERROR_CODE, "syntax-error", _E, "the file does not parse; no rule ran"),
    RuleInfo(
        "FRZ01",
        "state-dict-requires-grad",
        _W,
        "requires_grad set or read on state_dict() values, which are detached copies",
    ),
    RuleInfo(
        "FRZ02",
        "keep-vars-unfreeze",
        _W,
        "unfreezing through state_dict(keep_vars=True) also reaches integer buffers",
    ),
    RuleInfo(
        "FRZ03",
        "module-requires-grad-attribute",
        _W,
        "module.requires_grad = ... sets a plain attribute; use module.requires_grad_()",
    ),
    RuleInfo(
        "FRZ04",
        "requires-grad-misspelt",
        _W,
        "misspelt, shadowed, uncalled or non-bool requires_grad",
    ),
    RuleInfo(
        "FRZ05",
        "detached-alias",
        _W,
        "requires_grad changed on .data, .detach(), .clone() or a converted copy",
    ),
    RuleInfo(
        "FRZ06",
        "comparison-not-assignment",
        _W,
        "p.requires_grad == False compares and discards the result",
    ),
    RuleInfo(
        "FRZ07",
        "buffer-requires-grad",
        _I,
        "requires_grad on buffers: False changes nothing, True breaks the forward",
    ),
    RuleInfo(
        "FRZ08",
        "non-leaf-requires-grad",
        _E,
        "requires_grad changed on a slice, view or computed tensor (not a leaf)",
    ),
    RuleInfo(
        "FRZ09",
        "freeze-after-optimizer",
        _I,
        "parameters frozen after the optimizer was built over them",
    ),
    RuleInfo(
        "FRZ10",
        "mode-is-not-freeze",
        _W,
        "model.training / .train / .eval slips, and backward() on a no_grad result",
    ),
    RuleInfo(
        "FRZ11",
        "batchnorm-isinstance",
        _I,
        "BatchNorm statistics that keep updating: frozen layers left in train mode, "
        "isinstance(m, nn.BatchNorm2d), model.train() after their eval()",
    ),
    RuleInfo(
        "FRZ12",
        "name-filter",
        _W,
        "a name filter in a named_parameters() loop that matches nothing or too much",
    ),
    RuleInfo(
        "FRZ14",
        "tied-duplicates",
        _I,
        "tied parameters: remove_duplicate=False lists, freezing one alias of a tie",
    ),
    RuleInfo(
        "FRZ15A",
        "load-state-dict",
        _W,
        "load_state_dict(assign=True) after the optimizer; ignored strict=False result",
    ),
    RuleInfo(
        "FRZ15B",
        "model-rebound-after-optimizer",
        _W,
        "the model variable is rebound after its optimizer was built",
    ),
    RuleInfo(
        "FRZ15C",
        "unregistered-parameter",
        _W,
        "tensors or lists that nn.Module does not register, or a Parameter replaced late",
    ),
    RuleInfo(
        "FRZ15D",
        "buffer-requires-grad-registration",
        _W,
        "register_buffer() of a tensor that requires grad: never optimized",
    ),
    RuleInfo(
        "FRZ15E",
        "wrapper-prefix",
        _W,
        "name filters without the wrapper prefix; freezing after DDP wrapping",
    ),
    RuleInfo(
        "FRZ16",
        "generator-requires-grad",
        _E,
        "requires_grad on a generator or list, lazy iterators, loop-unpacking slips",
    ),
    RuleInfo(
        "FRZ17",
        "optimizer-parameter-list",
        _E,
        "exhausted parameter generators, uncalled parameters, unfreeze after a filter",
    ),
    RuleInfo(
        "FRZ18",
        "reentrant-checkpoint",
        _I,
        "reentrant activation checkpointing gets no gradients behind frozen layers",
    ),
    RuleInfo(
        "FRZ19",
        "parametrized-weight",
        _E,
        "requires_grad on a parametrized (weight_norm, spectral_norm) weight",
    ),
    RuleInfo(
        "FRZ20",
        "embedding-from-pretrained",
        _I,
        "Embedding.from_pretrained() freezes unless freeze=False is passed",
    ),
    RuleInfo(
        "FRZ21",
        "weight-only-freeze",
        _I,
        "only .weight of a layer is frozen; its .bias keeps training",
    ),
    RuleInfo(
        "FRZ23",
        "freeze-after-head-replacement",
        _W,
        "a blanket freeze after replacing the head freezes the new head too",
    ),
)

RULES: Mapping[str, RuleInfo] = MappingProxyType({rule.code: rule for rule in _RULES})


def normalize_code(code: str) -> str:
    """``frz15a`` -> ``FRZ15A``; codes are matched case-insensitively."""
    return code.strip().upper()


def is_enabled(code: str, select: Sequence[str], ignore: Sequence[str]) -> bool:
    """Ruff-like selection: a code is on when some ``select`` entry is a prefix of it (or
    ``select`` is empty / ``ALL``) and no ``ignore`` entry is a prefix of it."""
    code = normalize_code(code)

    def matches(patterns: Iterable[str]) -> bool:
        return any(p == "ALL" or code.startswith(p) for p in map(normalize_code, patterns) if p)

    if select and not matches(select):
        return False
    return not matches(ignore)
