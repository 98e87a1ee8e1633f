"""The Pygments lexer (pyrule/highlight.py): right token types on every construct, no errors."""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import editor_support as es  # noqa: E402

es.require_pygments(module=True)
from pygments.token import Error  # noqa: E402

from pyrule.highlight import PipefileLexer  # noqa: E402


def _check(text: str, expects: list[es.Expect]) -> list[str]:
    return es.check(
        expects,
        lambda category, line, col: es.pygments_has(category, es.pygments_token_at(text, line, col)),
        lambda line, col: str(es.pygments_token_at(text, line, col)),
    )


def _errors(text: str) -> list[str]:
    return [f"offset {i}: {v!r}" for i, t, v in PipefileLexer().get_tokens_unprocessed(text) if t in Error]


def test_lexer_metadata():
    assert PipefileLexer.name == "Pipefile"
    assert PipefileLexer.aliases == ["pipefile"]
    assert PipefileLexer.filenames == ["Pipefile", "*.pipe", "*.pipefile"]


@pytest.mark.parametrize("name", es.sample_names())
def test_sample_tokens(name):
    text = es.sample_text(name)
    tokens = PipefileLexer().get_tokens_unprocessed(text)
    assert "".join(v for _, _, v in tokens) == text, "the tokens must cover the text exactly"
    assert _errors(text) == []
    failures = _check(text, es.sample_expectations()[name])
    assert not failures, "\n".join(failures)


@contextlib.contextmanager
def _deadline(seconds: int):
    """Fail (instead of hanging) if the block takes longer than `seconds`."""

    def expired(signum, frame):
        raise TimeoutError(f"the lexer took more than {seconds}s: an endless loop?")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="needs SIGALRM")
def test_every_prefix_lexes_and_terminates():
    """Half-typed files (cut anywhere: unclosed strings, brackets, bodies) lex in full, quickly."""
    texts = [es.sample_text(name) for name in es.sample_names()] + [p.read_text() for p in es.example_files()]
    with _deadline(60):
        for text in texts:
            for cut in range(0, len(text), 7):
                prefix = text[:cut]
                tokens = PipefileLexer().get_tokens_unprocessed(prefix)
                assert "".join(v for _, _, v in tokens) == prefix


def test_error_token_for_unknown_section():
    text = "rule r:\n    outptu: 'x'\n"
    assert any(v == "outptu" for v in _errors(text) for v in [v.split(": ", 1)[1].strip("'")])


@pytest.mark.parametrize("path", es.example_files() or [None], ids=es.example_id)
def test_examples(path):
    if path is None:
        pytest.skip("no examples/**/Pipefile yet")
    text = path.read_text()
    assert _errors(text) == []
    failures = _check(text, es.parser_expectations(text, str(path)))
    assert not failures, "\n".join(failures)


def test_pygmentize_loads_the_lexer_from_its_file(tmp_path):
    pygmentize = es.require_tool("pygmentize")
    sample = tmp_path / "Pipefile"
    sample.write_text(es.sample_text("rules"))
    for fmt in ("terminal", "html"):
        result = es.run(
            [pygmentize, "-l", f"{es.ROOT / 'pyrule' / 'highlight.py'}:PipefileLexer", "-x", "-f", fmt, str(sample)]
        )
        assert result.returncode == 0, result.stderr
        assert "checkpoint" in result.stdout
    assert (
        "\x1b["
        in es.run(
            [
                pygmentize,
                "-l",
                f"{es.ROOT / 'pyrule' / 'highlight.py'}:PipefileLexer",
                "-x",
                "-f",
                "terminal",
                str(sample),
            ]
        ).stdout
    )


def test_registered_plugin_when_installed():
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name("pipefile")
    except ClassNotFound:
        pytest.skip("pyrule is not installed with its pygments.lexers entry point")
    assert lexer.name == "Pipefile"
