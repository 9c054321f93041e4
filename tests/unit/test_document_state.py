"""Document state: lazy parsing, the last good tree through syntax errors, source maps built
off the event loop."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import pytest

from paramlens.analysis.incremental import IncrementalParser
from paramlens.analysis.source_map import ReportNames, Superseded, build_source_map
from paramlens.server import DocumentState, _parse_and_map

GOOD = """from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
"""
BROKEN = GOOD + "def oops(:\n"


def test_parsing_waits_until_the_tree_is_needed() -> None:
    state = DocumentState(uri="file:///m.py", path=Path("/m.py"))
    state.update(GOOD, 1)
    assert state._parsed is None
    assert state.tree is not None and state.syntax_error is None


def test_a_syntax_error_keeps_the_last_good_tree() -> None:
    state = DocumentState(uri="file:///m.py", path=Path("/m.py"))
    state.update(GOOD, 1)
    good_tree = state.tree
    state.update(BROKEN, 2)
    assert state.syntax_error is not None
    assert state.tree is good_tree and state.tree_source == GOOD
    source_map = state.source_map()
    assert source_map is not None and [c.name for c in source_map.classes] == ["Net"]


@pytest.mark.parametrize(
    ("source", "parsed", "last_good", "has_tree", "has_error", "classes"),
    [
        (GOOD, False, (None, ""), True, False, ["Net"]),
        (BROKEN, False, (None, ""), False, True, None),
        (BROKEN, False, ("good", GOOD), False, True, ["Net"]),
    ],
)
def test_parse_and_map(
    source: str,
    parsed: bool,
    last_good: tuple[object, str],
    has_tree: bool,
    has_error: bool,
    classes: Optional[list[str]],
) -> None:
    import ast

    good = (ast.parse(GOOD), GOOD) if last_good[0] == "good" else (None, "")
    tree, error, source_map = _parse_and_map(
        source, IncrementalParser("m.py"), parsed, good, ReportNames((), ())
    )
    assert (tree is not None) is has_tree and (error is not None) is has_error
    if classes is None:
        assert source_map is None
    else:
        assert source_map is not None and [c.name for c in source_map.classes] == classes


async def test_source_map_async_matches_the_sync_one() -> None:
    state = DocumentState(uri="file:///m.py", path=Path("/m.py"))
    state.update(GOOD, 1)
    with ThreadPoolExecutor(max_workers=1) as executor:
        built = await state.source_map_async(executor)
        assert built is not None and state.source_map() is built  # cached for the sync path
        state.update(BROKEN, 2)
        kept = await state.source_map_async(executor)
    assert kept is not None and [c.name for c in kept.classes] == ["Net"]
    assert state.syntax_error is not None


async def test_a_map_of_a_replaced_text_is_given_up_and_built_for_the_new_one() -> None:
    state = DocumentState(uri="file:///m.py", path=Path("/m.py"))
    state.update(GOOD, 1)
    rules_running = threading.Event()
    rules_running.set()  # the build waits at its first checkpoint, as while the rules run
    with ThreadPoolExecutor(max_workers=1) as executor:
        building = asyncio.ensure_future(state.source_map_async(executor, rules_running))
        await asyncio.sleep(0.05)
        assert not building.done()
        state.update(GOOD.replace("Net", "Renamed"), 2)  # an edit meanwhile
        rules_running.clear()
        built = await asyncio.wait_for(building, 10)
    assert built is not None and [c.name for c in built.classes] == ["Renamed"]
    assert state.source_map() is built


def test_a_checkpoint_can_give_up_a_build() -> None:
    import ast

    calls = []

    def checkpoint() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise Superseded

    with pytest.raises(Superseded):
        build_source_map(ast.parse(GOOD + "x = 1\ny = 2\n"), GOOD, (), checkpoint)
    assert len(calls) == 2
