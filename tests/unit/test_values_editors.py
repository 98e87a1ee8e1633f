"""The word `values` (issue 20, values.py) in the editors: the language server completes
`values.` with the rules that have a Python body and documents the helper; the Emacs mode
highlights it; `pyrule --fmt` keeps a body's `return`; the shell completion offers --value."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyrule.cli import long_options
from pyrule.fmt import format_text

REPO = Path(__file__).resolve().parents[2]

PIPEFILE = '''\
rule estimate:
    python:
        if wildcards:
            return {"n": 1}
        return 2

rule sh:
    shell: echo hi

checkpoint split:
    output: "s.txt"
    python:
        open(output[0], "w").write("x")

rule use:
    output: "u.txt"
    params: n = lambda w: values.estimate.get()
    shell: echo {params.n} > {output}
'''


def test_language_server_completes_values_with_python_rules(tmp_path: Path):
    pytest.importorskip("pygls")
    from pyrule.lsp.complete import complete
    from pyrule.lsp.model import Model
    from pyrule.lsp.words import HELPER_DOCS

    path = tmp_path / "Pipefile"
    path.write_text(PIPEFILE)
    model = Model()
    state = model.update(str(path), PIPEFILE)
    line = PIPEFILE.split("\n").index("    params: n = lambda w: values.estimate.get()")
    col = len("    params: n = lambda w: values.")
    assert {i.label for i in complete(model, state, line, col)} == {"estimate", "split"}
    col = len("    params: n = lambda w: ")
    helpers = {i.label for i in complete(model, state, line, col)}
    assert "values" in helpers and "checkpoints" in helpers
    assert "values.NAME.get(**wildcards)" in HELPER_DOCS["values"]
    # values.estimate -> `rule estimate:`
    from pyrule.lsp.navigate import definition

    where = definition(model, state, line, len("    params: n = lambda w: values.est"))
    assert where is not None and where.range.start.line == 0


def test_emacs_mode_knows_the_word():
    text = (REPO / "editors" / "emacs" / "pipefile-mode.el").read_text()
    assert '"values"' in text


def test_fmt_keeps_a_returning_body():
    assert format_text(PIPEFILE, "Pipefile") == PIPEFILE


def test_shell_completion_offers_value():
    assert "--value" in long_options()
