"""One source of truth: the keywords of grammar/pipefile.lark (pyrule.parse.grammar_keywords)
must all be known to the TextMate grammar, the Vim syntax, the Emacs mode and the Pygments lexer.

Each engine's own keyword list is read and compared with the grammar's; then a Pipefile holding
every keyword is highlighted by each engine that is installed, and every keyword must come out
as a statement keyword or a section.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import editor_support as es  # noqa: E402

from pyrule.parse import grammar_keywords, parse_text  # noqa: E402

KW = grammar_keywords()
SECTIONS, BODIES, STATEMENTS = set(KW["sections"]), set(KW["bodies"]), set(KW["statements"])


def test_grammar_has_keywords():
    assert SECTIONS and BODIES == {"shell", "python"} and {"rule", "checkpoint", "include"} <= STATEMENTS


def test_samples_are_valid_pipefiles():
    for name in es.sample_names():
        parse_text(es.sample_text(name), f"tests/editors/tmgrammar/{name}.pipe")
    for path in sorted(es.SNAPSHOTS_DIR.glob("*.pipe")):
        parse_text(path.read_text(), str(path))


# --- each engine's own lists ----------------------------------------------------------------------


def _alternation(pattern: str, after: str) -> set[str]:
    """The words of the alternation group that follows `after` in a regular expression."""
    m = re.search(re.escape(after) + r"\((?:\?:)?((?:\w+\|)+\w+)\)", pattern)
    assert m, f"no alternation after {after!r} in {pattern!r}"
    return set(m.group(1).split("|"))


def test_textmate_lists():
    grammar = json.loads((es.VSCODE / "syntaxes" / "pipefile.tmLanguage.json").read_text())
    repo = grammar["repository"]
    assert _alternation(repo["expression-section"]["begin"], ")") == SECTIONS
    bodies = {re.search(r"\)\((\w+)\)", p["begin"]).group(1) for p in repo["body-section"]["patterns"]}
    assert bodies == BODIES
    statement_patterns = json.dumps([repo[k] for k in ("rule", "python-block", "default", "include", "import")])
    missing = [kw for kw in STATEMENTS if not re.search(rf"\b{kw}\b", statement_patterns)]
    assert not missing, f"statement keywords missing from the TextMate grammar: {missing}"


def test_vim_lists():
    text = (es.EDITORS / "vim" / "syntax" / "pipefile.vim").read_text()
    expr = re.search(r"syntax region pipefileExprSection.*?start=/(.*?)/", text, re.S).group(1)
    assert set(re.search(r"\\%\(((?:\w+\\\|)+\w+)\\\)", expr).group(1).split("\\|")) == SECTIONS
    for body in BODIES:
        assert re.search(rf"start=/\^\\z\(\\s\\\+\\\)\\zs{body}\\ze", text), f"no {body}: body region"
    missing = [kw for kw in STATEMENTS if not re.search(rf"\b{kw}\b", text)]
    assert not missing, f"statement keywords missing from the Vim syntax: {missing}"


def _elisp_list(text: str, name: str) -> set[str]:
    m = re.search(rf"\(defconst {name}\s+'\(([^)]*)\)", text)
    assert m, name
    return set(re.findall(r'"([^"]+)"', m.group(1)))


def test_emacs_lists():
    text = (es.EDITORS / "emacs" / "pipefile-mode.el").read_text()
    assert _elisp_list(text, "pipefile-statement-keywords") == STATEMENTS
    assert _elisp_list(text, "pipefile-expression-sections") == SECTIONS
    assert _elisp_list(text, "pipefile-body-sections") == BODIES


def test_pygments_lists():
    es.require_pygments()
    from pyrule import highlight

    assert set(highlight.STATEMENT_KEYWORDS) == STATEMENTS
    assert set(highlight.SECTIONS) == SECTIONS
    assert set(highlight.BODIES) == BODIES


# --- each engine, highlighting every keyword -------------------------------------------------------


def test_keyword_sample_covers_the_grammar():
    text, expects = es.keyword_sample()
    words = {e.text for e in expects}
    assert words == STATEMENTS | SECTIONS | BODIES


def test_textmate_highlights_every_keyword(tmp_path):
    es.require_tmgrammar()
    text, expects = es.keyword_sample()
    path = tmp_path / "keywords.pipe"
    path.write_text(text)
    tokens = es.tm_tokenize({"keywords": path}, tmp_path / "snap")["keywords"]
    failures = es.check(
        expects,
        lambda c, line, col: es.tm_has(c, es.tm_scopes_at(tokens, line, col)),
        lambda line, col: " ".join(es.tm_scopes_at(tokens, line, col)),
    )
    assert not failures, "\n".join(failures)


def test_vim_highlights_every_keyword(tmp_path):
    text, expects = es.keyword_sample()
    path = tmp_path / "keywords.pipe"
    path.write_text(text)
    data = es.vim_stacks(path, tmp_path)
    failures = es.check(
        expects,
        lambda c, line, col: es.vim_has(c, es.vim_names_at(data, line, col)),
        lambda line, col: " ".join(es.vim_names_at(data, line, col)),
    )
    assert not failures, "\n".join(failures)


def test_emacs_highlights_every_keyword(tmp_path):
    text, expects = es.keyword_sample()
    path = tmp_path / "keywords.pipe"
    path.write_text(text)
    result = es.emacs_ert([(path, e) for e in expects], tmp_path, selector="'pipefile-mode-shared-cases")
    assert result.returncode == 0, result.stdout + result.stderr


def test_pygments_highlights_every_keyword():
    es.require_pygments()
    text, expects = es.keyword_sample()
    failures = es.check(
        expects,
        lambda c, line, col: es.pygments_has(c, es.pygments_token_at(text, line, col)),
        lambda line, col: str(es.pygments_token_at(text, line, col)),
    )
    assert not failures, "\n".join(failures)
