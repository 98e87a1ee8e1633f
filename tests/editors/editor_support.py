"""Shared by the editor tests: samples, the constructs every engine must highlight, engine runners.

The samples are the annotated TextMate test files in ``tmgrammar/``; with their assertion lines
removed they are plain Pipefiles, which every engine (TextMate, Vim, Emacs, Pygments) highlights.
``CASES`` lists constructs in them with the category each must have; every engine maps a category
to its own scopes, syntax groups, faces or token types, so the four engines are held to the same
expectations. ``parser_expectations`` derives more of them from pyrule's own parser for any
Pipefile (used on ``examples/``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EDITORS = ROOT / "editors"
VSCODE = EDITORS / "vscode"
NODE_BIN = VSCODE / "node_modules" / ".bin"
TM_GRAMMARS = VSCODE / "node_modules" / "tm-grammars" / "grammars"
SAMPLES_DIR = HERE / "tmgrammar"
SNAPSHOTS_DIR = HERE / "snapshots"

_ASSERTION = re.compile(r"^#\s*(?:\^|<[-~])|^# SYNTAX TEST ")


# --- engines: skip when missing, unless CI=true --------------------------------------------------


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def require(ok: bool, what: str, module: bool = False) -> None:
    """Skip the test (or the whole module) with a clear reason when an engine is missing; fail
    instead when CI=true."""
    if ok:
        return
    message = f"{what} is not installed (run editors/ci-install.sh)"
    if in_ci():
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message, allow_module_level=module)


def require_pygments(module: bool = False) -> None:
    import importlib.util

    require(importlib.util.find_spec("pygments") is not None, "Pygments (pip install pygments)", module)


def require_tool(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, name)
    return path  # type: ignore[return-value]


def require_tmgrammar() -> None:
    ok = (NODE_BIN / "vscode-tmgrammar-test").exists() and (TM_GRAMMARS / "shellscript.json").exists()
    require(ok and shutil.which("node") is not None, "vscode-tmgrammar-test (editors/vscode/node_modules)")


def run(cmd: list[str], timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)


# --- samples -------------------------------------------------------------------------------------


def strip_annotations(text: str) -> str:
    """A vscode-tmgrammar-test file without its header and assertion lines: a plain Pipefile."""
    return "".join(line for line in text.splitlines(keepends=True) if not _ASSERTION.match(line))


def sample_names() -> list[str]:
    return sorted(p.stem for p in SAMPLES_DIR.glob("*.pipe"))


def sample_text(name: str) -> str:
    return strip_annotations((SAMPLES_DIR / f"{name}.pipe").read_text())


def write_samples(directory: Path) -> dict[str, Path]:
    """The plain samples, written to `directory`; {name: path}."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in sample_names():
        path = directory / f"{name}.pipe"
        path.write_text(sample_text(name))
        out[name] = path
    return out


def example_id(path: Path | None) -> str:
    return str(path.relative_to(ROOT)) if path else "none"


def example_files() -> list[Path]:
    """Every Pipefile under examples/ (the lead's examples; there may be none yet)."""
    base = ROOT / "examples"
    if not base.is_dir():
        return []
    found = {*base.rglob("Pipefile"), *base.rglob("*.pipe"), *base.rglob("*.pipefile")}
    return sorted(p for p in found if p.is_file())


