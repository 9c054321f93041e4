"""Rules that need the real names of a model: the worker's reports joined to the freeze loops.

* FRZ12 — a name filter that matches no name the loop yields, a part of a filter that matches
  nothing, a dotted prefix that over-matches (``'blocks.1'`` also matching ``blocks.10``), a
  ``parameters()`` / ``named_children()`` collection that yields nothing.
* FRZ15E — names that carry a wrapper's prefix (``module.``, ``_orig_mod.``) the filter lacks
  (the static rule's code, so the two never report one loop twice).
* FRZ14 — a filter on the second name of a tied tensor, which ``named_parameters()`` never yields.
* FRZ19 — a filter on the old name of a parametrized weight (``fc1.weight`` is now
  ``fc1.parametrizations.weight.original0``).
* FRZ11 — a loop that freezes a BatchNorm's parameters while its running statistics keep
  updating in train mode (info).

Pure: ``ast`` plus report dicts in, :class:`~paramlens.analysis.findings.Finding` out.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from paramlens.analysis.filters import (
    FilterError,
    ItemInfo,
    NameFilter,
    ParameterIndex,
    compile_filter,
    freeze_effect,
    item_infos,
    loop_filter,
    loop_names,
    module_classes,
    select,
    sink_filters,
)
from paramlens.analysis.findings import Finding, Fix, Severity, Span, TextEdit, span_of
from paramlens.analysis.rules import facts
from paramlens.analysis.source_map import (
    COMPILE_PREFIX,
    FreezeCall,
    FreezeLoop,
    Sink,
    build_source_map,
    dotted_name,
    report_for,
    report_names,
)
from paramlens_worker.protocol import ModelReport, is_variable_report

MAX_LISTED = 4
BATCHNORM_CLASSES = frozenset(
    {
        "BatchNorm1d",
        "BatchNorm2d",
        "BatchNorm3d",
        "SyncBatchNorm",
        "LazyBatchNorm1d",
        "LazyBatchNorm2d",
        "LazyBatchNorm3d",
    }
)
_PARAMETRIZED = re.compile(r"^(?P<module>(?:.*\.)?)parametrizations\.(?P<name>[^.]+)\.original\d*$")


def runtime_findings(
    tree: ast.Module, source: str, reports: Sequence[ModelReport], path: Optional[str]
) -> list[Finding]:
    """The runtime-aware findings of one file, given the worker's reports of its models."""
    names = report_names(reports)
    source_map = build_source_map(tree, source, names.modules, variables=names.variables)
    lines = source.splitlines()
    eval_receivers = _eval_receivers(tree)
    keeping_eval = facts.classes_keeping_eval(tree)
    findings: list[Finding] = []
    for loop in source_map.loops:
        report = report_for(reports, loop.object, None if loop.imported else path)
        if report is None or report.get("status") != "ok":
            continue
        findings.extend(_LoopCheck(loop, report, lines).findings())
        if loop.object in keeping_eval:
            continue
        finding = _batchnorm_finding(loop, report, eval_receivers)
        if finding is not None:
            findings.append(finding)
    for call in source_map.freeze_calls:
        report = report_for(reports, call.object, None if call.imported else path)
        if report is None or report.get("status") != "ok" or call.object in keeping_eval:
            continue
        finding = _batchnorm_call_finding(call, report, eval_receivers)
        if finding is not None:
            findings.append(finding)
    unique: dict[tuple[str, Span], Finding] = {}
    for finding in findings:
        # an if/else over one test reports that test once
        unique.setdefault((finding.code, finding.span), finding)
    return sorted(unique.values(), key=lambda f: (f.span, f.code))


def _eval_receivers(tree: ast.Module) -> set[str]:
    """Dotted receivers of every ``X.eval()`` / ``X.train(False)`` call in the file."""
    receivers: set[str] = set()
    for node in facts.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and (
                node.func.attr == "eval"
                or (
                    node.func.attr == "train"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value is False
                )
            )
        ):
            name = dotted_name(node.func.value)
            if name:
                receivers.add(name)
    return receivers


def _listing(names: Sequence[str], limit: int = MAX_LISTED) -> str:
    shown = ", ".join(names[:limit])
    return shown + (", …" if len(names) > limit else "")


