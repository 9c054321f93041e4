"""The incremental parser gives exactly the tree (or the error) of ``ast.parse``, whatever the
edits, while reading only the lines an edit touched."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paramlens.analysis.incremental import IncrementalParser
from paramlens.analysis.rules import IncrementalRules, check_source
from paramlens.analysis.rules.engine import instance_attributes
from paramlens.analysis.rules.facts import FactsMemo, FileFacts, collect_facts

# Typed text may hold invalid escapes: each parse warns about them, as ``ast.parse`` does.
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning", "ignore::DeprecationWarning")

FIXTURES = Path(__file__).parent.parent / "fixtures"
SOURCES = sorted(
    [*(FIXTURES / "freeze_cases").glob("c*.py"), *(FIXTURES / "must_not_flag").glob("*.py")]
)
# Pieces an editor may type: code, dedents, decorators, brackets and strings left open,
# statements on one line, and line breaks of every kind.
PIECES = [
    "x = 1",
    "    y = 2",
    "@decorator",
    "def f(a):",
    "class C:",
    "(",
    ")",
    '"""',
    "'",
    "; z = 3",
    "\\",
    "# comment",
    "\n",
    "\r\n",
    "\r",
    "for p in model.parameters():\n    p.requires_grad = False\n",
    "",
]


def dumped(tree: ast.AST) -> str:
    return ast.dump(tree, include_attributes=True)


def expected(source: str) -> tuple[Optional[str], Optional[tuple[object, ...]]]:
    """(tree dump, None) or (None, the error's kind and position) for a full parse."""
    try:
        return dumped(ast.parse(source)), None
    except (SyntaxError, ValueError) as error:
        return None, error_key(error)


def error_key(error: Exception) -> tuple[object, ...]:
    return (type(error), getattr(error, "msg", str(error)), getattr(error, "lineno", None))


def incremental(parser: IncrementalParser, source: str) -> tuple[Optional[str], object]:
    try:
        return dumped(parser.parse(source)), None
    except (SyntaxError, ValueError) as error:
        return None, error_key(error)


@st.composite
def edit_sequences(draw: st.DrawFn) -> tuple[str, list[tuple[int, int, str]]]:
    source = draw(st.sampled_from(SOURCES)).read_text("utf-8")
    edits = draw(
        st.lists(
            st.tuples(
                st.floats(0, 1), st.integers(0, 40), st.sampled_from(PIECES) | st.text(max_size=3)
            ),
            min_size=1,
            max_size=6,
        )
    )
    return source, [(int(where * len(source)), cut, text) for where, cut, text in edits]


def texts(case: tuple[str, list[tuple[int, int, str]]]) -> Iterator[str]:
    """The text of a case, then its text after each edit."""
    source, edits = case
    yield source
    for where, cut, text in edits:
        where = min(where, len(source))
        source = source[:where] + text + source[where + cut :]
        yield source


@settings(max_examples=300, deadline=None)
@given(edit_sequences(), st.booleans())
def test_every_edit_gives_the_tree_or_the_error_of_a_full_parse(
    case: tuple[str, list[tuple[int, int, str]]], owns_trees: bool
) -> None:
    parser = IncrementalParser(owns_trees=owns_trees)
    for source in texts(case):
        assert incremental(parser, source) == expected(source)


def test_an_edit_inside_a_function_reparses_that_function_only() -> None:
    source = "".join(path.read_text("utf-8") for path in SOURCES)
    parser = IncrementalParser()
    tree = parser.parse(source)
    target = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.lineno > 100)
    lines = source.split("\n")
    row = target.body[0].lineno - 1
    lines[row] += "  # edited"
    edited = parser.parse("\n".join(lines))
    assert parser.reparsed_lines < 60 < len(lines)
    assert dumped(edited) == dumped(ast.parse("\n".join(lines)))
    # The untouched statements are the very same nodes.
    assert edited.body[0] is tree.body[0] and edited.body[-1] is tree.body[-1]


def test_a_new_line_reparses_from_the_edit_to_the_end() -> None:
    source = "a = 1\n\ndef f():\n    return 2\n\nb = 3\n"
    parser = IncrementalParser()
    tree = parser.parse(source)
    edited = parser.parse(source.replace("return 2", "x = 1\n    return 2"))
    assert edited.body[0] is tree.body[0]
    assert [n.lineno for n in edited.body] == [1, 3, 7]
    assert parser.reparsed_lines == 7  # line 2 to the end (the empty line after the last break)
    assert tree.body[2].lineno == 6  # the earlier tree is left as it was


def test_a_parser_that_owns_its_trees_moves_the_lines_after_a_new_line() -> None:
    source = "a = 1\n\ndef f():\n    return 2\n\nb = {**c, 'd': [e for e in f]}\n"
    parser = IncrementalParser(owns_trees=True)
    tree = parser.parse(source)
    last = tree.body[-1]
    edited = parser.parse(source.replace("return 2", "x = 1\n    return 2"))
    assert edited.body[-1] is last and last.lineno == 7
    assert parser.reparsed_lines == 5  # lines 2 to 6: the function and the blank lines
    assert dumped(edited) == dumped(ast.parse(source.replace("return 2", "x = 1\n    return 2")))