# --- what must be highlighted how ----------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """Characters line:col..col+length (1-based line, 0-based col) must be in `category`
    (or, when it starts with '!', must not be)."""

    where: str
    line: int
    col: int
    length: int
    category: str
    text: str

    def __str__(self) -> str:
        should = f"should not be {self.category[1:]}" if self.category.startswith("!") else f"should be {self.category}"
        return f"{self.where}:{self.line}:{self.col + 1} {self.text!r} {should}"


# (sample, line, needle, nth occurrence, category). In a needle, «...» marks the part to check.
CASES: list[tuple[str, int, str, int, str]] = [
    # --- top-level statements
    ("statements", 1, "# A comment at the top", 0, "comment"),
    ("statements", 2, "import", 0, "keyword"),
    ("statements", 3, "from", 0, "keyword"),
    ("statements", 3, "# trailing comment", 0, "comment"),
    ("statements", 4, "include", 0, "keyword"),
    ("statements", 4, "common.pipe", 0, "string"),
    ("statements", 5, "N", 0, "variable"),
    ("statements", 5, "=", 0, "operator"),
    ("statements", 6, "MIN_LEN", 0, "variable"),
    ("statements", 6, "?=", 0, "operator"),
    # a '#' inside a string is not a comment; the comment after it is
    ("statements", 7, "run#1", 0, "string"),
    ("statements", 7, "run#1", 0, "!comment"),
    ("statements", 7, "# the '#' inside", 0, "comment"),
    # a bracketed assignment over several lines, and what follows it
    ("statements", 8, "SAMPLES", 0, "variable"),
    ("statements", 9, "a", 0, "string"),
    ("statements", 9, "# first", 0, "comment"),
    ("statements", 10, "b", 0, "string"),
    ("statements", 13, "x", 0, "string"),
    ("statements", 16, "default", 0, "keyword"),
    ("statements", 16, "summary.json", 0, "path"),
    ("statements", 16, "all", 0, "path"),
    ("statements", 16, "out/", 0, "string"),
    ("statements", 16, "{«x»}", 0, "wildcard"),
    # a Python block with nested indentation, and what follows it
    ("statements", 18, "python", 0, "keyword"),
    ("statements", 19, "def", 0, "py-keyword"),
    ("statements", 19, "def", 0, "python-body"),
    ("statements", 20, "if", 0, "py-keyword"),
    ("statements", 21, "for", 0, "py-keyword"),
    ("statements", 22, "pass", 0, "py-keyword"),
    ("statements", 23, "return", 0, "py-keyword"),
    ("statements", 23, "wildcards", 0, "!wildcard"),
    ("statements", 26, "# after the python block", 0, "comment"),
    ("statements", 27, "rule", 0, "keyword"),
    ("statements", 27, "after", 0, "rule-name"),
    ("statements", 28, "shell", 0, "section"),
    ("statements", 28, "true", 0, "sh-builtin"),
    # --- rules, checkpoints, docstrings, every section
    ("rules", 1, "rule", 0, "keyword"),
    ("rules", 1, "count", 0, "rule-name"),
    ("rules", 2, '"""Count reads', 0, "docstring"),
    ("rules", 4, "The docstring spans lines", 0, "docstring"),
    ("rules", 4, "#", 0, "docstring"),
    ("rules", 4, "# is not a comment", 0, "!comment"),
    ("rules", 4, "input", 0, "!section"),
    ("rules", 5, '"""', 0, "docstring"),
    ("rules", 6, "output", 0, "section"),
    ("rules", 6, "counts/", 0, "string"),
    ("rules", 6, "{«sample»}", 0, "wildcard"),
    ("rules", 6, "{«sample»,", 0, "wildcard"),
    ("rules", 6, "[a-z]+", 0, "wildcard-regex"),
    ("rules", 6, "table", 0, "!wildcard"),
    ("rules", 7, "input", 0, "section"),
    ("rules", 7, "{«sample»}", 0, "wildcard"),
    ("rules", 8, "params", 0, "section"),
    ("rules", 8, "x#y", 0, "string"),
    ("rules", 8, "x#y", 0, "!comment"),
    ("rules", 9, "resources", 0, "section"),
    ("rules", 10, "slurm", 0, "section"),
    ("rules", 11, "log", 0, "section"),
    ("rules", 12, "check", 0, "section"),
    ("rules", 13, "retries", 0, "section"),
    ("rules", 14, "priority", 0, "section"),
    ("rules", 15, "env", 0, "section"),
    ("rules", 16, "shell", 0, "section"),
    ("rules", 17, "{input}", 0, "substitution"),
    ("rules", 17, "wc", 0, "shell-body"),
    ("rules", 19, "checkpoint", 0, "keyword"),
    ("rules", 19, "split", 0, "rule-name"),
    ("rules", 20, "'Split a file into parts.'", 0, "docstring"),
    ("rules", 21, "output", 0, "section"),
    ("rules", 21, "{«sample»}", 0, "wildcard"),
    ("rules", 22, "input", 0, "section"),
    # a string that starts a continuation line is no docstring
    ("rules", 23, "reads/", 0, "string"),
    ("rules", 23, "reads/", 0, "!docstring"),
    ("rules", 23, "{«sample»}", 0, "wildcard"),
    ("rules", 24, "{«sample»}", 0, "wildcard"),
    ("rules", 25, "python", 0, "section"),
    ("rules", 26, "import", 0, "py-keyword"),
    ("rules", 26, "import", 0, "python-body"),
    ("rules", 28, "for", 0, "py-keyword"),
    ("rules", 29, "if", 0, "py-keyword"),
    ("rules", 30, "with", 0, "py-keyword"),
    ("rules", 30, "output", 0, "!wildcard"),
    ("rules", 30, "output", 0, "!substitution"),
    ("rules", 32, "else", 0, "py-keyword"),
    ("rules", 33, "continue", 0, "py-keyword"),
    ("rules", 34, "# a comment between sections", 0, "comment"),
    ("rules", 35, "log", 0, "section"),
    ("rules", 35, "{«sample»}", 0, "wildcard"),
    ("rules", 37, "all", 0, "rule-name"),
    ("rules", 38, "input", 0, "section"),
    ("rules", 38, "{«sample»}", 0, "wildcard"),
    # --- shell bodies
    ("shell", 5, "shell", 0, "section"),
    ("shell", 6, "{input}", 0, "substitution"),
    ("shell", 6, "{input[0]}", 0, "substitution"),
    ("shell", 6, "{input.ref}", 0, "substitution"),
    ("shell", 6, "{output[0]}", 0, "substitution"),
    ("shell", 6, "cat", 0, "shell-body"),
    ("shell", 7, "echo", 0, "sh-builtin"),
    ("shell", 7, "{params.n}", 0, "substitution"),
    ("shell", 7, "{wildcards.s}", 0, "substitution"),
    ("shell", 7, "{s}", 0, "substitution"),
    ("shell", 7, "{log}", 0, "substitution"),
    ("shell", 7, "{resources.cores}", 0, "substitution"),
    ("shell", 7, '"«{output}»"', 0, "substitution"),
    ("shell", 7, '«"»{output}"', 0, "string"),
    # ${HOME}, {a,b} and awk's {print $1} are the shell's, not pyrule's
    ("shell", 8, "${HOME}", 0, "!substitution"),
    ("shell", 8, "HOME", 0, "sh-variable"),
    ("shell", 8, "{a,b}", 0, "!substitution"),
    ("shell", 8, "HOME", 1, "sh-variable"),
    ("shell", 9, "{print $1}", 0, "!substitution"),
    ("shell", 9, "{print $1}", 0, "string"),
    ("shell", 9, "{input}", 0, "substitution"),
    ("shell", 9, "{output}", 0, "substitution"),
    # a ':' inside a shell line is no section
    # pyrule substitutes in the whole body text, comments included
    ("shell", 10, "# a comment with ", 0, "comment"),
    ("shell", 10, "{input}", 0, "substitution"),
    ("shell", 11, "time: 10:30", 0, "string"),
    ("shell", 11, "time", 0, "!section"),
    ("shell", 11, "{{", 0, "escape"),
    ("shell", 11, "not", 0, "!substitution"),
    ("shell", 11, "}}", 0, "escape"),
    ("shell", 12, "log", 0, "section"),
    # an unclosed quote ends with its body
    ("shell", 14, "rule", 0, "keyword"),
    ("shell", 18, "output", 0, "section"),
    ("shell", 18, "output", 0, "!string"),
    ("shell", 18, "next/section.txt", 0, "string"),
    # so does an unterminated here-document
    ("shell", 20, "rule", 0, "keyword"),
    ("shell", 20, "rule", 0, "!string"),
    ("shell", 24, "priority", 0, "section"),
    ("shell", 24, "priority", 0, "!string"),
    ("shell", 26, "oneline", 0, "rule-name"),
    ("shell", 27, "shell", 0, "section"),
    ("shell", 27, '"«{output}»"', 0, "substitution"),
    ("shell", 27, "echo", 0, "sh-builtin"),
    ("shell", 27, "${HOME}", 0, "!substitution"),
    # --- Make-style short rules
    ("short", 1, "plots/", 0, "path"),
    ("short", 1, "{«sample»}", 0, "wildcard"),
    ("short", 1, ".png", 0, "path"),
    ("short", 1, "counts/", 0, "path"),
    ("short", 1, "{«sample»}", 1, "wildcard"),
    ("short", 1, "tools/plot.py", 0, "path"),
    ("short", 2, "{input[0]}", 0, "substitution"),
    ("short", 2, "{output}", 0, "substitution"),
    ("short", 2, "python", 0, "!keyword"),
    ("short", 2, "python", 0, "!section"),
    ("short", 2, "python", 0, "shell-body"),
    ("short", 3, "echo", 0, "sh-builtin"),
    ("short", 3, "a: b", 0, "string"),
    ("short", 3, "cut", 0, "!path"),
    ("short", 5, "out put/", 0, "string"),
    ("short", 5, "{«x»}", 0, "wildcard"),
    ("short", 5, "other.txt", 0, "path"),
    ("short", 5, "in put/", 0, "string"),
    ("short", 5, "{«x»}", 1, "wildcard"),
    ("short", 5, "# quoted targets", 0, "comment"),
    ("short", 6, "{input}", 0, "substitution"),
    ("short", 6, "{output[0]}", 0, "substitution"),
    ("short", 8, "stamp.txt", 0, "path"),
    ("short", 9, "{output}", 0, "substitution"),
    ("short", 11, "{«n»,", 0, "wildcard"),
    ("short", 11, "[0-9]+", 0, "wildcard-regex"),
    ("short", 11, "raw/", 0, "path"),
    ("short", 11, "{«n»}", 0, "wildcard"),
    ("short", 12, "{print $1}", 0, "!substitution"),
    ("short", 12, "{input}", 0, "substitution"),
]

