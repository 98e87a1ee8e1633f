"""The top-level `cache: "DIR"` statement (docs/cache.md) in every editor engine: a keyword before
its colon, while `cache = {}` stays a variable (the grammar's CACHE terminal has a lookahead)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import editor_support as es  # noqa: E402

from pyrule.parse import parse_text  # noqa: E402

TEXT = 'cache: "/shared/pyrule-cache"\ncache = {}\nrule a:\n    output: "x"\n    cache: False\n    shell: true\n'
EXPECTS = [
    es.Expect("cache", 1, 0, 5, "keyword", "cache"),
    es.Expect("cache", 2, 0, 5, "variable", "cache"),
    es.Expect("cache", 5, 4, 5, "section", "cache"),
]


def _sample(tmp_path: Path) -> Path:
    parse_text(TEXT)  # a valid Pipefile
    path = tmp_path / "cache.pipe"
    path.write_text(TEXT)
    return path


def test_vim(tmp_path):
    data = es.vim_stacks(_sample(tmp_path), tmp_path)
    failures = es.check(EXPECTS, lambda c, line, col: es.vim_has(c, es.vim_names_at(data, line, col)),
                        lambda line, col: " ".join(es.vim_names_at(data, line, col)))
    assert not failures, "\n".join(failures)


def test_emacs(tmp_path):
    path = _sample(tmp_path)
    result = es.emacs_ert([(path, e) for e in EXPECTS], tmp_path, selector="'pipefile-mode-shared-cases")
    assert result.returncode == 0, result.stdout + result.stderr


def test_pygments():
    es.require_pygments()
    failures = es.check(EXPECTS, lambda c, line, col: es.pygments_has(c, es.pygments_token_at(TEXT, line, col)),
                        lambda line, col: str(es.pygments_token_at(TEXT, line, col)))
    assert not failures, "\n".join(failures)


def test_textmate(tmp_path):
    es.require_tmgrammar()
    tokens = es.tm_tokenize({"cache": _sample(tmp_path)}, tmp_path / "snap")["cache"]
    failures = es.check(EXPECTS, lambda c, line, col: es.tm_has(c, es.tm_scopes_at(tokens, line, col)),
                        lambda line, col: " ".join(es.tm_scopes_at(tokens, line, col)))
    assert not failures, "\n".join(failures)