def _noun(loop: FreezeLoop, count: int) -> str:
    if loop.method in ("named_buffers", "buffers"):
        word = "buffer"
    elif loop.method in ("named_children", "children"):
        word = "child module"
    elif loop.method in ("named_modules", "modules"):
        word = "module"
    else:
        word = "parameter"
    return word if count == 1 else word + "s"


def _effect_verb(sink: Sink) -> str:
    if sink.value is True:
        return "unfrozen"
    if sink.value is False:
        return "frozen"
    return "changed"


def _wrapper_label(prefix: str) -> str:
    return "torch.compile" if prefix.startswith(COMPILE_PREFIX) else "DataParallel/DDP"


class _LoopCheck:
    """The name-filter findings of one loop on one model."""

    def __init__(self, loop: FreezeLoop, report: ModelReport, lines: Sequence[str]) -> None:
        self.loop = loop
        self.report = report
        self.lines = lines
        self.items = loop_names(loop, report)
        self.names = [seen for seen, _ in self.items]
        self.infos = item_infos(loop, report)
        # a variable's model as the code names it: ``net``, not its report's ``main.net``
        self.model = str(report.get("object"))
        if is_variable_report(report):
            self.model = self.model.rsplit(".", 1)[-1]
        self.index = ParameterIndex.of(report)

    def span(self, node: ast.AST) -> Span:
        return span_of(node, self.lines)

    def yielded(self) -> str:
        """``Net (6 parameters: fc1.weight, …)``: what the loop iterates, with its names."""
        count = len(self.names)
        classes = module_classes(self.report)
        shown = [name or "''" for name in self.names]
        listed = f"{count} {_noun(self.loop, count)}: {_listing(shown)}"
        path = self.loop.receiver_path
        if is_variable_report(self.report):
            # ``net (Transformer, 34 parameters: …)``
            owner = ".".join(p for p in (self.model, path) if p)
            kind = classes.get(path)
            return f"{owner} ({kind}, {listed})" if kind else f"{owner} ({listed})"
        root = classes.get("")
        model = self.model if root in (None, self.model) else f"{self.model}() → {root}"
        owner = ".".join(p for p in (model, path) if p)
        return f"{owner} ({listed})"

    def findings(self) -> Iterator[Finding]:
        loop = self.loop
        if not self.names and self._receiver_is_module():
            yield from self._empty_collection()
            return
        for sink in loop.sinks:
            yield from self._dead_value_atoms(sink)
            if not sink.conditions or not any(
                facts.mentions(test, loop.name_var) for test, _ in sink.conditions
            ):
                continue
            filters = sink_filters(loop, sink)
            if filters is None:
                yield from self._dead_atoms(sink, None)  # parts known only at run time
                continue
            try:
                hits = select(filters, self.names, self.infos)
            except FilterError:
                continue
            if not hits and any(expected for _, expected in sink.conditions):
                yield self._no_match(sink, filters)
                continue
            dead = list(self._dead_atoms(sink, hits))
            yield from dead
            yield from self._dead_elements(sink)
            yield from self._over_match(sink, hits)
            if not any(f.code == "FRZ14" for f in dead):
                yield from self._tied_partial(sink, filters, hits)

    def _receiver_is_module(self) -> bool:
        path = self.loop.receiver_path
        return not path or path in module_classes(self.report)

    def _empty_collection(self) -> Iterator[Finding]:
        loop = self.loop
        if loop.method not in ("parameters", "named_parameters", "named_children", "children"):
            return
        if not any(sink.value is False for sink in loop.sinks):
            return
        receiver = ".".join(p for p in (loop.receiver, loop.receiver_path) if p)
        call = f"{receiver}.{loop.method}({'' if loop.recurse else 'recurse=False'})"
        total = len(self.index.numel)
        what = "child modules" if "children" in loop.method else "parameters"
        if not loop.recurse and total:
            why = f"all {total} parameters of {self.model} sit in submodules"
        else:
            where = (
                module_classes(self.report).get(loop.receiver_path, self.model)
                if loop.receiver_path
                else self.model
            )
            why = f"{where} has no {what}"
        yield Finding(
            code="FRZ12",
            message=f"`{call}` yields nothing: {why}; nothing is frozen",
            severity=Severity.WARNING,
            span=loop.iter_span,
        )

    def _condition_node(self, sink: Sink) -> ast.expr:
        """The condition to underline: the first that selects nothing alone, else the last."""
        loop = self.loop
        for test, expected in sink.conditions:
            compiled = loop_filter(loop, test)
            if compiled is None or not facts.mentions(test, loop.name_var):
                continue
            try:
                if not select([(compiled, expected)], self.names, self.infos):
                    return test
            except FilterError:
                continue
        return sink.conditions[-1][0]

    def _no_match(self, sink: Sink, filters: list[tuple[NameFilter, bool]]) -> Finding:
        node = self._condition_node(sink)
        verb = _effect_verb(sink)
        return self._explain(node, filters, f"nothing is {verb}", Severity.WARNING)

    def _explain(
        self,
        node: ast.expr,
        filters: list[tuple[NameFilter, bool]],
        outcome: str,
        severity: Severity,
        label: Optional[str] = None,
    ) -> Finding:
        """Why ``filters`` (the condition at ``node``, shown as ``label``) match no name: a
        wrapper's prefix, a tied alias, a parametrized weight, or plainly no such name."""
        loop = self.loop
        text = label or ast.unparse(node)
        span = self.span(node)
        # Other name lists would give other enumerate() positions: then say it plainly.
        explain = loop.index_var is None
        if explain and loop.prefix and not loop.receiver_path:
            bare = [name[len(loop.prefix) :] for name in self.names if name.startswith(loop.prefix)]
            would = _safe_select(filters, bare)
            if would:
                return Finding(
                    code="FRZ15E",
                    message=(
                        f"`{text}` matches no parameter: {_wrapper_label(loop.prefix)} prefixes "
                        f"every name with '{loop.prefix}' ({_listing(self.names)}); "
                        f"it would match {_listing(would)} without the prefix; {outcome}"
                    ),
                    severity=severity,
                    span=span,
                )
        if explain and loop.method == "named_parameters" and loop.remove_duplicate:
            aliases = self._unyielded_aliases()
            would = _safe_select(filters, [seen for seen, _ in aliases])
            if would:
                tied = self._tied_listing(aliases, would)
                return Finding(
                    code="FRZ14",
                    message=(
                        f"`{text}` matches only tied names that named_parameters() never yields "
                        f"({_listing(tied)}); the tensor is yielded once under its first name; "
                        f"{outcome}"
                    ),
                    severity=severity,
                    span=span,
                )
        if explain and loop.method == "named_parameters":
            renamed = self._parametrized_names()
            would = _safe_select(filters, list(renamed))
            if would:
                real = [n for w in would for n in renamed[w]]
                return Finding(
                    code="FRZ19",
                    message=(
                        f"`{text}` matches no parameter: {_listing(would)} is parametrized and "
                        f"named_parameters() yields {_listing(real)} instead; {outcome}"
                    ),
                    severity=severity,
                    span=span,
                )
        return Finding(
            code="FRZ12",
            message=f"`{text}` matches no {_noun(loop, 1)} of {self.yielded()}; {outcome}",
            severity=severity,
            span=span,
        )

    def _unyielded_aliases(self) -> list[tuple[str, str]]:
        """(name as the loop would see it, full name) of tied names named_parameters() skips."""
        loop = self.loop
        yielded = {full for _, full in self.items}
        path = loop.receiver_path
        cut = len(path) + 1 if path else 0
        result: list[tuple[str, str]] = []
        for name in self.index.under(path):
            if name in yielded:
                continue
            seen = name[cut:]
            if loop.prefix and not path:
                seen = loop.prefix + seen
            if loop.name_prefix:
                seen = f"{loop.name_prefix}.{seen}"
            result.append((seen, name))
        return result

    def _tied_listing(self, aliases: Sequence[tuple[str, str]], names: Sequence[str]) -> list[str]:
        """``lm_head.weight is embed.weight`` for each alias (as the loop sees it) in names."""
        full = dict(aliases)
        return [f"{n} is {self.index.canonical[full[n]]}" for n in names]

    def _parametrized_names(self) -> dict[str, list[str]]:
        """Old name (``fc1.weight``) -> the names a parametrization gave it."""
        renamed: dict[str, list[str]] = {}
        for seen in self.names:
            match = _PARAMETRIZED.match(seen)
            if match:
                old = match.group("module") + match.group("name")
                renamed.setdefault(old, []).append(seen)
        return renamed

    def _dead_atoms(self, sink: Sink, hits: Optional[Sequence[str]]) -> Iterator[Finding]:
        """Parts of a filter that match no name while the whole filter matches some: an
        alternative of an ``or``, a negated test (``if 'head' in n: continue``). ``hits`` None:
        other parts of the filter are known only at run time (``name.startswith(prefix)``,
        ``prefix`` a parameter); a part that matches nothing still does nothing."""
        loop = self.loop
        for test, expected in sink.conditions:
            for atom, negated in _alternatives(test, inside=not expected):
                if not self._matches_nothing(atom):
                    continue
                compiled = loop_filter(loop, atom)
                assert compiled is not None
                excludes = negated != (not expected)
                if hits is None:
                    outcome = (
                        "it excludes nothing"
                        if excludes
                        else "this part of the filter does nothing, whatever the rest matches"
                    )
                else:
                    count = f"{len(hits)} of {len(self.names)} {_noun(loop, len(self.names))}"
                    verb = _effect_verb(sink)
                    outcome = (
                        f"it excludes nothing, so {count} are {verb}"
                        if excludes
                        else f"this part of the filter does nothing ({count} {verb} by the rest)"
                    )
                yield self._explain(atom, [(compiled, True)], outcome, Severity.WARNING)

    def _dead_elements(self, sink: Sink) -> Iterator[Finding]:
        """Elements of a literal list in a filter (``name in ("stem", "stage3")``,
        ``startswith(("a", "b"))``, ``any(k in name for k in KEYS)``) that match no name while
        the rest of the list matches some."""
        loop = self.loop
        tests = [test for test, _ in sink.conditions]
        if sink.value_expr is not None:
            tests.append(sink.value_expr)
        for test in tests:
            for atom, _ in _alternatives(test, inside=True):
                if not facts.mentions(atom, loop.name_var) or self._matches_nothing(atom):
                    continue
                for element, where, variant in _element_variants(atom, loop.constants):
                    if not facts.mentions(variant.expr, loop.name_var):
                        continue
                    compiled = compile_filter(
                        variant.expr,
                        loop.name_var,
                        variant.constants,
                        loop.item_var,
                        loop.class_bases,
                        loop.index_var,
                    )
                    if compiled is None or _safe_select([(compiled, True)], self.names, self.infos):
                        continue
                    label = repr(element)
                    if isinstance(where, ast.Name):
                        label += f" (in {where.id})"
                    yield self._explain(
                        where,
                        [(compiled, True)],
                        "this element of the filter does nothing",
                        Severity.WARNING,
                        label,
                    )

    def _matches_nothing(self, atom: ast.expr) -> bool:
        """Whether a name-dependent, statically evaluable test is False for every name."""
        if not facts.mentions(atom, self.loop.name_var):
            return False
        compiled = loop_filter(self.loop, atom)
        if compiled is None:
            return False
        try:
            return not select([(compiled, True)], self.names, self.infos)
        except FilterError:
            return False

    def _dead_value_atoms(self, sink: Sink) -> Iterator[Finding]:
        """``p.requires_grad = <expr of the name>`` where a test in the expression matches
        no name: the value never depends on it."""
        loop = self.loop
        if sink.value_expr is None or not facts.mentions(sink.value_expr, loop.name_var):
            return
        value = loop_filter(loop, sink.value_expr)
        if value is None:
            return
        try:
            frozen = [n for n in self.names if not value(n, self.infos.get(n))]
        except FilterError:
            return
        noun = _noun(loop, len(self.names))
        if len(frozen) == len(self.names):
            outcome = f"the value is False for every name: all {len(frozen)} {noun} are frozen"
        elif not frozen:
            outcome = (
                f"the value is True for every name: none of the {len(self.names)} {noun} is frozen"
            )
        else:
            outcome = f"this part of the expression does nothing ({len(frozen)} {noun} frozen)"
        for atom, _ in _alternatives(sink.value_expr, inside=True):
            if self._matches_nothing(atom):
                compiled = loop_filter(loop, atom)
                assert compiled is not None
                yield self._explain(atom, [(compiled, True)], outcome, Severity.WARNING)

    def _over_match(self, sink: Sink, hits: Sequence[str]) -> Iterator[Finding]:
        loop = self.loop
        for test, expected in sink.conditions:
            if not expected:
                continue
            for literal in _prefix_literals(test, loop.name_var):
                text = str(literal.value)
                if not text[-1:].isdigit():
                    continue
                follow = re.compile(re.escape(text) + r"(?P<next>.?)")
                over = []
                intended = []
                for name in hits:
                    nexts = [m.group("next") for m in follow.finditer(name)]
                    if not nexts:
                        continue
                    if all(n.isdigit() for n in nexts):
                        over.append(name)
                    else:
                        intended.append(name)
                if not over:
                    continue
                fix = None
                if intended and all(f"{text}." in name for name in intended):
                    fixed = ast.unparse(ast.Constant(text + "."))
                    fix = Fix(
                        title=f"Match only '{text}.' (not {_listing(_stems(over, text), 2)})",
                        edits=(TextEdit(self.span(literal), fixed),),
                    )
                yield Finding(
                    code="FRZ12",
                    message=(
                        f"'{text}' also matches {_listing(over)} ({len(over)} "
                        f"{_noun(loop, len(over))} over-matched); "
                        f"use '{text}.' to match only {text}"
                    ),
                    severity=Severity.WARNING,
                    span=self.span(literal),
                    fix=fix,
                )

    def _tied_partial(
        self, sink: Sink, filters: list[tuple[NameFilter, bool]], hits: Sequence[str]
    ) -> Iterator[Finding]:
        loop = self.loop
        if loop.method != "named_parameters" or not loop.remove_duplicate:
            return
        aliases = self._unyielded_aliases()
        full = dict(aliases)
        would = _safe_select(filters, [seen for seen, _ in aliases])
        by_seen = dict(self.items)
        hit_tensors = {self.index.canonical[by_seen[h]] for h in hits if h in by_seen}
        missed = [n for n in would if self.index.canonical[full[n]] not in hit_tensors]
        if not missed:
            return
        node = self._condition_node(sink)
        tied = self._tied_listing(aliases, missed)
        yield Finding(
            code="FRZ14",
            message=(
                f"`{ast.unparse(node)}` also names tied parameters that named_parameters() "
                f"yields under their first name only ({_listing(tied)}); those stay as they are"
            ),
            severity=Severity.INFO,
            span=self.span(node),
        )