CATEGORIES = {
    "comment",
    "keyword",
    "section",
    "rule-name",
    "docstring",
    "string",
    "path",
    "wildcard",
    "wildcard-regex",
    "substitution",
    "escape",
    "operator",
    "variable",
    "py-keyword",
    "sh-builtin",
    "sh-variable",
    "shell-body",
    "python-body",
}


def locate(text: str, where: str, line: int, needle: str, nth: int, category: str) -> Expect:
    lines = text.split("\n")
    assert 1 <= line <= len(lines), f"{where}:{line}: no such line"
    source = lines[line - 1]
    plain = needle.replace("«", "").replace("»", "")
    col = -1
    for _ in range(nth + 1):
        col = source.find(plain, col + 1)
        assert col >= 0, f"{where}:{line}: {plain!r} (occurrence {nth}) not in {source!r}"
    if "«" in needle:
        offset = needle.index("«")
        length = needle.index("»") - offset - 1
    else:
        offset, length = 0, len(plain)
    return Expect(where, line, col + offset, length, category, plain[offset : offset + length])


def sample_expectations() -> dict[str, list[Expect]]:
    """CASES, located in the plain samples: {sample name: [Expect]}."""
    out: dict[str, list[Expect]] = {}
    for name, line, needle, nth, category in CASES:
        assert category.lstrip("!") in CATEGORIES, category
        out.setdefault(name, []).append(locate(sample_text(name), name, line, needle, nth, category))
    return out