@pytest.mark.parametrize(
    ("source", "edited"),
    [
        ("a = 1; b = 2\nc = 3\n", "a = 1; b = 22\nc = 3\n"),  # statements sharing a line
        ("@dec\ndef f():\n    pass\nx = 1\n", "@dec2\ndef f():\n    pass\nx = 1\n"),
        ('x = 1\ns = """\nkeep\n"""\ny = 2\n', 'x = 1\ns = """\nkept\n"""\ny = 2\n'),
        ("x = 1\ny = 2\n", 'x = 1\n"""\ny = 2\n'),  # opens a string that never closes
        ("x = 1\ny = 2\n", "x = 1\n    y = 2\n"),  # an unexpected indent
        ("x = 1\n", "x = 1\n\0\n"),
    ],
)
@pytest.mark.parametrize("owns_trees", [False, True])
def test_edge_cases_match_a_full_parse(source: str, edited: str, owns_trees: bool) -> None:
    parser = IncrementalParser(owns_trees=owns_trees)
    parser.parse(source)
    assert incremental(parser, edited) == expected(edited)
    assert incremental(parser, source) == expected(source)  # and back, from the last good tree


MODEL_FILES = [
    Path(__file__).parent.parent.parent / "examples" / "darknet.py",
    Path(__file__).parent.parent.parent / "examples" / "tied_lm.py",
]


@st.composite
def long_edit_sequences(draw: st.DrawFn) -> tuple[str, list[tuple[int, int, str]]]:
    """Model files and freeze scripts together, then edits anywhere (definitions, module code)."""
    files = draw(st.lists(st.sampled_from(SOURCES + MODEL_FILES), min_size=2, max_size=4))
    source = "\n".join(path.read_text("utf-8") for path in files)
    edits = draw(
        st.lists(
            st.tuples(st.floats(0, 1), st.integers(0, 30), st.sampled_from(PIECES + MEMO_PIECES)),
            min_size=2,
            max_size=8,
        )
    )
    return source, [(int(where * len(source)), cut, text) for where, cut, text in edits]


# Edits that change what a definition depends on: module bindings, optimizers, helpers, facts.
MEMO_PIECES = [
    "\nmodel = nn.Linear(2, 2)\n",
    "\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
    "\nself = nn.Linear(2, 2)\n",
    "\nx = torch.optim.Adam(self.parameters())\n",
    "\ndef helper(m):\n    for p in m.parameters():\n        p.requires_grad = False\n",
    "\nhelper(model)\n",
    "\nimport torch.nn as nn\n",
    "\nfrom torch import nn\n",
    "\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.fc1 = nn.Linear(2, 2, bias=False)\n",
    "\nmodel.fc1.weight = model.fc2.weight\n",
    "\nparametrize.register_parametrization(model.fc1, 'weight', P())\n",
    "\nmodel.zero_grad(set_to_none=False)\n",
]


@settings(max_examples=80, deadline=None)
@given(st.one_of(edit_sequences(), long_edit_sequences()))
def test_the_rules_find_the_same_as_a_fresh_check_after_every_edit(
    case: tuple[str, list[tuple[int, int, str]]],
) -> None:
    incremental = IncrementalRules()
    for source in texts(case):
        assert check_source(source, incremental=incremental) == check_source(source)
        # The same text again: every definition that can be is reused now.
        assert check_source(source, incremental=incremental) == check_source(source)


def test_an_edit_in_one_class_reuses_the_walk_of_the_others() -> None:
    text = (MODEL_FILES[0]).read_text("utf-8")
    source = "\n".join([text, text.replace("DarkNet", "DarkNet2").replace("model", "model2")])
    incremental = IncrementalRules()
    check_source(source, incremental=incremental)
    source += "\n"
    check_source(source, incremental=incremental)  # each definition seen twice: kept
    edited = source.replace("self.inplanes = 32", "self.inplanes = 33", 1)
    assert check_source(edited, incremental=incremental) == check_source(edited)
    definitions = sum(
        isinstance(n, (ast.ClassDef, ast.FunctionDef)) for n in ast.parse(edited).body
    )
    assert incremental.walks.reused == definitions - 1


def test_definitions_moved_by_a_new_line_are_reused_where_they_are_now() -> None:
    text = MODEL_FILES[0].read_text("utf-8")
    source = "\n".join([text, text.replace("DarkNet", "DarkNet2"), "freeze = 1\n"])
    incremental = IncrementalRules()
    check_source(source, incremental=incremental)
    check_source(source, incremental=incremental)
    moved = source.replace("BLOCKS = [1, 2, 8, 8, 4]", "BLOCKS = [1, 2, 8, 8, 4]\nDEPTH = 5", 1)
    assert check_source(moved, incremental=incremental) == check_source(moved)
    assert incremental.walks.reused > 0
    back = check_source(source, incremental=incremental)
    assert back == check_source(source) and incremental.walks.reused > 0


def facts_values(facts: FileFacts) -> dict[str, object]:
    """The facts as plain values (nodes by their dump and position)."""
    values = {k: v for k, v in instance_attributes(facts).items() if not k.startswith("_")}
    values["classes"] = {n: (c.bases, c.parameters) for n, c in facts.classes.items()}
    values["functions"] = list(facts.functions)
    values["submodule_attrs"] = {
        attr: [dumped(call) for call in calls] for attr, calls in facts.submodule_attrs.items()
    }
    values["ties"] = list(facts.ties.items())
    return values


@settings(max_examples=100, deadline=None)
@given(st.one_of(edit_sequences(), long_edit_sequences()))
def test_the_facts_memo_gives_the_facts_of_a_fresh_pass(
    case: tuple[str, list[tuple[int, int, str]]],
) -> None:
    parser, memo = IncrementalParser(owns_trees=True), FactsMemo()
    for source in texts(case):
        try:
            tree = parser.parse(source)
        except (SyntaxError, ValueError):
            continue
        remembered = facts_values(collect_facts(tree, (), source, memo))
        assert remembered == facts_values(collect_facts(ast.parse(source), (), source))