def _safe_select(
    filters: list[tuple[NameFilter, bool]],
    names: Sequence[str],
    infos: Optional[Mapping[str, ItemInfo]] = None,
) -> list[str]:
    try:
        return select(filters, names, infos)
    except FilterError:
        return []


@dataclass(frozen=True)
class _Variant:
    expr: ast.expr
    constants: Mapping[str, Any]


def _element_variants(
    atom: ast.expr, constants: Mapping[str, Any]
) -> Iterator[tuple[str, ast.expr, _Variant]]:
    """(element, node to underline, the atom with only that element) for each string element
    of a literal collection (or list constant) the atom tests the name against."""
    nodes = list(ast.walk(atom))
    for index, node in enumerate(nodes):
        collection: Optional[ast.expr] = None
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.In):
            collection = node.comparators[0]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("startswith", "endswith")
            and len(node.args) == 1
        ):
            collection = node.args[0]
        elif isinstance(node, ast.GeneratorExp) and len(node.generators) == 1:
            collection = node.generators[0].iter
        if collection is None:
            continue
        position = nodes.index(collection, index)
        if isinstance(collection, (ast.Tuple, ast.List, ast.Set)):
            elements = [
                e
                for e in collection.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            ]
            if len(elements) < 2 or len(elements) != len(collection.elts):
                continue
            for element in elements:
                variant = copy.deepcopy(atom)
                target = list(ast.walk(variant))[position]
                assert isinstance(target, (ast.Tuple, ast.List, ast.Set))
                target.elts = [ast.Constant(element.value)]
                yield str(element.value), element, _Variant(variant, constants)
        elif isinstance(collection, ast.Name) and isinstance(
            constants.get(collection.id), (list, tuple, set, frozenset)
        ):
            values = constants[collection.id]
            if len(values) < 2 or not all(isinstance(v, str) for v in values):
                continue
            for value in values:
                patched = {**constants, collection.id: type(values)([value])}
                yield str(value), collection, _Variant(atom, patched)