def parser_expectations(text: str, where: str) -> list[Expect]:
    """What pyrule's parser says about a Pipefile, as highlighting expectations: every statement
    keyword, rule name, section, docstring, assignment, target and body start."""
    from pyrule import syntax as S
    from pyrule.parse import parse_text

    lines = text.split("\n")
    out: list[Expect] = []

    def add(line: int, col: int, length: int, category: str) -> None:
        if length > 0:
            out.append(Expect(where, line, col, length, category, lines[line - 1][col : col + length]))

    def word_at(loc, word: str, category: str) -> None:
        assert lines[loc.line - 1].startswith(word, loc.col - 1), (where, loc, word)
        add(loc.line, loc.col - 1, len(word), category)

    def target(t) -> None:
        source = lines[t.loc.line - 1][t.loc.col - 1 :]
        if t.quoted:
            add(t.loc.line, t.loc.col - 1, 1, "string")
        else:
            add(t.loc.line, t.loc.col - 1, len(source.split("{")[0].split()[0]) if source[0] != "{" else 0, "path")

    def body(b, kind: str) -> None:
        if b is not None:
            add(b.loc.line, b.loc.col - 1, 1, kind)

    for st in parse_text(text, where).statements:
        if isinstance(st, S.Assignment):
            word_at(st.loc, st.name, "variable")
            op_col = lines[st.loc.line - 1].index(st.op, st.loc.col - 1 + len(st.name))
            add(st.loc.line, op_col, len(st.op), "operator")
        elif isinstance(st, S.Import):
            word_at(st.loc, st.code.text.split()[0], "keyword")
        elif isinstance(st, S.Include):
            word_at(st.loc, "include", "keyword")
        elif isinstance(st, S.Default):
            word_at(st.loc, "default", "keyword")
            for t in st.targets:
                target(t)
        elif isinstance(st, S.PythonBlock):
            word_at(st.loc, "python", "keyword")
            body(st.body, "python-body")
        elif isinstance(st, S.RuleDecl):
            word_at(st.loc, st.kind, "keyword")
            header = lines[st.loc.line - 1]
            name_col = header.index(st.name, st.loc.col - 1 + len(st.kind))
            add(st.loc.line, name_col, len(st.name), "rule-name")
            if st.doc is not None:
                doc_line = next(
                    i
                    for i in range(st.loc.line + 1, len(lines) + 1)
                    if lines[i - 1].strip() and not lines[i - 1].lstrip().startswith("#")
                )
                source = lines[doc_line - 1]
                add(doc_line, len(source) - len(source.lstrip()), 1, "docstring")
            for sec in st.sections.values():
                word_at(sec.loc, sec.name, "section")
                if sec.body is not None:
                    body(sec.body, "shell-body" if sec.name == "shell" else "python-body")
        elif isinstance(st, S.ShortRule):
            for t in st.outputs + st.inputs:
                target(t)
            body(st.body, "shell-body")
    return out


