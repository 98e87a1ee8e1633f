"""The VS Code TextMate grammar, run by vscode-textmate itself (vscode-tmgrammar-test/-snap).

* tmgrammar/*.pipe: annotated unit tests (`# ^^^ scope` lines) over every construct, with the
  embedded shell and Python grammars (from the npm package tm-grammars) resolved;
* the shared CASES (the same expectations as Vim, Emacs and Pygments);
* snapshots/*.pipe: full-token snapshots of our own samples (vscode-tmgrammar-snap);
* examples/**/Pipefile: no invalid scope anywhere, and every keyword, rule name, section,
  target and body start where pyrule's parser finds it (see editors/README.md for why the
  examples are not snapshotted).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import editor_support as es  # noqa: E402

GRAMMAR_ARGS = ["-g", str(es.TM_GRAMMARS / "shellscript.json"), "-g", str(es.TM_GRAMMARS / "python.json")]


@pytest.fixture(scope="module")
def tm():
    es.require_tmgrammar()


def _check(tokens, expects):
    return es.check(
        expects,
        lambda category, line, col: es.tm_has(category, es.tm_scopes_at(tokens, line, col)),
        lambda line, col: " ".join(es.tm_scopes_at(tokens, line, col)),
    )


def _invalid(tokens) -> list[str]:
    return [
        f"line {i}: columns {a + 1}-{b}: {' '.join(scopes)}"
        for i, line in enumerate(tokens, 1)
        for a, b, scopes in line
        if any(s.startswith("invalid.") for s in scopes)
    ]


def test_manifest():
    manifest = json.loads((es.VSCODE / "package.json").read_text())
    (language,) = manifest["contributes"]["languages"]
    assert language["id"] == "pipefile"
    assert language["filenames"] == ["Pipefile"]
    assert set(language["extensions"]) == {".pipe", ".pipefile"}
    (grammar,) = manifest["contributes"]["grammars"]
    assert grammar["scopeName"] == "source.pipefile" and grammar["language"] == "pipefile"
    assert set(grammar["embeddedLanguages"].values()) == {"shellscript", "python"}
    for path in (language["configuration"], grammar["path"], manifest["contributes"]["snippets"][0]["path"]):
        json.loads((es.VSCODE / path).read_text())
    config = json.loads((es.VSCODE / "language-configuration.json").read_text())
    assert config["comments"]["lineComment"] == "#"
    assert {"open": '"""', "close": '"""', "notIn": ["string"]} in config["autoClosingPairs"]
    import re

    increase = re.compile(config["indentationRules"]["increaseIndentPattern"])
    for line in (
        "rule count:",
        "checkpoint split:  # comment",
        "    shell:",
        "    output:",
        "python:",
        "out/{x}.txt: in/{x}.txt",
        "default:",
    ):
        assert increase.search(line), line
    for line in ("    output: 'x'", "SAMPLES = ['a']", "    echo hi"):
        assert not increase.search(line), line


def _expand_snippet(body: str) -> str:
    """A VS Code snippet with every placeholder replaced by its default text."""
    out, i = [], 0
    while i < len(body):
        if body.startswith("\\", i) and i + 1 < len(body):
            out.append(body[i + 1])
            i += 2
        elif body.startswith("${", i):
            colon = body.index(":", i)
            depth, j = 1, colon + 1
            while depth:
                if body[j] == "\\":
                    j += 2
                    continue
                depth += {"{": 1, "}": -1}.get(body[j], 0) if body[j - 1] == "$" or body[j] == "}" else 0
                j += 1
            out.append(_expand_snippet(body[colon + 1 : j - 1]))
            i = j
        elif body[i] == "$" and body[i + 1 : i + 2].isdigit():
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def test_snippets_expand_to_valid_pipefiles():
    from pyrule.parse import parse_text

    snippets = json.loads((es.VSCODE / "snippets" / "pipefile.json").read_text())
    assert {"rule", "short", "rulepy", "checkpoint", "python"} <= {s["prefix"] for s in snippets.values()}
    for name, snippet in snippets.items():
        text = _expand_snippet("\n".join(snippet["body"])).replace("\t", "    ")
        if snippet["prefix"] == "override":
            text = text.replace("NAME", "N").replace("value", "1")
        parse_text(text + "\n", f"snippet {name}")
        assert "${" not in text, text


def test_annotated_samples(tm):
    result = es.run(
        [
            str(es.NODE_BIN / "vscode-tmgrammar-test"),
            "--compact",
            "--config",
            str(es.VSCODE / "package.json"),
            *GRAMMAR_ARGS,
            str(es.SAMPLES_DIR / "*.pipe"),
        ],
        cwd=es.VSCODE,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("run successfuly") == len(es.sample_names()), result.stdout


def test_shared_cases_and_no_invalid_scopes(tm, tmp_path):
    files = es.write_samples(tmp_path / "plain")
    tokens = es.tm_tokenize(files, tmp_path / "snap")
    failures = []
    for name, expects in es.sample_expectations().items():
        failures += _invalid(tokens[name]) and [f"{name}: {x}" for x in _invalid(tokens[name])]
        failures += _check(tokens[name], expects)
    assert not failures, "\n".join(failures)


def test_unknown_section_is_invalid(tm, tmp_path):
    path = tmp_path / "bad.pipe"
    path.write_text("rule r:\n    outptu: 'x'\n")
    tokens = es.tm_tokenize({"bad": path}, tmp_path / "snap")["bad"]
    assert "invalid.illegal.unknown-section.pipefile" in es.tm_scopes_at(tokens, 2, 4)


def test_snapshots(tm, tmp_path):
    """Every token of snapshots/*.pipe, as recorded in snapshots/*.pipe.snap. To accept a
    deliberate change: PIPEFILE_UPDATE_SNAPSHOTS=1 python3 -m pytest tests/editors -k snapshots"""
    sources = sorted(es.SNAPSHOTS_DIR.glob("*.pipe"))
    assert sources, "no snapshot sources"
    update = os.environ.get("PIPEFILE_UPDATE_SNAPSHOTS") == "1"
    work = es.SNAPSHOTS_DIR if update else tmp_path
    if not update:
        for src in sources:
            shutil.copy(src, tmp_path / src.name)
            snap = src.with_name(src.name + ".snap")
            assert snap.exists(), f"{snap.name} is missing: run with PIPEFILE_UPDATE_SNAPSHOTS=1"
            shutil.copy(snap, tmp_path / snap.name)
    result = es.run(
        [
            str(es.NODE_BIN / "vscode-tmgrammar-snap"),
            "--config",
            str(es.VSCODE / "package.json"),
            *GRAMMAR_ARGS,
            *(["--updateSnapshot"] if update else []),
            str(work / "*.pipe"),
        ],
        cwd=es.VSCODE,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", es.example_files() or [None], ids=es.example_id)
def test_examples(tm, tmp_path, path):
    if path is None:
        pytest.skip("no examples/**/Pipefile yet")
    text = path.read_text()
    tokens = es.tm_tokenize({"example": path}, tmp_path)["example"]
    failures = _invalid(tokens) + _check(tokens, es.parser_expectations(text, str(path.relative_to(es.ROOT))))
    assert not failures, "\n".join(failures)
