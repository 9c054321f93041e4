"""Pure rendering of model reports: hover text, code lens titles and the full summary table.

Everything returns plain strings (Markdown, or plain text for clients that ask for it); the
language server wraps them in LSP types. Counts use thousands separators; long tables are capped
and say how many rows were left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from paramlens.analysis.filters import FreezeEffect, freeze_effect, loop_names
from paramlens.analysis.source_map import HoverTarget
from paramlens_worker.protocol import (
    BufferInfo,
    ModelReport,
    ParameterInfo,
    is_variable_report,
    module_class,
)

MAX_ROWS = 40
SUMMARY_MAX_ROWS = 5000
_TENSOR_HEADERS = ("Name", "Shape", "Dtype", "requires_grad", "Kind")


@dataclass
class _Table:
    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]
    hidden: int = 0  # rows left out
    code_columns: tuple[int, ...] = (0,)


@dataclass
class _Doc:
    """A small document: paragraphs and tables, rendered as Markdown or plain text."""

    blocks: list[Union[str, _Table]] = field(default_factory=list)

    def text(self, line: str) -> None:
        self.blocks.append(line)

    def table(self, table: _Table) -> None:
        self.blocks.append(table)

    def markdown(self) -> str:
        parts: list[str] = []
        for block in self.blocks:
            if isinstance(block, str):
                parts.append(block)
                continue
            lines = [
                "| " + " | ".join(block.headers) + " |",
                "|" + "|".join("---" for _ in block.headers) + "|",
            ]
            for row in block.rows:
                cells = [
                    f"`{_escape_cell(cell)}`"
                    if i in block.code_columns and cell
                    else _escape_cell(cell)
                    for i, cell in enumerate(row)
                ]
                lines.append("| " + " | ".join(cells) + " |")
            if block.hidden:
                lines.append("")
                lines.append(f"*… {block.hidden:,} more*")
            parts.append("\n".join(lines))
        return "\n\n".join(parts) + "\n"

    def plaintext(self) -> str:
        parts: list[str] = []
        for block in self.blocks:
            if isinstance(block, str):
                parts.append(_strip_markdown(block))
                continue
            widths = [len(h) for h in block.headers]
            for row in block.rows:
                widths = [max(w, len(c)) for w, c in zip(widths, row)]
            rows = [block.headers, *block.rows]
            lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
            lines.insert(1, "  ".join("-" * w for w in widths))
            if block.hidden:
                lines.append(f"… {block.hidden:,} more")
            parts.append("\n".join(lines))
        return "\n\n".join(parts) + "\n"


def _escape_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _strip_markdown(text: str) -> str:
    return text.replace("**", "").replace("`", "").replace("*", "")


def count(n: Optional[int], noun: str, plural: Optional[str] = None) -> str:
    """``1 param`` / ``58 params`` / ``1,024 params`` (None: ``? params``)."""
    if n is None:
        return f"? {plural or noun + 's'}"
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def shape_text(shape: Optional[Sequence[int]]) -> str:
    """``[4, 12]``; ``uninitialized`` for lazy parameters."""
    return "uninitialized" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def size_text(n_bytes: int) -> str:
    """Bytes as B / KB / MB / GB (powers of 1024)."""
    value = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.2f} {unit}"
        value /= 1024
    return f"{value:,.2f} TB"


def _totals(report: ModelReport) -> dict[str, Any]:
    return dict(report.get("totals") or {})


_NEEDS = "needs constructor arguments"
_MISSING_ARGUMENTS = re.compile(re.escape(_NEEDS) + r" \(([^)]*)\)")
LENS_MAX = 100


def _failure(report: ModelReport, compact: bool = False) -> Optional[str]:
    """Why the model was not built (None when it was); ``compact``: one short line."""
    status = report.get("status")
    error: dict[str, Any] = dict(report.get("error") or {})
    message = str(error.get("message") or "").strip()
    first = message.splitlines()[0] if message else ""
    if status == "needs_arguments":
        if compact:
            missing = _MISSING_ARGUMENTS.search(first)
            head = f"{_NEEDS} ({missing.group(1)})" if missing else _NEEDS
            return head + " — set them in [tool.paramlens.models] or call it in this file"
        if _NEEDS in first:
            return message
        return _NEEDS + (f" — {message}" if message else "")
    if status == "error" or status != "ok":
        kind = error.get("type")
        where = f" (line {error['line']})" if error.get("line") else ""
        text = "failed: " + (f"{kind}: {first}" if kind else first or "unknown error") + where
        if compact and len(text) > LENS_MAX:
            text = text[: LENS_MAX - 1] + "…"
        return text
    return None


def class_lens_title(report: ModelReport) -> str:
    """``58 params · 58 trainable · 7 buffer values``, or why the model could not be built."""
    failure = _failure(report, compact=True)
    if failure is not None:
        return failure
    totals = _totals(report)
    parts = [
        count(totals.get("parameters", 0), "param"),
        f"{totals.get('trainable', 0):,} trainable",
    ]
    lazy = totals.get("lazy_parameters") or 0
    if lazy:
        parts.append(f"{lazy:,} lazy (size unknown)")
    buffers = totals.get("buffers") or 0
    if buffers:
        parts.append(count(buffers, "buffer value"))
    return " · ".join(parts)


def submodule_lens_title(module_entry: dict[str, Any]) -> str:
    """``Linear · 52 params · 52 trainable`` for one ``modules`` entry of a report."""
    cls = module_class(module_entry)
    params = int(module_entry.get("parameters") or 0)
    trainable = int(module_entry.get("trainable") or 0)
    parts = [cls] if cls else []
    if not params:
        parts.append("no parameters")
    else:
        parts.append(count(params, "param"))
        if trainable == params:
            parts.append(f"{trainable:,} trainable")
        elif trainable == 0:
            parts.append("all frozen")
        else:
            parts.append(f"{trainable:,} trainable · {params - trainable:,} frozen")
    buffers = module_entry.get("buffers")
    if buffers:
        parts.append(count(int(buffers), "buffer value"))
    return " · ".join(parts)


def freeze_loop_lens_title(effect: FreezeEffect) -> str:
    """``freezes 2 of 4 parameter tensors · 52 of 58 parameters``: what a freeze loop does."""
    total_t = effect.total_tensors
    total_e = effect.total_elements
    if effect.kind == "buffers":
        matched = len(effect.matched)
        return (
            f"touches {count(matched, 'buffer')} of {len(effect.names):,} · "
            "buffers are not trained: no parameter changes"
        )
    parts: list[str] = []
    if effect.frozen:
        parts.append(
            f"freezes {effect.frozen_tensors:,} of {count(total_t, 'parameter tensor')} · "
            f"{effect.frozen_elements:,} of {count(total_e, 'parameter')}"
        )
    if effect.unfrozen:
        parts.append(
            f"unfreezes {effect.unfrozen_tensors:,} of {count(total_t, 'parameter tensor')} · "
            f"{effect.unfrozen_elements:,} of {count(total_e, 'parameter')}"
        )
    if not parts:
        noun = {"modules": "module"}.get(effect.kind, "parameter")
        return (
            f"changes nothing: matches 0 of {count(len(effect.names), noun)}"
            if not effect.matched
            else f"changes no parameter ({len(effect.matched):,} matched)"
        )
    return " · ".join(parts)


def find_module(report: ModelReport, path: str) -> Optional[dict[str, Any]]:
    """The ``modules`` entry of ``path`` (``""``: the root)."""
    for module in report.get("modules") or []:
        if str(module.get("name", "")) == path:
            return module
    return None


def find_parameter(report: ModelReport, name: str) -> Optional[ParameterInfo]:
    """The parameter named ``name`` (canonical name or tied alias)."""
    for param in report.get("parameters") or []:
        if param["name"] == name or name in (param.get("aliases") or []):
            return param
    return None


def find_buffer(report: ModelReport, name: str) -> Optional[BufferInfo]:
    """The buffer named ``name``."""
    return next((b for b in report.get("buffers") or [] if b["name"] == name), None)


def _param_kind(param: ParameterInfo, shown_as: str) -> str:
    aliases = param.get("aliases") or []
    if shown_as != param["name"]:
        return f"parameter · tied to {param['name']}"
    if aliases:
        return "parameter · tied: " + ", ".join(aliases)
    return "parameter"


def _grad(param: ParameterInfo) -> str:
    return "True" if param.get("requires_grad") else "False (frozen)"


def _buffer_kind(buffer: BufferInfo) -> str:
    return "buffer" if buffer.get("persistent", True) else "buffer · non-persistent"


def _under(name: str, path: str) -> bool:
    return not path or name.startswith(path + ".")


def _relative(name: str, path: str) -> str:
    return name[len(path) + 1 :] if path else name


def _tensor_rows(
    report: ModelReport, path: str, display_prefix: str = "", include_aliases: bool = True
) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for param in report.get("parameters") or []:
        names = (
            [param["name"], *(param.get("aliases") or [])] if include_aliases else [param["name"]]
        )
        for name in names:
            if _under(name, path):
                rows.append(
                    (
                        display_prefix + _relative(name, path),
                        shape_text(param.get("shape")),
                        str(param.get("dtype", "")),
                        _grad(param),
                        _param_kind(param, name),
                    )
                )
    for buffer in report.get("buffers") or []:
        if _under(buffer["name"], path):
            rows.append(
                (
                    display_prefix + _relative(buffer["name"], path),
                    shape_text(buffer.get("shape")),
                    str(buffer.get("dtype", "")),
                    "—",
                    _buffer_kind(buffer),
                )
            )
    return rows


def _yielded_parameters(report: ModelReport, path: str) -> list[tuple[str, ParameterInfo]]:
    """(full name, parameter) as ``named_parameters()`` of the module ``path`` yields them:
    each tensor once, under its first name below ``path``."""
    result: list[tuple[str, ParameterInfo]] = []
    for param in report.get("parameters") or []:
        for name in [param["name"], *(param.get("aliases") or [])]:
            if _under(name, path):
                result.append((name, param))
                break
    return result


def _capped(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]], limit: int) -> _Table:
    return _Table(headers, list(rows[:limit]), max(0, len(rows) - limit))


def _totals_line(report: ModelReport) -> str:
    totals = _totals(report)
    parts = [
        count(totals.get("parameters", 0), "parameter"),
        f"{totals.get('trainable', 0):,} trainable",
    ]
    if totals.get("frozen"):
        parts.append(f"{totals['frozen']:,} frozen")
    buffers = totals.get("buffers") or 0
    if buffers:
        parts.append(count(buffers, "buffer value"))
    lazy = totals.get("lazy_parameters") or 0
    if lazy:
        parts.append(f"{lazy:,} lazy parameter tensors (size unknown)")
    if totals.get("bytes"):
        parts.append(size_text(int(totals["bytes"])))
    return " · ".join(parts)


def _built_line(report: ModelReport) -> str:
    built = report.get("built_as")
    device = report.get("device")
    parts = []
    if built:
        parts.append(f"built as `{built}`")
    if device:
        parts.append(f"on {device}")
    return " ".join(parts)


def _children(report: ModelReport, path: str) -> list[dict[str, Any]]:
    depth = path.count(".") + 1 if path else 0
    return [
        m
        for m in report.get("modules") or []
        if m.get("name") and _under(str(m["name"]), path) and str(m["name"]).count(".") == depth
    ]


def _children_table(report: ModelReport, path: str, limit: int) -> Optional[_Table]:
    children = _children(report, path)
    if not children:
        return None
    rows = [
        (
            _relative(str(m["name"]), path),
            module_class(m),
            f"{int(m.get('parameters') or 0):,}",
            f"{int(m.get('trainable') or 0):,}",
        )
        for m in children
    ]
    return _capped(("Child", "Class", "Params", "Trainable"), rows, limit)


def _module_doc(
    report: ModelReport, path: str, title: str, limit: int, with_children: bool
) -> _Doc:
    doc = _Doc()
    module = find_module(report, path) or {}
    doc.text(title)
    if module.get("repr"):
        doc.text(f"`{module['repr']}`")
    elif module.get("extra_repr"):
        doc.text(f"`{module_class(module)}({module['extra_repr']})`")
    if path:
        params = int(module.get("parameters") or 0)
        trainable = int(module.get("trainable") or 0)
        line = f"{count(params, 'parameter')} · {trainable:,} trainable"
        if params - trainable:
            line += f" · {params - trainable:,} frozen"
        if module.get("buffers"):
            line += f" · {count(int(module['buffers']), 'buffer value')}"
        doc.text(line)
    else:
        doc.text(_totals_line(report))
    if with_children:
        children = _children_table(report, path, limit)
        if children is not None:
            doc.table(children)
    rows = _tensor_rows(report, path)
    if not with_children or not _children(report, path):
        if rows:
            doc.table(_capped(_TENSOR_HEADERS, rows, limit))
    else:
        own = [r for r in rows if "." not in r[0]]
        if own:
            doc.table(_capped(_TENSOR_HEADERS, own, limit))
    return doc


def _hover_doc(target: HoverTarget, report: ModelReport, limit: int) -> Optional[_Doc]:
    failure = _failure(report)
    name = report.get("object", "")
    if failure is not None:
        doc = _Doc()
        doc.text(f"**{name}** — {failure}")
        if target.path:
            doc.text(f"`{target.path}` is unknown until the model can be built.")
        return doc
    if target.kind == "class":
        title = f"**{name}**"
        built = _built_line(report)
        if built:
            title += f" — {built}"
        return _module_doc(report, "", title, limit, with_children=True)
    if target.kind in ("submodule", "attribute_chain"):
        return _path_doc(target, report, limit)
    if target.kind == "collection_call":
        return _collection_doc(target, report, limit)
    if target.kind == "filter_string":
        return _filter_doc(target, report, limit)
    return None


def _variable_label(target: HoverTarget) -> str:
    return ".".join(p for p in (target.variable or "", target.path) if p)


def _path_doc(target: HoverTarget, report: ModelReport, limit: int) -> Optional[_Doc]:
    path = target.path
    label = _variable_label(target)
    module = find_module(report, path)
    if module is not None:
        cls = module_class(module)
        # the root of a class or factory report: its object; of a variable's: its class
        shown = cls if path or is_variable_report(report) else report.get("object")
        title = f"**{label}** — {shown}"
        if not path and target.prefix:
            title += f" (wrapped: names start with `{target.prefix}`)"
        return _module_doc(report, path, title, limit, with_children=True)
    param = find_parameter(report, path)
    if param is not None:
        doc = _Doc()
        doc.text(f"**{label}** — {_param_kind(param, path)}")
        facts = [
            shape_text(param.get("shape")),
            str(param.get("dtype", "")),
            f"requires_grad={param.get('requires_grad')}",
            count(param.get("numel"), "element"),
        ]
        doc.text(" · ".join(facts))
        if path != param["name"]:
            doc.text(
                f"Same tensor as `{param['name']}`: named_parameters() yields it only under "
                "that name; freezing either name freezes both."
            )
        elif param.get("aliases"):
            doc.text("Tied: also reachable as " + ", ".join(f"`{a}`" for a in param["aliases"]))
        if not param.get("requires_grad"):
            doc.text("Frozen: the optimizer leaves it unchanged.")
        return doc
    buffer = find_buffer(report, path)
    if buffer is not None:
        doc = _Doc()
        doc.text(f"**{label}** — {_buffer_kind(buffer)}")
        doc.text(
            " · ".join(
                [
                    shape_text(buffer.get("shape")),
                    str(buffer.get("dtype", "")),
                    count(buffer.get("numel"), "element"),
                ]
            )
        )
        if buffer.get("persistent", True):
            doc.text("Saved in state_dict(); not a parameter: never trained, no requires_grad.")
        else:
            doc.text("Non-persistent: not in state_dict(); not a parameter, never trained.")
        return doc
    return None


def _call_label(target: HoverTarget) -> str:
    args = ""
    if target.method == "state_dict" and target.keep_vars:
        args = "keep_vars=True"
    elif not target.recurse:
        args = "recurse=False"
    return f"{_variable_label(target)}.{target.method}({args})"


def _collection_doc(target: HoverTarget, report: ModelReport, limit: int) -> Optional[_Doc]:
    path = target.path
    if path and find_module(report, path) is None:
        return None
    method = target.method or ""
    shown_prefix = target.prefix if not path else ""
    doc = _Doc()
    label = f"**`{_call_label(target)}`**"
    if method in ("named_parameters", "parameters"):
        yielded = _yielded_parameters(report, path)
        if not target.recurse:
            yielded = [(n, p) for n, p in yielded if "." not in _relative(n, path)]
        rows: list[tuple[str, ...]] = [
            (
                shown_prefix + _relative(n, path),
                shape_text(p.get("shape")),
                str(p.get("dtype", "")),
                _grad(p),
                _param_kind(p, n),
            )
            for n, p in yielded
        ]
        elements = sum(p.get("numel") or 0 for _, p in yielded)
        doc.text(f"{label} yields {count(len(rows), 'parameter')} ({elements:,} elements)")
        skipped = [
            (alias, p["name"])
            for p in report.get("parameters") or []
            for alias in p.get("aliases") or []
            if _under(alias, path)
        ]
        if rows:
            doc.table(_capped(_TENSOR_HEADERS, rows, limit))
        if skipped:
            doc.text(
                "Tied names yielded once, under the first name: "
                + ", ".join(f"`{a}` (= `{n}`)" for a, n in skipped[:MAX_ROWS])
            )
        return doc
    if method in ("named_buffers", "buffers"):
        buffer_rows = [
            r for r in _tensor_rows(report, path, shown_prefix) if r[4].startswith("buffer")
        ]
        if not target.recurse:
            buffer_rows = [r for r in buffer_rows if "." not in r[0][len(shown_prefix) :]]
        doc.text(
            f"{label} yields {count(len(buffer_rows), 'buffer')} (not parameters: never trained)"
        )
        if buffer_rows:
            doc.table(_capped(_TENSOR_HEADERS, buffer_rows, limit))
        return doc
    if method == "state_dict":
        return _state_dict_doc(target, report, limit, label)
    if method in ("named_modules", "modules", "named_children", "children"):
        modules = [
            m
            for m in report.get("modules") or []
            if str(m.get("name")) == path or _under(str(m.get("name")), path)
        ]
        if "children" in method:
            modules = _children(report, path)
        module_rows = [
            (
                (shown_prefix + _relative(str(m["name"]), path)).rstrip(".")
                if m.get("name") != path
                else "",
                module_class(m),
                f"{int(m.get('parameters') or 0):,}",
                f"{int(m.get('trainable') or 0):,}",
            )
            for m in modules
        ]
        doc.text(f"{label} yields {count(len(module_rows), 'module')}")
        if module_rows:
            doc.table(_capped(("Name", "Class", "Params", "Trainable"), module_rows, limit))
        return doc
    return None


def _state_dict_doc(target: HoverTarget, report: ModelReport, limit: int, label: str) -> _Doc:
    path = target.path
    shown_prefix = target.prefix if not path else ""
    doc = _Doc()
    keys = [k for k in report.get("state_dict_keys") or [] if _under(k, path)]
    params = {
        name: p
        for p in report.get("parameters") or []
        for name in [p["name"], *(p.get("aliases") or [])]
    }
    buffers = {b["name"]: b for b in report.get("buffers") or []}
    rows: list[tuple[str, ...]] = []
    for key in keys:
        param = params.get(key)
        display = shown_prefix + _relative(key, path)
        if param is not None:
            grad = _grad(param) if target.keep_vars else "False (detached)"
            rows.append(
                (
                    display,
                    shape_text(param.get("shape")),
                    str(param.get("dtype", "")),
                    grad,
                    _param_kind(param, key),
                )
            )
            continue
        buffer = buffers.get(key)
        if buffer is not None:
            rows.append(
                (
                    display,
                    shape_text(buffer.get("shape")),
                    str(buffer.get("dtype", "")),
                    "—",
                    _buffer_kind(buffer),
                )
            )
    doc.text(f"{label} holds {count(len(rows), 'entry', 'entries')}")
    if target.keep_vars:
        doc.text(
            "keep_vars=True: the values are the parameters themselves; setting requires_grad "
            "on them works."
        )
    else:
        doc.text(
            "The values are detached tensors (requires_grad=False): setting requires_grad on "
            "them changes nothing. Use named_parameters() or state_dict(keep_vars=True)."
        )
    tied = [p for p in report.get("parameters") or [] if p.get("aliases")]
    if tied:
        doc.text(
            "Tied tensors appear once per name: "
            + ", ".join(
                f"`{p['name']}` = " + ", ".join(f"`{a}`" for a in p["aliases"]) for p in tied
            )
        )
    non_persistent = [
        b["name"] for b in report.get("buffers") or [] if not b.get("persistent", True)
    ]
    if non_persistent:
        doc.text("Not included (non-persistent buffers): " + ", ".join(non_persistent[:MAX_ROWS]))
    if rows:
        doc.table(_capped(_TENSOR_HEADERS, rows, limit))
    return doc


def _filter_doc(target: HoverTarget, report: ModelReport, limit: int) -> Optional[_Doc]:
    loop = target.loop
    text = target.text or ""
    doc = _Doc()
    if loop is None:
        return None
    items = loop_names(loop, report)
    names = [seen for seen, _ in items]
    containing = [n for n in names if text in n]
    noun = "name" if len(names) == 1 else "names"
    receiver = ".".join(p for p in (loop.receiver, loop.receiver_path) if p)
    doc.text(f"**'{text}'** — name filter of `{receiver}.{loop.method}()` on {report['object']}")
    if loop.prefix and not loop.receiver_path:
        doc.text(f"The model is wrapped: every name the loop sees starts with `{loop.prefix}`.")
    effect = freeze_effect(loop, report)
    if effect is not None:
        outcome = freeze_loop_lens_title(effect) if effect.matched else "changes nothing"
        doc.text(
            f"The filter matches {len(effect.matched):,} of the {len(names):,} {noun} "
            f"the loop sees; the loop {outcome}."
        )
        shown = list(effect.matched)
    else:
        doc.text(
            f"The filter is not statically evaluable; '{text}' occurs in "
            f"{len(containing):,} of the {len(names):,} {noun} the loop sees."
        )
        shown = containing
    if loop.method == "named_parameters" and loop.remove_duplicate:
        tied = [
            (alias, p["name"])
            for p in report.get("parameters") or []
            for alias in p.get("aliases") or []
            if text in alias and _under(alias, loop.receiver_path)
        ]
        if tied:
            doc.text(
                "Tied names the loop never sees (named_parameters() yields each tensor once): "
                + ", ".join(f"`{a}` is `{n}`" for a, n in tied[:8])
            )
    if shown:
        doc.table(_capped(("Matched name",), [(n,) for n in shown], limit))
    elif names:
        doc.text(
            "Names the loop sees: "
            + ", ".join(f"`{n}`" for n in names[:8])
            + (", …" if len(names) > 8 else "")
        )
    return doc


def hover_markdown(
    target: HoverTarget, report: ModelReport, max_rows: int = MAX_ROWS
) -> Optional[str]:
    """Markdown hover for ``target`` from the report of its model; None if the target's path
    is not a module, parameter or buffer of the model."""
    doc = _hover_doc(target, report, max_rows)
    return doc.markdown() if doc is not None else None


def hover_plaintext(
    target: HoverTarget, report: ModelReport, max_rows: int = MAX_ROWS
) -> Optional[str]:
    """The same hover as plain text (aligned columns), for clients without Markdown."""
    doc = _hover_doc(target, report, max_rows)
    return doc.plaintext() if doc is not None else None


def _summary_doc(report: ModelReport, max_rows: int) -> _Doc:
    doc = _Doc()
    name = report.get("object", "")
    title = f"### {name}"
    built = _built_line(report)
    if built:
        title += f" — {built}"
    doc.text(title)
    failure = _failure(report)
    if failure is not None:
        doc.text(failure)
        return doc
    modules = report.get("modules") or []
    rows: list[tuple[str, ...]] = []
    for module in modules:
        mod_name = str(module.get("name", ""))
        depth = mod_name.count(".") + 1 if mod_name else 0
        label = ("│ " * max(0, depth - 1) + ("└─ " if depth else "")) + (
            mod_name.rsplit(".", 1)[-1] if mod_name else str(name)
        )
        params = int(module.get("parameters") or 0)
        trainable = int(module.get("trainable") or 0)
        rows.append(
            (
                label,
                module_class(module),
                f"{params:,}",
                "—"
                if not params
                else ("True" if trainable == params else ("False" if not trainable else "Partial")),
            )
        )
    if rows:
        table = _capped(("Layer", "Type", "Param #", "Trainable"), rows, max_rows)
        table.code_columns = ()
        doc.table(table)
    tensors = _tensor_rows(report, "")
    if tensors:
        doc.table(_capped(_TENSOR_HEADERS, tensors, max_rows))
    totals = _totals(report)
    lines = [
        f"Total params: {totals.get('parameters', 0):,}",
        f"Trainable params: {totals.get('trainable', 0):,}",
        f"Non-trainable params: {totals.get('frozen', 0):,}",
        f"Parameter tensors: {totals.get('parameter_tensors', 0):,}",
        f"Buffer values: {totals.get('buffers', 0):,} in "
        f"{count(totals.get('buffer_tensors', 0), 'tensor')}",
    ]
    if totals.get("lazy_parameters"):
        lines.append(f"Lazy parameter tensors (size unknown): {totals['lazy_parameters']:,}")
    if totals.get("bytes") is not None:
        by_dtype = totals.get("bytes_by_dtype") or {}
        detail = ", ".join(f"{k} {size_text(int(v))}" for k, v in sorted(by_dtype.items()))
        lines.append(
            f"Params + buffers size: {size_text(int(totals.get('bytes') or 0))}"
            + (f" ({detail})" if detail else "")
        )
    doc.text("  \n".join(lines))
    return doc


def summary_markdown(report: ModelReport, max_rows: int = SUMMARY_MAX_ROWS) -> str:
    """The full table of one model (``paramlens.showSummary``): module tree, every parameter
    and buffer, and the totals, as Markdown."""
    return _summary_doc(report, max_rows).markdown()


def summary_plaintext(report: ModelReport, max_rows: int = SUMMARY_MAX_ROWS) -> str:
    """The same summary as plain text with aligned columns."""
    return _summary_doc(report, max_rows).plaintext().replace("  \n", "\n")