def _stems(names: Sequence[str], text: str) -> list[str]:
    stems: list[str] = []
    for name in names:
        match = re.search(re.escape(text) + r"\d+", name)
        if match and match.group(0) not in stems:
            stems.append(match.group(0))
    return stems


def _alternatives(test: ast.expr, inside: bool = False) -> Iterator[tuple[ast.expr, bool]]:
    """(atom, negated) for the atoms that sit in an ``or`` or under a ``not`` — every atom when
    ``inside`` (an ``and`` of atoms is checked whole, as the condition itself)."""

    def walk(node: ast.expr, inside: bool, negated: bool) -> Iterator[tuple[ast.expr, bool]]:
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                yield from walk(value, inside or isinstance(node.op, ast.Or), negated)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield from walk(node.operand, True, not negated)
        elif (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and isinstance(node.ops[0], (ast.NotIn, ast.NotEq))
        ):
            # `name not in KEEP` is `not (name in KEEP)`: an exclusion that may exclude nothing
            op: ast.cmpop = ast.In() if isinstance(node.ops[0], ast.NotIn) else ast.Eq()
            positive = ast.copy_location(ast.Compare(node.left, [op], node.comparators), node)
            yield from walk(positive, True, not negated)
        elif inside:
            yield node, negated

    return walk(test, inside, False)


