"""``# noqa`` comments and ``select``/``ignore``: which findings a user asked not to see."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from paramlens.analysis.findings import Finding
from paramlens.analysis.rules.registry import is_enabled, normalize_code
from paramlens.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Optional

# Compiled on first use (by ``re``'s own cache): most runs meet no noqa comment, and compiling it
# costs more than half a millisecond of every start.
_NOQA = r"#\s*noqa(?::[ \t]*(?P<codes>[A-Za-z0-9_]+(?:[ \t]*,?[ \t]*[A-Za-z0-9_]+)*))?"


def noqa_codes(line: str) -> Optional[frozenset[str]]:
    """The codes a line's ``# noqa`` names; an empty set for a bare ``# noqa``; None if none."""
    if "noqa" not in line.lower():
        return None
    import re  # here: most files have no noqa comment, and re costs ~2.5 ms to import

    match = re.search(_NOQA, line, re.IGNORECASE)
    if match is None:
        return None
    codes = match.group("codes")
    if not codes:
        return frozenset()
    return frozenset(normalize_code(c) for c in re.split(r"[\s,]+", codes) if c)


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
