"""The Vim plugin (editors/vim), run by a headless Vim: filetype detection, the ftplugin's
options, indentation as typed, and syntax groups (synstack) on every shared construct."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import editor_support as es  # noqa: E402


@pytest.fixture(scope="module")
def vim():
    return es.require_tool("vim")


def _vim(vim: str, path: Path, script: str, tmp_path: Path) -> dict:
    """Run `script` (which must leave a dict in g:out) in Vim on `path`; return g:out."""
    out = tmp_path / "out.json"
    (tmp_path / "script.vim").write_text(script + "\ncall writefile([json_encode(g:out)], $PIPEFILE_VIM_OUT)\nqall!\n")
    result = es.run(
        [
            vim,
            "-Nu",
            "NONE",
            "-i",
            "NONE",
            "-n",
            "-es",
            "--cmd",
            f"set rtp^={es.EDITORS / 'vim'}",
            "--cmd",
            "filetype plugin indent on",
            "--cmd",
            "syntax on",
            "-c",
            f"source {tmp_path / 'script.vim'}",
            str(path),
        ],
        env={**os.environ, "PIPEFILE_VIM_OUT": str(out)},
    )
    assert out.exists(), result.stdout + result.stderr
    return json.loads(out.read_text())


def _check(data: dict, expects: list[es.Expect]) -> list[str]:
    return es.check(
        expects,
        lambda category, line, col: es.vim_has(category, es.vim_names_at(data, line, col)),
        lambda line, col: " ".join(es.vim_names_at(data, line, col)) or "(no syntax group)",
    )


@pytest.mark.parametrize("filename", ["Pipefile", "rules.pipe", "more.pipefile"])
def test_filetype_detection(vim, tmp_path, filename):
    path = tmp_path / filename
    path.write_text("rule a:\n    shell: true\n")
    out = _vim(vim, path, "let g:out = {'ft': &filetype, 'syntax': b:current_syntax}", tmp_path)
    assert out == {"ft": "pipefile", "syntax": "pipefile"}


def test_ftplugin_options(vim, tmp_path):
    path = tmp_path / "Pipefile"
    path.write_text("rule a:\n    shell: true\n")
    out = _vim(
        vim,
        path,
        "let g:out = {'cms': &commentstring, 'com': &comments, 'et': &expandtab, "
        "'sw': &shiftwidth, 'inde': &indentexpr}",
        tmp_path,
    )
    assert out == {"cms": "# %s", "com": ":#", "et": 1, "sw": 4, "inde": "GetPipefileIndent(v:lnum)"}


def test_indentation_as_typed(vim, tmp_path):
    path = tmp_path / "Pipefile"
    path.write_text("")
    typed = [
        "rule count:",
        "output: 'x'  # a comment",
        "shell:",
        "echo a: b",
        "echo more",
    ]
    keys = "\\r".join(typed)
    out = _vim(vim, path, f'exe "normal! i{keys}\\<Esc>"\nlet g:out = {{"lines": getline(1, "$")}}', tmp_path)
    assert out["lines"] == [
        "rule count:",
        "    output: 'x'  # a comment",
        "    shell:",
        "        echo a: b",
        "        echo more",
    ]


def test_loads_without_errors(vim, tmp_path):
    path = tmp_path / "Pipefile"
    path.write_text(es.sample_text("shell"))
    out = _vim(vim, path, "redir => g:msgs\nsilent messages\nredir END\nlet g:out = {'msgs': g:msgs}", tmp_path)
    assert not re.search(r"^E\d+:", out["msgs"], re.M), out["msgs"]


@pytest.mark.parametrize("name", es.sample_names())
def test_sample_syntax(vim, tmp_path, name):
    path = tmp_path / f"{name}.pipe"
    path.write_text(es.sample_text(name))
    data = es.vim_stacks(path, tmp_path)
    assert data["syntax"] == "pipefile"
    errors = [
        f"line {i}: {names}"
        for i, runs in enumerate(data["lines"], 1)
        for _, _, names in runs
        if "pipefileUnknownSection" in names
    ]
    failures = errors + _check(data, es.sample_expectations()[name])
    assert not failures, "\n".join(failures)


def test_unknown_section_is_an_error(vim, tmp_path):
    path = tmp_path / "bad.pipe"
    path.write_text("rule r:\n    outptu: 'x'\n")
    assert "pipefileUnknownSection" in es.vim_names_at(es.vim_stacks(path, tmp_path), 2, 5)


@pytest.mark.parametrize("path", es.example_files() or [None], ids=es.example_id)
def test_examples(vim, tmp_path, path):
    if path is None:
        pytest.skip("no examples/**/Pipefile yet")
    text = path.read_text()
    data = es.vim_stacks(path, tmp_path)
    errors = [
        f"line {i}: {names}"
        for i, runs in enumerate(data["lines"], 1)
        for _, _, names in runs
        if "pipefileUnknownSection" in names
    ]
    failures = errors + _check(data, es.parser_expectations(text, str(path.relative_to(es.ROOT))))
    assert not failures, "\n".join(failures)