def _prefix_literals(test: ast.expr, name_var: Optional[str]) -> Iterator[ast.Constant]:
    """String literals used as ``'x' in name`` or ``name.startswith('x' | ('x', ...))``."""
    for node in ast.walk(test):
        if (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and isinstance(node.ops[0], ast.In)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
            and facts.mentions(node.comparators[0], name_var)
        ):
            yield node.left
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "startswith"
            and facts.mentions(node.func.value, name_var)
            and node.args
        ):
            arg = node.args[0]
            elements = arg.elts if isinstance(arg, (ast.Tuple, ast.List)) else [arg]
            for element in elements:
                if isinstance(element, ast.Constant) and isinstance(element.value, str):
                    yield element


def _batchnorm_finding(
    loop: FreezeLoop, report: ModelReport, eval_receivers: set[str]
) -> Optional[Finding]:
    """FRZ11: the loop freezes every parameter of a BatchNorm that stays in train mode."""
    if loop.calls_eval:
        return None
    effect = freeze_effect(loop, report)
    if effect is None or not effect.frozen:
        return None
    hit = _frozen_batchnorms(report, set(effect.frozen), "", loop.receiver, eval_receivers)
    return _batchnorm_info(hit, loop.span)


def _batchnorm_call_finding(
    call: FreezeCall, report: ModelReport, eval_receivers: set[str]
) -> Optional[Finding]:
    """FRZ11 for ``model.requires_grad_(False)`` / ``model.bn.requires_grad_(False)``."""
    if call.value is not False:
        return None
    index = ParameterIndex.of(report)
    frozen = {index.canonical[n] for n in index.under(call.receiver_path)}
    hit = _frozen_batchnorms(report, frozen, call.receiver_path, call.receiver, eval_receivers)
    return _batchnorm_info(hit, call.span)


