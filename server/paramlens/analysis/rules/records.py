"""The named tuples of the rule engine: what names hold, where requires_grad is set, what a
helper does to its arguments, and the records the facts and API rules keep per statement.

They live apart from the modules that use them because a build compiled with mypyc (see
``setup.py`` and ``docs/ARCHITECTURE.md``) makes a ``NamedTuple`` class through ``typing``,
whose import would cost every start of ``paramlens check`` more than the class saves; this
module always runs interpreted, and its classes are the same in both builds.
"""

from __future__ import annotations

from paramlens.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Optional

    from paramlens.analysis import syntax as ast
    from paramlens.analysis.rules.engine import Kind


class Binding(NamedTuple):
    """What a name or an expression holds, and where it came from."""

    kind: Kind
    root: Optional[str] = None  # the model variable it derives from (`model` in model.fc1)
    node: Optional[ast.AST] = None  # the producing expression (a call, a loop's iterable)
    origin: Optional[ast.AST] = None  # for loop elements: the call they come from
    detail: str = ""  # method name, wrapper prefix, optimizer class, ...
    filtered: bool = False  # OPTIMIZER: built from a requires_grad filter
    roots: frozenset[str] = frozenset()  # OPTIMIZER: every model it was given


class Sink(NamedTuple):
    """Where ``requires_grad`` is set: ``X.requires_grad = V`` or ``X.requires_grad_(V)``."""

    node: ast.AST  # the Assign statement or the Call
    receiver: ast.expr
    value: Optional[ast.expr]  # None: requires_grad_() without argument (means True)
    form: str  # "assign" | "call"
    flag: Optional[bool]  # the constant set; None when not a constant bool
    target: Optional[ast.Attribute] = None  # the `.requires_grad` attribute of the assign form
    used: bool = False  # call form whose result is used (`t = x.detach().requires_grad_()`)


class HelperSummary(NamedTuple):
    """What a top-level function does to each of its parameters."""

    params: tuple[str, ...]
    freezes: frozenset[int]  # indexes of parameters whose parameters it sets requires_grad False
    unfreezes: frozenset[int]
    steps: frozenset[int] = frozenset()  # indexes of parameters it calls .step() on (optimizers)
    # indexes of the parameters it puts submodules of in eval mode (``m.eval()`` over
    # ``param.modules()``, ``param.bn.eval()``), and those it calls ``.train()`` on
    evals: frozenset[int] = frozenset()
    trains: frozenset[int] = frozenset()
    # those it may change the modes of otherwise: ``param.apply(fn)``, or passing it on to
    # another function (which may put layers in eval mode)
    hands_on: frozenset[int] = frozenset()


class StatementFacts(NamedTuple):
    """What top-level statements (and the statements in them) give the facts."""

    imports: tuple[tuple[str, str], ...]  # in the order :func:`statements` visits them
    classes: tuple[ast.ClassDef, ...]
    stored_attrs: frozenset[str]
    freezes: bool


class ClassAttrs(NamedTuple):
    """What a Module class's methods give the facts."""

    ties: tuple[tuple[str, str, int], ...]  # (one, other, line after the class's), in order
    submodules: tuple[tuple[str, ast.Call], ...]  # self.X = <Module constructor>, in order
    parameters: frozenset[str]  # self.X = nn.Parameter(...), register_parameter("X", ...)
    buffers: frozenset[str]  # register_buffer("X", ...)


class Parametrized(NamedTuple):
    """A weight under a parametrization (``weight_norm``, ``spectral_norm``, ``orthogonal``,
    ``register_parametrization``), for the API rules."""

    root: Optional[str]
    module: str  # source text of the module
    name: str  # the parametrized attribute
    line: int
    how: str
    new_api: bool
