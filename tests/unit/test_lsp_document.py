"""The language server parses a Pipefile by pieces (pyrule/lsp/document.py): it must give what
the command line's whole-file parse gives — the same statements, and for a broken file the same
first error (place, message, hint) — for every version of a file as it is edited."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pyrule.errors import PipefileError
from pyrule.lsp.document import Parser
from pyrule.parse import parse_text

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(REPO.glob("examples/**/Pipefile")) + sorted(REPO.glob("examples/**/*.pipe"))

# Lines a typing user leaves for a moment: misspelt sections and keywords, open brackets and
# strings, stray indentation, tabs, duplicated sections, Make habits.
TYPED = ["    ouput: 'x'", "rule :", "x = (", "  foo", "rule r:", "\tshell: a", "X = 1 2", "    params: a=1, a=2",
         "    input: expand('{s}', s=[", '    """doc', "rule all:", "checkpoint c:", "    shell: cp $< $@",
         "    output: 'a'", "python:", "    def f(:", "default: a b", "    input: rules.", "include 'x.pipe'",
         "out/{x}.txt: in/{x}.txt", "    python:", "        x = 1", "]", ")", "'", "    retries: 1", ""]


def _whole(text: str):
    try:
        return parse_text(text, "Pipefile").statements, None
    except PipefileError as e:
        return None, (str(e.loc), e.message, e.hint)


def _edits(text: str, rng: random.Random, n: int):
    lines = text.split("\n")
    for _ in range(n):
        ls = list(lines)
        i = rng.randrange(len(ls))
        op = rng.choice(["delete", "duplicate", "cut", "insert", "insert"])
        if op == "delete":
            del ls[i]
        elif op == "duplicate":
            ls.insert(i, ls[i])
        elif op == "cut":
            ls[i] = ls[i][: rng.randrange(len(ls[i]) + 1)]
        else:
            ls.insert(i, rng.choice(TYPED))
        yield "\n".join(ls)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_pieces_parse_as_the_whole_file(path: Path):
    text = path.read_text()
    parser = Parser("Pipefile")  # one parser across versions, as the server keeps it
    assert parser.analyse(text).statements == parse_text(text, "Pipefile").statements
    for version in _edits(text, random.Random(str(path)), 150):
        statements, error = _whole(version)
        analysis = parser.analyse(version)
        got = analysis.error and (str(analysis.error.loc), analysis.error.message, analysis.error.hint)
        assert got == error, version
        if error is None:
            assert analysis.statements == statements, version


def test_an_unclosed_bracket_reads_on_into_later_rules():
    rules = "".join(f"rule r{i}:\n    output: 'o{i}'\n    shell: echo > {{output}}\n\n" for i in range(6))
    text = rules.replace("output: 'o1'", "output: ('o1'", 1)
    statements, error = _whole(text)
    found = Parser("Pipefile").analyse(text).error
    assert error is not None and (str(found.loc), found.message, found.hint) == error