def _frozen_batchnorms(
    report: ModelReport, frozen: set[str], under: str, receiver: str, eval_receivers: set[str]
) -> list[str]:
    """``bn (BatchNorm1d)`` for each BatchNorm below ``under`` whose parameters are all in
    ``frozen``, that keeps running statistics and that no ``.eval()`` call in the file names."""
    if receiver in eval_receivers:
        return []
    index = ParameterIndex.of(report)
    buffers = {b["name"] for b in report.get("buffers") or []}
    hit: list[str] = []
    for module, cls in module_classes(report).items():
        if cls not in BATCHNORM_CLASSES or not module:
            continue
        if under and not (module == under or module.startswith(under + ".")):
            continue
        tensors = {index.canonical[n] for n in index.under(module)}
        if not tensors or not tensors <= frozen or f"{module}.running_mean" not in buffers:
            continue
        if f"{receiver}.{module}" in eval_receivers:
            continue
        hit.append(f"{module} ({cls})")
    return hit


def _batchnorm_info(hit: Sequence[str], span: Span) -> Optional[Finding]:
    if not hit:
        return None
    return Finding(
        code="FRZ11",
        message=(
            f"freezes the affine parameters of {_listing(hit)}, but running_mean/running_var "
            "keep updating on every train-mode forward; call .eval() on the BatchNorm layers "
            "(again after each model.train()) to freeze the statistics too"
        ),
        severity=Severity.INFO,
        span=span,
    )