def keyword_sample() -> tuple[str, list[Expect]]:
    """A Pipefile with every keyword of grammar/pipefile.lark, and where each one is."""
    from pyrule.parse import grammar_keywords, parse_text

    kw = grammar_keywords()
    lines: list[str] = []
    expects: list[tuple[int, str, str]] = []  # (line, word, category)

    def emit(line: str, word: str | None = None, category: str = "keyword") -> None:
        lines.append(line)
        if word:
            expects.append((len(lines), word, category))

    statements = set(kw["statements"])
    known = {"import", "from", "include", "configfile", "container", "default", "python", "rule", "checkpoint"}
    assert statements <= known, f"new statement keywords {statements - known}: teach keyword_sample()"
    emit("import os", "import")
    emit("from os import path", "from")
    emit('include "other.pipe"', "include")
    emit('configfile: "config.yaml"', "configfile")
    emit('container: "localhost/tools:1"', "container")
    emit("default: all", "default")
    emit("python:", "python")
    emit("    X = 1")
    for i, section in enumerate(kw["sections"] + kw["bodies"]):
        kind = "checkpoint" if i % 2 else "rule"
        emit(f"{kind} r{i}:", kind)
        value = {"shell": "true", "python": "pass"}.get(section, '"x"')
        emit(f"    {section}: {value}", section, "section")
    text = "\n".join(lines) + "\n"
    parse_text(text)  # the sample itself must be a valid Pipefile
    out = [Expect("keywords", ln, lines[ln - 1].index(word), len(word), cat, word) for ln, word, cat in expects]
    return text, out


