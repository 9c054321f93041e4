"""``# noqa`` comments and ``select``/``ignore``: which findings a user asked not to see."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from paramlens.analysis.findings import Finding
from paramlens.analysis.rules.registry import is_enabled, normalize_code
from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Optional

_CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def noqa_codes(line: str) -> Optional[frozenset[str]]:
    """The codes a line's ``# noqa`` names; an empty set for a bare ``# noqa``; None if none.

    As ruff reads it: the first ``#`` followed by optional white space and ``noqa`` (in any
    case), then optionally ``:`` and codes separated by spaces, tabs and single commas. (Read by
    hand, not with a pattern: importing ``re`` costs ~2.5 ms of a start of the CLI.)"""
    if "noqa" not in line.lower():
        return None
    at = line.find("#")
    while at != -1:
        start = len(line) - len(line[at + 1 :].lstrip())
        if line[start : start + 4].lower() == "noqa":
            return _codes_after(line, start + 4)
        at = line.find("#", at + 1)
    return None


def _codes_after(line: str, at: int) -> frozenset[str]:
    """The codes of ``: CODE, CODE`` at ``at`` (none without a colon and a first code)."""
    if not line.startswith(":", at):
        return frozenset()
    codes: list[str] = []
    at = _past(line, at + 1, " \t")
    while line[at : at + 1] in _CODE_CHARS:
        start, at = at, _past(line, at, _CODE_CHARS)
        codes.append(normalize_code(line[start:at]))
        # A separator: spaces and tabs around at most one comma, then the next code.
        at = _past(line, at, " \t")
        if line.startswith(",", at):
            at += 1
        at = _past(line, at, " \t")
    return frozenset(codes)


def _past(line: str, at: int, chars: Collection[str]) -> int:
    """Where the run of ``chars`` that starts at ``at`` ends."""
    while at < len(line) and line[at] in chars:
        at += 1
    return at


def is_suppressed(finding: Finding, lines: Sequence[str]) -> bool:
    """Is ``finding`` silenced by ``# noqa`` on its first or last line?"""
    for row in {finding.span.start_line, finding.span.end_line}:
        if 0 <= row < len(lines):
            codes = noqa_codes(lines[row])
            if codes is not None and (not codes or normalize_code(finding.code) in codes):
                return True
    return False


def keep(
    findings: Iterable[Finding],
    lines: Sequence[str],
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> list[Finding]:
    """The findings that are selected, not ignored and not suppressed by ``# noqa``."""
    return [
        f for f in findings if is_enabled(f.code, select, ignore) and not is_suppressed(f, lines)
    ]
