"""The language server's answers never fail, whatever state a file is in while it is typed: every
request at every position of the examples, broken by random edits, in process (the protocol
itself is tested end to end in tests/e2e/test_lsp.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

pytest.importorskip("pygls")
from lsprotocol import types as T  # noqa: E402

from pyrule.lsp.actions import code_actions  # noqa: E402
from pyrule.lsp.complete import complete  # noqa: E402
from pyrule.lsp.diagnostics import error_diagnostic, unknown_rule_refs, unused_names  # noqa: E402
from pyrule.lsp.hover import hover  # noqa: E402
from pyrule.lsp.model import Model  # noqa: E402
from pyrule.lsp.navigate import definition, references, symbols  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(REPO.glob("examples/**/Pipefile"))
TYPED = ["    ouput: 'x'", "rule :", "x = (", "    input: rules.", "    shell: echo {params.", "    shell: {",
         "rule r:", "    ", "default: ", "include 'nowhere.pipe'", "python:", "    def f(", "\t", "{", "rules.x"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_request_at_every_position_answers(path: Path):
    rng = random.Random(str(path))
    model = Model()
    file = str(path)
    original = path.read_text()
    versions = [original]
    for _ in range(12):
        lines = original.split("\n")
        at = rng.randrange(len(lines))
        if rng.random() < 0.7:
            lines.insert(at, rng.choice(TYPED))
        else:
            lines[at] = lines[at][: len(lines[at]) // 2]
        versions.append("\n".join(lines))
    for text in versions:
        state = model.update(file, text)
        uri = "file://" + file
        diagnostics = unknown_rule_refs(state.index, set(model.rules(file)), state.text, uri)
        diagnostics += unused_names(state.index, [text], state.text)
        if state.analysis.error is not None:
            diagnostics.append(error_diagnostic(state.analysis.error, state.text, uri))
        code_actions(state, uri, diagnostics)
        symbols(state)
        for line, line_text in enumerate(state.text.lines):
            for col in range(0, len(line_text) + 1, 3):
                complete(model, state, line, col)
                definition(model, state, line, col)
                hover(model, state, line, col)
            references(model, state, line, len(line_text) // 2)
    assert isinstance(symbols(model.update(file, original))[0], T.DocumentSymbol)