# --- engine runners --------------------------------------------------------------------------------


def tm_tokenize(files: dict[str, Path], workdir: Path) -> dict[str, list[list[tuple[int, int, list[str]]]]]:
    """Tokenize files with vscode-tmgrammar-snap; {name: [per line: [(start, end, scopes)]]}."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name, path in files.items():
        shutil.copyfile(path, workdir / f"{name}.pipe")
    result = run(
        [
            str(NODE_BIN / "vscode-tmgrammar-snap"),
            "--updateSnapshot",
            "--config",
            str(VSCODE / "package.json"),
            "-g",
            str(TM_GRAMMARS / "shellscript.json"),
            "-g",
            str(TM_GRAMMARS / "python.json"),
            str(workdir / "*.pipe"),
        ],
        cwd=VSCODE,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {name: parse_snap((workdir / f"{name}.pipe.snap").read_text()) for name in files}


def parse_snap(snap: str) -> list[list[tuple[int, int, list[str]]]]:
    lines: list[list[tuple[int, int, list[str]]]] = []
    for row in snap.split("\n"):
        if row.startswith(">"):
            lines.append([])
        elif row.startswith("#") and lines:
            m = re.match(r"#( *)(\^+) (.*)$", row)
            if m:
                start = len(m.group(1))
                lines[-1].append((start, start + len(m.group(2)), m.group(3).split()))
    return lines


def tm_scopes_at(tokens: list[list[tuple[int, int, list[str]]]], line: int, col: int) -> list[str]:
    for start, end, scopes in tokens[line - 1]:
        if start <= col < end:
            return scopes
    return []


VIM_DUMP = r"""
let s:out = []
for s:lnum in range(1, line('$'))
  let s:runs = []
  let s:prev = ''
  let s:start = 0
  let s:len = strlen(getline(s:lnum))
  for s:col in range(1, s:len + 1)
    let s:names = join(map(synstack(s:lnum, s:col), 'synIDattr(v:val, "name")'), ' ')
    if s:col == 1 || s:names !=# s:prev
      if s:col > 1
        call add(s:runs, [s:start, s:col - 1, s:prev])
      endif
      let s:prev = s:names
      let s:start = s:col - 1
    endif
  endfor
  if s:len > 0
    call add(s:runs, [s:start, s:len, s:prev])
  endif
  call add(s:out, s:runs)
endfor
call writefile([json_encode({'filetype': &filetype, 'syntax': get(b:, 'current_syntax', ''), 'lines': s:out})], $PIPEFILE_VIM_OUT)
qall!
"""


def vim_stacks(path: Path, workdir: Path) -> dict:
    """Vim's syntax stacks for every character of `path` (opened as a Pipefile)."""
    vim = require_tool("vim")
    workdir.mkdir(parents=True, exist_ok=True)
    script, out = workdir / "dump.vim", workdir / f"{path.name}.json"
    script.write_text(VIM_DUMP)
    result = run(
        [
            vim,
            "-Nu",
            "NONE",
            "-i",
            "NONE",
            "-n",
            "-es",
            "--cmd",
            f"set rtp^={EDITORS / 'vim'}",
            "--cmd",
            "filetype plugin indent on",
            "--cmd",
            "syntax on",
            "-c",
            f"source {script}",
            str(path),
        ],
        env={**os.environ, "PIPEFILE_VIM_OUT": str(out)},
    )
    assert out.exists(), f"vim wrote nothing\n{result.stdout}{result.stderr}"
    data = json.loads(out.read_text())
    data["lines"] = [[(a, b, names.split()) for a, b, names in runs] for runs in data["lines"]]
    return data


def vim_names_at(data: dict, line: int, col: int) -> list[str]:
    for start, end, names in data["lines"][line - 1]:
        if start <= col < end:
            return names
    return []


EMACS_TESTS = HERE / "emacs" / "pipefile-mode-test.el"


def _elisp_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def emacs_ert(cases: list[tuple[Path, Expect]], workdir: Path, selector: str = "t") -> subprocess.CompletedProcess:
    """Run the ERT tests (emacs/pipefile-mode-test.el) with `cases` for its shared-cases test."""
    emacs = require_tool("emacs")
    workdir.mkdir(parents=True, exist_ok=True)
    cases_file = workdir / "cases.eld"
    cases_file.write_text(
        "(\n"
        + "\n".join(
            f"({_elisp_string(str(path))} {e.line} {e.col} {e.length} {e.category} {_elisp_string(e.text)})"
            for path, e in cases
        )
        + "\n)\n"
    )
    return run(
        [
            emacs,
            "--batch",
            "-Q",
            "-L",
            str(EDITORS / "emacs"),
            "-l",
            "ert",
            "-l",
            str(EMACS_TESTS),
            "--eval",
            f"(ert-run-tests-batch-and-exit {selector})",
        ],
        env={**os.environ, "PIPEFILE_TEST_CASES": str(cases_file)},
    )


@cache
def pygments_tokens(text: str) -> tuple:
    from pyrule.highlight import PipefileLexer

    return tuple(PipefileLexer().get_tokens_unprocessed(text))


def pygments_token_at(text: str, line: int, col: int):
    lines = text.split("\n")
    offset = sum(len(x) + 1 for x in lines[: line - 1]) + col
    for index, token, value in pygments_tokens(text):
        if index <= offset < index + len(value):
            return token
    return None


# --- categories in each engine ---------------------------------------------------------------------


def tm_has(category: str, scopes: list[str]) -> bool | None:
    """Is a TextMate token with these scopes in `category`?"""

    def any_(pred) -> bool:
        return any(pred(s) for s in scopes)

    return {
        "comment": lambda: any_(lambda s: s.startswith("comment.")),
        "keyword": lambda: any_(
            lambda s: s.startswith("keyword.") and not s.startswith(("keyword.other.section.", "keyword.operator."))
        ),
        "section": lambda: any_(lambda s: s.startswith("keyword.other.section.")),
        "rule-name": lambda: "entity.name.function.rule.pipefile" in scopes,
        "docstring": lambda: any_(lambda s: s.startswith("string.quoted.docstring.")),
        "string": lambda: any_(lambda s: s.startswith(("string.quoted.", "string.interpolated."))),
        "path": lambda: any_(lambda s: s.startswith("string.unquoted.path")),
        "wildcard": lambda: "variable.parameter.wildcard.pipefile" in scopes,
        "wildcard-regex": lambda: "string.regexp.wildcard.pipefile" in scopes,
        "substitution": lambda: "meta.substitution.pipefile" in scopes,
        "escape": lambda: "constant.character.escape.brace.pipefile" in scopes,
        "operator": lambda: "keyword.operator.assignment.pipefile" in scopes,
        "variable": lambda: "variable.other.pipefile" in scopes,
        "py-keyword": lambda: any_(lambda s: s.endswith(".python") and s.startswith(("keyword.", "storage.type."))),
        "sh-builtin": lambda: "support.function.builtin.shell" in scopes,
        "sh-variable": lambda: any_(lambda s: s.startswith("variable.") and s.endswith(".shell")),
        "shell-body": lambda: "meta.embedded.block.shell.pipefile" in scopes,
        "python-body": lambda: "meta.embedded.block.python.pipefile" in scopes,
    }[category]()


VIM_GROUPS = {
    "comment": {"pipefileComment", "pipefileLineComment", "pythonComment", "shComment"},
    "keyword": {
        "pipefileRuleKeyword",
        "pipefileStatement",
        "pipefileDefaultKeyword",
        "pipefileIncludeKeyword",
        "pipefileImportKeyword",
        "pythonInclude",
    },
    "section": {"pipefileSection"},
    "rule-name": {"pipefileRuleName"},
    "docstring": {"pipefileDocstring"},
    "string": {
        "pipefileExprString",
        "pipefileQuote",
        "pipefileTargetString",
        "pythonString",
        "pythonQuotes",
        "pythonTripleQuotes",
        "pythonRawString",
        "shDoubleQuote",
        "shSingleQuote",
        "shQuote",
        "pipefileDocstring",
    },
    "path": {"pipefilePath"},
    "wildcard": {"pipefileWildcard"},
    "wildcard-regex": {"pipefileWildcardRegex"},
    "substitution": {"pipefileSubstitution"},
    "escape": {"pipefileBraceEscape", "pipefileShellBraceEscape"},
    "operator": {"pipefileAssignOp"},
    "variable": {"pipefileAssignName"},
    "py-keyword": {
        "pythonStatement",
        "pythonConditional",
        "pythonRepeat",
        "pythonInclude",
        "pythonException",
        "pythonOperator",
        "pythonAsync",
    },
    "sh-builtin": {"shStatement"},
    "sh-variable": {"shDeref", "shDerefSimple", "shDerefVar"},
    "shell-body": {"pipefileShellBody", "pipefileShortBody"},
    "python-body": {"pipefilePythonBody", "pipefilePythonBlock"},
}


def vim_has(category: str, names: list[str]) -> bool | None:
    return bool(VIM_GROUPS[category] & set(names))


def pygments_has(category: str, token) -> bool | None:
    from pygments.token import Comment, Keyword, Name, Operator, String

    from pyrule.highlight import SUBSTITUTION

    if token is None:
        return False
    return {
        "comment": lambda: token in Comment,
        "keyword": lambda: token in Keyword and token not in Keyword.Reserved,
        "section": lambda: token in Keyword.Reserved,
        "rule-name": lambda: token in Name.Function,
        "docstring": lambda: token in String.Doc,
        "string": lambda: token in String and token not in String.Other and token not in SUBSTITUTION,
        "path": lambda: token in String.Other,
        "wildcard": lambda: token in Name.Variable,
        "wildcard-regex": lambda: token in String.Regex,
        "substitution": lambda: token in SUBSTITUTION,
        "escape": lambda: token in String.Escape,
        "operator": lambda: token in Operator,
        "variable": lambda: token in Name.Variable,
        "py-keyword": lambda: token in Keyword,
        "sh-builtin": lambda: token in Name.Builtin,
        "sh-variable": lambda: token in Name.Variable,
        # a token does not say which lexer made it
        "shell-body": lambda: None,
        "python-body": lambda: None,
    }[category]()


# --- checking ----------------------------------------------------------------------------------------


def check(expects: list[Expect], has, describe) -> list[str]:
    """Failures among `expects`. `has(category, line, col)` says whether a character is in a
    category (None: the engine cannot tell, not checked); `describe(line, col)` says what the
    engine made of it, for the failure message."""
    failures = []
    for e in expects:
        category = e.category.lstrip("!")
        negative = e.category.startswith("!")
        verdicts = {}
        for col in range(e.col, e.col + e.length):
            if not e.text[col - e.col].isspace():
                verdicts[col] = has(category, e.line, col)
        verdicts = {c: v for c, v in verdicts.items() if v is not None}
        bad = [c for c, v in verdicts.items() if v == negative]
        if bad:
            failures.append(f"{e}; got {describe(e.line, bad[0])} at column {bad[0] + 1}")
    return failures
