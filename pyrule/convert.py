"""`pyrule --convert Snakefile`: a Snakefile rewritten as an equivalent Pipefile.

The Snakefile is read with Python's own tokenizer (Snakemake's syntax is Python's tokens with
a few keywords), grouped into logical lines and indentation blocks; Python expressions are kept
verbatim, sliced from the source. What has no faithful Pipefile spelling is kept in place as a
`#` comment and reported as a Note with its Snakefile line: nothing is dropped silently.
"""

from __future__ import annotations

import ast
import io
import keyword
import os
import re
import sys
import textwrap
import tokenize
from dataclasses import dataclass, field
from tokenize import TokenInfo

from .errors import Location, PyruleError, UsageError

# Top-level words of Snakemake that pyrule has no counterpart for: kept as comments.
_UNSUPPORTED_TOP = {
    "workdir": "pyrule runs in the Pipefile's directory (use -C DIR)",
    "ruleorder": "pyrule has no ruleorder: give the preferred rule a higher 'priority:'",
    "onstart": "pyrule has no onstart/onsuccess/onerror handlers",
    "onsuccess": "pyrule has no onstart/onsuccess/onerror handlers",
    "onerror": "pyrule has no onstart/onsuccess/onerror handlers",
    "report": "pyrule's report (--report) is built from the run's records, not a template",
    "container": "pyrule runs no containers",
    "containerized": "pyrule runs no containers",
    "singularity": "pyrule runs no containers",
    "conda": "pyrule has no conda environments yet",
    "envvars": "pyrule does not check environment variables",
    "pepfile": "pyrule has no PEP support",
    "pepschema": "pyrule has no PEP support",
    "scattergather": "pyrule has no scatter/gather declarations: use expand() and a python: helper",
    "inputflags": "pyrule has no default input flags",
    "outputflags": "pyrule has no default output flags",
    "storage": "pyrule has no remote storage",
    "resource_scopes": "pyrule has no resource scopes",
    "module": "pyrule has no Snakemake modules: convert the module's Snakefile and include it",
    "pathvars": "pyrule has no path variables: use top-level names",
    "subworkflow": "pyrule has no subworkflows: run pyrule -C DIR in the other directory, or include its rules",
}

# Rule sections with no faithful Pipefile spelling, and why.
_UNSUPPORTED_SECTION = {
    "conda": "pyrule has no conda environments yet",
    "container": "pyrule runs no containers",
    "singularity": "pyrule runs no containers",
    "envmodules": "pyrule loads no environment modules",
    "wrapper": "pyrule runs no Snakemake wrappers: write the wrapper's command as shell:",
    "notebook": "pyrule runs no notebooks: use shell: jupyter nbconvert --execute ...",
    "cwl": "pyrule runs no CWL tools",
    "template_engine": "pyrule renders no templates",
    "benchmark": "pyrule records each job's time and memory itself (pyrule --stats)",
    "message": "pyrule prints the job's name; the docstring is shown by --list",
    "shadow": "pyrule has no shadow directories",
    "cache": "pyrule has no between-workflow output cache",
    "handover": "pyrule has no handover rules",
    "name": "pyrule takes the rule's name from its header",
    "version": "pyrule has no rule versions",
    "pathvars": "pyrule has no path variables",
}

# Snakemake helpers in expressions that pyrule does not define (kept, reported).
_UNKNOWN_HELPERS = {
    "branch": "pyrule has no branch(): write a function of wildcards",
    "lookup": "pyrule has no lookup(): write a function of wildcards",
    "evaluate": "pyrule has no evaluate(): write a function of wildcards",
    "exists": "pyrule has no exists()",
    "storage": "pyrule has no remote storage",
    "local": "pyrule has no local() flag",
    "update": "pyrule has no update() flag",
    "before_update": "pyrule has no before_update() flag",
    "from_queue": "pyrule has no from_queue()",
    "Paramspace": "pyrule has no Paramspace",
    "workflow": "pyrule's workflow object is not Snakemake's",
}

# What Snakemake's Snakefile namespace has without an import (the imports of snakemake/workflow.py).
_IMPLICIT = {name: f"import {name}" for name in (
    "os", "sys", "re", "subprocess", "hashlib", "platform", "copy", "tempfile", "tarfile", "threading")} | {
    "Path": "from pathlib import Path", "datetime": "from datetime import datetime",
    "OrderedDict": "from collections import OrderedDict", "namedtuple": "from collections import namedtuple",
    "partial": "from functools import partial", "chain": "from itertools import chain",
}
_PATH_METHODS = {"open": "open(path)", "exists": "os.path.exists(path)", "mtime": "os.path.getmtime(path)",
                 "size": "os.path.getsize(path)", "flags": "nothing: flags are not kept on paths"}
_RESERVED = {"rule", "checkpoint", "include", "default", "python", "import", "from"}
_WILDCARD = re.compile(r"\{\{|\}\}|\{\s*(\w+)\s*(,[^{}]*(?:\{\d+(?:,\d*)?\}[^{}]*)*)?\}")


@dataclass
class Note:
    """Something the conversion could not carry over faithfully."""

    file: str
    line: int
    what: str
    converted: bool = False  # True: translated approximately (kept as code); False: kept as a comment

    def __str__(self) -> str:
        how = "check" if self.converted else "not converted"
        return f"{self.file}:{self.line}: {how}: {self.what}"


@dataclass
class Conversion:
    text: str
    notes: list[Note] = field(default_factory=list)


@dataclass
class _Line:
    """A logical line: its significant tokens and the physical lines it spans."""

    depth: int
    toks: list[TokenInfo]
    start: int
    end: int


class ConvertError(PyruleError):
    """The Snakefile cannot be read (not Python tokens, a missing file)."""

    def __init__(self, message: str, file: str, line: int) -> None:
        super().__init__(message, Location(file, line) if line else None,
                         "pyrule --convert reads a Snakefile (Snakemake's rule syntax on Python tokens)")


def convert_command(snakefile: str, output: str | None, console) -> int:
    """`pyrule --convert SNAKEFILE [-o FILE]`: the Pipefile on stdout or in FILE, and what did
    not convert on stderr, one line each with the Snakefile's line. Exit 0 when it converted."""
    if not os.path.isfile(snakefile):
        raise UsageError(f"--convert {snakefile}: no such file", hint="name an existing Snakefile")
    dest = os.path.dirname(os.path.abspath(output)) if output else os.getcwd()
    result = convert_file(snakefile, dest)
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(result.text)
    else:
        sys.stdout.write(result.text)
    for n in result.notes:
        console.plain(str(n))
    if result.notes:
        kept = sum(not n.converted for n in result.notes)
        console.plain(f"{len(result.notes)} note(s): {kept} construct(s) kept as comments, "
                      f"{len(result.notes) - kept} converted approximately (check them)")
    return 0


def convert_file(path: str, dest_dir: str | None = None) -> Conversion:
    """Convert the Snakefile at `path`; script paths are made relative to `dest_dir` (where the
    Pipefile will be; default: the current directory)."""
    conv = _Converter(dest_dir or os.getcwd())
    text = conv.convert(path)
    return Conversion(text, conv.notes)


def convert_text(source: str, filename: str = "Snakefile", dest_dir: str | None = None) -> Conversion:
    conv = _Converter(dest_dir or os.path.dirname(os.path.abspath(filename)))
    out = conv.convert_source(source, filename)
    return Conversion(out, conv.notes)


def _logical_lines(source: str, filename: str, comments: set[int]) -> list[_Line]:
    """The logical lines of `source`; adds the numbers of its comment-only lines to `comments`."""
    lines: list[_Line] = []
    depth = 0
    current: list[TokenInfo] = []
    current_depth = 0
    skip = (tokenize.NL, tokenize.COMMENT, tokenize.ENCODING)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.INDENT:
                depth += 1
            elif tok.type == tokenize.DEDENT:
                depth -= 1
            elif tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if current:
                    lines.append(_Line(current_depth, current, current[0].start[0], tok.start[0]))
                current = []
            elif tok.type == tokenize.COMMENT and not tok.line[: tok.start[1]].strip():
                comments.add(tok.start[0])
            elif tok.type not in skip:
                if not current:
                    current_depth = depth
                current.append(tok)
    except (tokenize.TokenError, IndentationError, SyntaxError) as e:
        line = getattr(e, "lineno", None) or (e.args[1][0] if len(e.args) > 1 else 1)
        raise ConvertError(f"not Python tokens: {e.args[0]}", filename, line) from None
    if current:
        lines.append(_Line(current_depth, current, current[0].start[0], current[-1].end[0]))
    return lines


def _is_string(tok: TokenInfo) -> bool:
    return tok.type == tokenize.STRING and not re.match(r"[rRbBuU]*[fF]", tok.string)


def _literal(toks: list[TokenInfo]) -> str | None:
    """The value of an implicit concatenation of plain string literals, else None."""
    if not toks or not all(_is_string(t) for t in toks):
        return None
    try:
        value = "".join(ast.literal_eval(t.string) for t in toks)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _quote(value: str) -> str:
    """A Python literal for value, in double quotes where it can be."""
    r = repr(value)
    if r.startswith("'") and '"' not in value:
        r = '"' + r[1:-1].replace("\\'", "'") + '"'
    return r


def _split(toks: list[TokenInfo], sep: str = ",") -> list[list[TokenInfo]]:
    """Split tokens at top-level `sep` operators (brackets respected)."""
    parts: list[list[TokenInfo]] = [[]]
    level = 0
    in_lambda = False  # a lambda's parameters: their commas separate no items
    for t in toks:
        if t.type == tokenize.OP and t.string in "([{":
            level += 1
        elif t.type == tokenize.OP and t.string in ")]}":
            level -= 1
        if level == 0 and t.type == tokenize.NAME and t.string == "lambda":
            in_lambda = True
        elif level == 0 and in_lambda and t.string == ":":
            in_lambda = False
        if level == 0 and not in_lambda and t.type == tokenize.OP and t.string == sep:
            parts.append([])
        else:
            parts[-1].append(t)
    return [p for p in parts if p]


def _call(toks: list[TokenInfo]) -> tuple[str, list[TokenInfo]] | None:
    """`NAME(args)` covering all of toks: (NAME, the args' tokens)."""
    if len(toks) >= 3 and toks[0].type == tokenize.NAME and toks[1].string == "(" and toks[-1].string == ")":
        level = 0
        for i, t in enumerate(toks[1:], 1):
            level += t.string in "([{" and t.type == tokenize.OP
            level -= t.string in ")]}" and t.type == tokenize.OP
            if level == 0:
                return (toks[0].string, toks[2:-1]) if i == len(toks) - 1 else None
    return None


class _Item:
    """One item of a section: an optional name and the expression's tokens."""

    def __init__(self, toks: list[TokenInfo]) -> None:
        self.name: str | None = None
        if len(toks) > 2 and toks[0].type == tokenize.NAME and toks[1].string == "=":
            self.name, toks = toks[0].string, toks[2:]
        self.toks = toks
        self.line = toks[0].start[0] if toks else 0


class _Converter:
    def __init__(self, dest_dir: str) -> None:
        self.dest_dir = os.path.abspath(dest_dir)
        self.notes: list[Note] = []
        self.anonymous = 0
        self.snakemake_names: set[str] = set()

    # --- files ---------------------------------------------------------------------------------

    def convert(self, path: str) -> str:
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
        except OSError as e:
            raise ConvertError(f"cannot read it: {e.strerror}", path, 0) from None
        return self.convert_source(source, path)

    def convert_source(self, source: str, filename: str) -> str:
        self.file = filename
        self.src = source.replace("\r\n", "\n").split("\n")
        self.comment_lines: set[int] = set()
        self.lines = _logical_lines(source.replace("\r\n", "\n"), filename, self.comment_lines)
        self.constraints = self._global_constraints()
        self.priorities = self._rule_orders()
        self.local_rules = {t.string for line in self.lines if line.depth == 0
                            and [t.string for t in line.toks[:2]] == ["localrules", ":"]
                            for t in line.toks[2:] if t.type == tokenize.NAME}
        out: list[str] = []
        last = 0  # the last source line emitted or skipped
        i = 0
        python_run: list[str] = []  # consecutive top-level Python statements: one python: block

        def flush() -> None:
            if python_run:
                out.append("python:")
                out.extend(("    " + ln).rstrip() for ln in python_run)
                python_run.clear()

        while i < len(self.lines):
            line = self.lines[i]
            j = i + 1
            while j < len(self.lines) and (self.lines[j].depth > line.depth or self.lines[j].toks[0].string in (
                    "elif", "else", "except", "finally") and line.toks[0].string in ("if", "for", "while", "try")):
                j += 1
            block = self.lines[i + 1 : j]
            end = block[-1].end if block else line.end
            gap = [ln.strip() for ln in self.src[last : line.start - 1]]
            kind, text = self._statement(line, block, end)
            if kind == "python" and python_run and not any(gap):
                python_run.extend(self.src[last : end])
            else:
                flush()
                out.extend(gap)
                if kind == "python":
                    python_run.extend(self.src[line.start - 1 : end])
                else:
                    out.extend(text)
            last = end
            i = j
        flush()
        out.extend(ln.strip() for ln in self.src[last:])
        imports = self._implicit_imports()
        if imports:
            at = next((i for i, ln in enumerate(out) if ln and not ln.startswith("#")), len(out))
            out[at:at] = [*imports, ""]
        while out and not out[-1]:
            out.pop()
        while out and not out[0]:
            out.pop(0)
        return "\n".join(out) + "\n"

    def _implicit_imports(self) -> list[str]:
        """Imports of the modules and names that Snakemake's Snakefile namespace has without an
        import (os, sys, re, Path, ...), for those the Snakefile uses and never binds itself."""
        used: set[str] = set()
        bound: set[str] = set()
        for line in self.lines:
            toks = line.toks
            binding = toks[0].string in ("import", "from", "def", "class")
            for i, t in enumerate(toks):
                if t.type != tokenize.NAME or (i and toks[i - 1].string == "."):
                    continue
                after = toks[i + 1].string if i + 1 < len(toks) else ""
                before = toks[i - 1].string if i else ""
                if binding or before in ("def", "class", "for", "as", "global") or after in ("=", ","):
                    bound.add(t.string)
                elif after in (".", "("):
                    used.add(t.string)
        return [_IMPLICIT[name] for name in sorted(used - bound) if name in _IMPLICIT]

    def note(self, line: int, what: str, converted: bool = False) -> None:
        self.notes.append(Note(self.file, line, what, converted))

    def _commented(self, start: int, end: int, indent: str = "") -> list[str]:
        return [f"{indent}# {ln}".rstrip() for ln in self.src[start - 1 : end]]

    def _text(self, toks: list[TokenInfo]) -> str:
        """The source text from the first token to the last, as written."""
        (l1, c1), (l2, c2) = toks[0].start, toks[-1].end
        if l1 == l2:
            return self.src[l1 - 1][c1:c2]
        parts = [self.src[l1 - 1][c1:]] + self.src[l1 : l2 - 1] + [self.src[l2 - 1][:c2]]
        return "\n".join(parts)

    # --- top level -----------------------------------------------------------------------------

    def _global_constraints(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for i, line in enumerate(self.lines):
            if line.depth == 0 and [t.string for t in line.toks[:2]] == ["wildcard_constraints", ":"]:
                j = i + 1
                block = []
                while j < len(self.lines) and self.lines[j].depth > 0:
                    block.append(self.lines[j])
                    j += 1
                found.update(self._constraints(line.toks[2:] + [t for b in block for t in b.toks]))
        return found

    def _rule_orders(self) -> dict[str, int]:
        """`ruleorder: a > b > c` as priorities: each rule above every rule it is preferred to."""
        beats: dict[str, set[str]] = {}
        for line in self.lines:
            if line.depth == 0 and [t.string for t in line.toks[:2]] == ["ruleorder", ":"]:
                names = [t.string for t in line.toks[2:] if t.type == tokenize.NAME]
                for a, b in zip(names, names[1:]):
                    beats.setdefault(a, set()).add(b)
        priorities: dict[str, int] = {}

        def rank(name: str, seen: frozenset[str]) -> int:
            if name in seen:
                return 0  # a cycle: Snakemake refuses it too
            if name not in priorities:
                priorities[name] = max((1 + rank(b, seen | {name}) for b in beats.get(name, ())), default=0)
            return priorities[name]

        for name in beats:
            rank(name, frozenset())
        return {name: p for name, p in priorities.items() if p}

    def _constraints(self, toks: list[TokenInfo]) -> dict[str, str]:
        found = {}
        for item in map(_Item, _split(toks)):
            value = _literal(item.toks)
            if item.name and value is not None:
                found[item.name] = value
            else:
                self.note(item.line, f"wildcard constraint '{self._text(item.toks)}' is not a name = \"regex\" pair")
        return found

    def _statement(self, line: _Line, block: list[_Line], end: int) -> tuple[str, list[str]]:
        words = [t.string for t in line.toks[:3]]
        first = words[0]
        if first in ("rule", "checkpoint") and (words[1:2] == [":"] or (len(words) > 2 and words[2] == ":")):
            return "rule", self._rule(line, block, end)
        if words[1:2] == [":"] and line.toks[0].type == tokenize.NAME and not keyword.iskeyword(first):
            return "directive", self._directive(first, line, block, end)
        if first == "use" and "rule" in words:
            self.note(line.start, "'use rule' (Snakemake modules): pyrule has no modules; write the rule out")
            return "comment", self._commented(line.start, end)
        if first in ("module", "storage", "subworkflow") and len(words) > 2 and words[2] == ":":
            self.note(line.start, f"{first}: " + _UNSUPPORTED_TOP[first])
            return "comment", self._commented(line.start, end)
        return self._python(line, block, end)

    def _python(self, line: _Line, block: list[_Line], end: int) -> tuple[str, list[str]]:
        toks = [t for b in [line, *block] for t in b.toks]
        names = {t.string for t in toks if t.type == tokenize.NAME}
        if any(b.toks[0].string in ("rule", "checkpoint", "module", "use", "subworkflow", "storage")
               and len(b.toks) > 1 and (b.toks[1].type == tokenize.NAME or b.toks[1].string == ":") for b in block):
            self.note(line.start, "rules inside a Python block (if/for/def): pyrule defines rules at the top level")
            return "comment", self._commented(line.start, end)
        if line.toks[0].string in ("import", "from"):
            module = line.toks[1].string
            if module == "snakemake":
                imported = [t.string for t in line.toks[2:] if t.type == tokenize.NAME and t.string not in ("import", "as")]
                self.snakemake_names.update(imported if line.toks[0].string == "from" else ["snakemake"])
                self.note(line.start, f"import from snakemake ({', '.join(imported) or 'snakemake'}): not available in pyrule")
                return "comment", self._commented(line.start, end)
            if not block:
                return "import", self.src[line.start - 1 : end]
        used = names & self.snakemake_names
        if used:
            self.note(line.start, f"uses {', '.join(sorted(used))} from snakemake: not available in pyrule")
            return "comment", self._commented(line.start, end)
        if "shell" in names and re.match(r"shell\s*\.", self._text(line.toks)):
            self.note(line.start, "shell.prefix/executable/suffix: pyrule runs bodies with bash -euo pipefail")
            return "comment", self._commented(line.start, end)
        calls_shell = any(a.string == "shell" and b.string == "(" and (i == 0 or toks[i - 1].string != ".")
                          for i, (a, b) in enumerate(zip(toks, toks[1:])))
        if calls_shell and line.toks[0].string not in ("def", "class"):
            self.note(line.start, "shell() while the Snakefile is read: pyrule's shell() exists only in python: "
                                  "bodies of rules (use subprocess.run)")
            return "comment", self._commented(line.start, end)
        if calls_shell:
            self.note(line.start, f"'{line.toks[1].string}' calls shell(): pyrule's shell() exists only in "
                                  "python: bodies (pass it in, or use subprocess.run)", converted=True)
        for name in sorted(names & {"workflow"}):
            self.note(line.start, f"uses '{name}': " + _UNKNOWN_HELPERS[name], converted=True)
        self._path_methods(toks)
        if (not block and len(line.toks) > 2 and line.toks[0].type == tokenize.NAME and line.toks[1].string == "="
                and line.toks[0].string not in _RESERVED):
            value = self._text(line.toks[2:])
            try:
                ast.parse(value.strip(), mode="eval")
            except SyntaxError:
                pass
            else:
                first_line = self.src[line.start - 1]
                return "assign", [first_line[: line.toks[0].start[1]] + f"{line.toks[0].string} = {value}"]
        return "python", []

    def _path_methods(self, toks: list[TokenInfo]) -> None:
        """`output[0].open()`: Snakemake's paths are str with methods, pyrule's are plain str."""
        for a, dot, name in zip(toks, toks[1:], toks[2:]):
            if a.string == "]" and dot.string == "." and name.string in _PATH_METHODS:
                self.note(name.start[0], f"'{name.string}()' of a path: pyrule's paths are plain strings "
                                         f"(write {_PATH_METHODS[name.string]})", converted=True)

    def _directive(self, word: str, line: _Line, block: list[_Line], end: int) -> list[str]:
        value = line.toks[2:] + [t for b in block for t in b.toks]
        if word == "configfile":
            return [f"configfile: {self._text(value)}"]
        if word == "include":
            return self._include(value, line, end)
        if word == "wildcard_constraints":  # read before (_global_constraints), inlined into outputs
            return ["# " + ln for ln in self.src[line.start - 1 : end]] + [
                "# (inlined into each rule's outputs as {name,regex})"]
        if word == "ruleorder" and self.priorities:
            names = [t.string for t in value if t.type == tokenize.NAME]
            given = ", ".join(f"{n} {self.priorities.get(n, 0)}" for n in names)
            self.note(line.start, f"ruleorder: written as 'priority:' of the rules ({given}); a priority "
                                  "also orders ready jobs", converted=True)
            return self._commented(line.start, end)
        if word == "localrules":  # read before (convert_source): each such rule gets `local: True`
            return self._commented(line.start, end) + ["# (written as 'local: True' in each of these rules)"]
        if word in _UNSUPPORTED_TOP:
            self.note(line.start, f"{word}: {_UNSUPPORTED_TOP[word]}")
            return self._commented(line.start, end)
        self.note(line.start, f"unknown Snakemake directive '{word}:'")
        return self._commented(line.start, end)

    def _include(self, value: list[TokenInfo], line: _Line, end: int) -> list[str]:
        path = _literal(value)
        here = os.path.dirname(self.file)
        full = os.path.join(here, path) if path is not None else None
        if full is None or not os.path.isfile(full):
            why = "not a plain string" if path is None else f"{full} does not exist"
            self.note(line.start, f"include: {why}; convert the included Snakefile and include it")
            return self._commented(line.start, end)
        state = (self.file, self.src, self.lines, self.constraints, self.comment_lines, self.priorities)
        try:
            inner = self.convert(full).rstrip("\n").split("\n")
        finally:
            self.file, self.src, self.lines, self.constraints, self.comment_lines, self.priorities = state
        return [f"# include: {path} (converted in place)", *inner, f"# (end of {path})"]

    # --- rules ---------------------------------------------------------------------------------

    def _rule(self, line: _Line, block: list[_Line], end: int) -> list[str]:
        kind = line.toks[0].string
        if line.toks[1].string == ":":
            self.anonymous += 1
            name = f"rule_{self.anonymous}"
            self.note(line.start, f"an anonymous rule is named '{name}'", converted=True)
        else:
            name = line.toks[1].string
        sections: list[tuple[str, _Line, list[_Line]]] = []
        doc: str | None = None
        for b in block:
            if b.depth == line.depth + 1:
                if len(b.toks) > 1 and b.toks[0].type == tokenize.NAME and b.toks[1].string == ":":
                    sections.append((b.toks[0].string, b, []))
                elif not sections and all(_is_string(t) for t in b.toks) and doc is None:
                    doc = self._text(b.toks)
                else:
                    self.note(b.start, f"rule '{name}': a line that is no section")
                    sections.append(("?", b, []))
            elif sections:
                sections[-1][2].append(b)
        rule = _Rule(self, name, kind, sections, line)
        body = rule.convert()
        if not body:
            self.note(line.start, f"rule '{name}': nothing of it converts")
            return self._commented(line.start, end)
        out = [f"{kind} {name}:"]
        if doc:
            out.append("    " + doc)
        out += body
        if rule.default_target:
            out += ["", f"default: {name}"]
        return out


class _Rule:
    """One rule's sections, converted."""

    def __init__(self, conv: _Converter, name: str, kind: str,
                 sections: list[tuple[str, _Line, list[_Line]]], header: _Line) -> None:
        self.c, self.name, self.kind, self.sections, self.header = conv, name, kind, sections, header
        self.default_target = False
        self.inlined: set[str] = set()
        self.comments: list[str] = []  # resources kept as comments, shown before the section
        self.renames: dict[str, str] = {}  # {field} -> {field} in shell text

    def _value(self, head: _Line, block: list[_Line]) -> list[TokenInfo]:
        return head.toks[2:] + [t for b in block for t in b.toks]

    def _items(self, head: _Line, block: list[_Line]) -> list[_Item]:
        value = self._value(head, block)
        # A new logical line without a comma before it continues the item (Snakemake wraps the
        # block in a call's parentheses): split only at commas.
        return [_Item(p) for p in _split(value)]

    def _item_text(self, item: _Item, toks: list[TokenInfo] | None = None) -> str:
        toks = item.toks if toks is None else toks
        text = self.c._text(toks)
        level, lines = 0, set()
        for t in toks:  # a break outside brackets (string continuation lines): wrap in parentheses
            if level == 0:
                lines.add(t.start[0])
            level += t.type == tokenize.OP and t.string in "([{"
            level -= t.type == tokenize.OP and t.string in ")]}"
        if len(lines) > 1:
            text = f"({text})"
        return text

    def convert(self) -> list[str]:
        c = self.c
        constraints = dict(c.constraints)
        for word, head, block in self.sections:
            if word == "wildcard_constraints":
                constraints.update(c._constraints(self._value(head, block)))
        self.constraints = constraints
        out: list[str] = []
        resources_at = None
        resources: list[str] = []
        body = None
        previous = self.header.end
        for word, head, block in self.sections:
            end = block[-1].end if block else head.end
            stop = head.start - 1 if word == "run" else end
            out += ["    " + c.src[n - 1].strip() for n in range(previous + 1, stop + 1) if n in c.comment_lines]
            previous = end
            if word in ("input", "output"):
                out += self._paths(word, head, block)
            elif word == "params":
                out += self._params(head, block)
            elif word == "log":
                out += self._log(head, block, end)
            elif word in ("threads", "resources"):
                if resources_at is None:
                    resources_at = len(out)
                resources += self._resources(word, head, block)
            elif word in ("priority", "retries"):
                out.append(f"    {word}: {self.c._text(self._value(head, block))}")
            elif word == "group":  # Snakemake's job groups: pyrule packs the group's jobs started together
                out += self._group(head, block, end)
            elif word == "localrule":  # Snakemake's per-rule `localrule: True`
                out.append(f"    local: {self.c._text(self._value(head, block))}")
            elif word == "shell":
                body = ("shell", head, block)
                out.append("<body>")
            elif word == "run":
                body = ("run", head, block)
                out.append("<body>")
            elif word == "script":
                out += self._script(head, block, end)
            elif word == "wildcard_constraints":
                out += self._kept(head, end)
            elif word == "default_target":
                value = self.c._text(self._value(head, block))
                if value == "True":
                    self.default_target = True
                else:
                    c.note(head.start, f"default_target: {value}")
                    out += c._commented(head.start, end, "    ")
            elif word in _UNSUPPORTED_SECTION:
                c.note(head.start, f"rule '{self.name}': {word}: {_UNSUPPORTED_SECTION[word]}")
                out += self._kept(head, end)
            else:
                if word != "?":
                    c.note(head.start, f"rule '{self.name}': unknown section '{word}:'")
                out += self._kept(head, end)
        priority = c.priorities.get(self.name)
        if priority is not None:
            if any(word == "priority" for word, _h, _b in self.sections):
                c.note(self.header.start, f"rule '{self.name}': has a priority: and a ruleorder: (priority {priority})")
            else:
                out.insert(out.index("<body>") if "<body>" in out else len(out), f"    priority: {priority}")
        if self.name in c.local_rules and "localrule" not in [w for w, _h, _b in self.sections]:
            out.insert(out.index("<body>") if "<body>" in out else len(out), "    local: True")
        if resources_at is not None:
            out[resources_at:resources_at] = self.comments + (self._section("resources", resources) if resources else [])
        if body is not None:
            i = out.index("<body>")
            out[i : i + 1] = self._shell(body[1], body[2]) if body[0] == "shell" else self._run(body[1], body[2])
        if not any(ln.lstrip() and not ln.lstrip().startswith("#") for ln in out):
            return []
        return out

    def _kept(self, head: _Line, end: int) -> list[str]:
        """A section's source lines as comments, indented as a section, its block under it."""
        lines = self.c.src[head.start - 1 : end]
        indent = len(lines[0]) - len(lines[0].lstrip())
        return [f"    # {ln[indent:] if ln[:indent].isspace() else ln.strip()}".rstrip() for ln in lines]

    @staticmethod
    def _section(word: str, items: list[str]) -> list[str]:
        if len(items) == 1 and "\n" not in items[0]:
            return [f"    {word}: {items[0]}"]
        return [f"    {word}:"] + [f"        {it}," for it in items]

    # --- inputs and outputs ----------------------------------------------------------------------

    def _paths(self, word: str, head: _Line, block: list[_Line]) -> list[str]:
        items = []
        comments: list[str] = []
        for item in self._items(head, block):
            text = self._path(word, item, comments)
            items.append(f"{item.name} = {text}" if item.name else text)
        if word == "output":
            self._check_constraints(head)
        return comments + (self._section(word, items) if items else [])

    def _path(self, word: str, item: _Item, comments: list[str]) -> str:
        c = self.c
        call = _call(item.toks)
        toks = item.toks
        if call and call[0] == "unpack" and word == "input":
            toks = call[1]  # pyrule's input functions may return a dict of named paths
        elif call and call[0] in ("report", "pipe", "service", "ensure", "storage", "local"):
            inner = _split(call[1])[0]
            why = {"pipe": "a pipe() output is written as a regular file (no streaming)",
                   "service": "service(): pyrule has no service jobs (a server that runs while its consumers "
                              "do); the output is a regular file, and the job must end by itself",
                   "report": "report() flag dropped (pyrule --report lists every output)",
                   "ensure": "ensure() checks dropped"}.get(call[0], f"{call[0]}() dropped")
            c.note(item.line, f"rule '{self.name}': {why}", converted=call[0] != "service")
            comments.append(f"    # {word}: {c._text(item.toks)}".replace("\n", " "))
            toks = inner
        self._helpers(toks)
        if word == "output":
            return self._constrained(toks)
        return self._item_text(item, toks)

    def _helpers(self, toks: list[TokenInfo]) -> None:
        for i, t in enumerate(toks):
            if t.type == tokenize.NAME and t.string in _UNKNOWN_HELPERS and (
                    i + 1 < len(toks) and toks[i + 1].string in "(." and (i == 0 or toks[i - 1].string != ".")):
                self.c.note(t.start[0], f"rule '{self.name}': {t.string}: {_UNKNOWN_HELPERS[t.string]}", converted=True)

    def _constrained(self, toks: list[TokenInfo]) -> str:
        """The output item's text, with the rule's and the global wildcard constraints written
        into its string literals as {name,regex}."""
        if not self.constraints:
            return self.c._text(toks)
        pieces: list[str] = []
        pos = toks[0].start
        for t in toks:
            if _is_string(t):
                value = ast.literal_eval(t.string)
                new = self._constrain(value) if isinstance(value, str) else value
                if new != value:
                    pieces.append(self._between(pos, t.start))
                    pieces.append(_quote(new))
                    pos = t.end
        pieces.append(self._between(pos, toks[-1].end))
        return "".join(pieces)

    def _between(self, a: tuple[int, int], b: tuple[int, int]) -> str:
        if a == b:
            return ""
        fake = [TokenInfo(0, "", a, a, ""), TokenInfo(0, "", b, b, "")]
        return self.c._text(fake)

    def _constrain(self, pattern: str) -> str:
        seen: set[str] = set()

        def one(m: re.Match) -> str:
            name = m.group(1)
            if not name or m.group(2) or name not in self.constraints or name in seen:
                if name:
                    seen.add(name)
                return m.group(0)
            seen.add(name)
            self.inlined.add(name)
            return "{" + f"{name},{self.constraints[name]}" + "}"

        return _WILDCARD.sub(one, pattern)

    def _check_constraints(self, head: _Line) -> None:
        own: dict[str, str] = {}
        for word, h, block in self.sections:
            if word == "wildcard_constraints":
                own = self.c._constraints(self._value(h, block)) if not own else own
        missing = set(own) - self.inlined
        for name in sorted(missing):
            self.c.note(head.start, f"rule '{self.name}': wildcard constraint '{name}' could not be written "
                                    "into an output string", converted=True)

    # --- params, log, resources ------------------------------------------------------------------

    def _params(self, head: _Line, block: list[_Line]) -> list[str]:
        items = []
        comments = []
        positional = 0
        for item in self._items(head, block):
            text = self._item_text(item)
            call = _call(item.toks)
            if call and call[0] == "unpack":
                self.c.note(item.line, f"rule '{self.name}': params: unpack(): pyrule's params are named in the Pipefile")
                comments.append(f"    # params: {text}".replace("\n", " "))
                continue
            self._functions(item, "params")
            self._helpers(item.toks)
            if item.name is None:
                name = f"param{positional}"
                self.renames[f"params[{positional}]"] = f"params.{name}"
                positional += 1
                items.append(f"{name} = {text}")
            else:
                items.append(f"{item.name} = {text}")
        if positional == 1 and len(items) == 1:
            self.renames["params"] = "params.param0"
        if positional:
            self.c.note(head.start, f"rule '{self.name}': positional params are named param0, param1, ... "
                                    "(pyrule's params are named)", converted=True)
        return comments + (self._section("params", items) if items else [])

    def _functions(self, item: _Item, word: str) -> None:
        """A lambda or def of more than wildcards: pyrule passes only wildcards."""
        toks = item.toks
        if toks and toks[0].string == "lambda":
            args = []
            for t in toks[1:]:
                if t.string == ":":
                    break
                args.append(t)
            names = [p[0].string for p in _split(args) if p]
            if len(names) > 1:
                self.c.note(item.line, f"rule '{self.name}': a {word} function of {', '.join(names)}: "
                                       "pyrule calls it with the wildcards only", converted=True)

    def _group(self, head: _Line, block: list[_Line], end: int) -> list[str]:
        """`group: "name"`: pyrule's group: packs the group's jobs that are ready together into one
        Slurm allocation (Snakemake also runs a chain of dependent jobs in one); any other value
        (a function) is kept as a comment."""
        import ast

        text = self.c._text(self._value(head, block))
        try:
            name = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            name = None
        if isinstance(name, str) and name and all(ch.isalnum() or ch in "_.-" for ch in name):
            return [f"    group: {text}"]
        self.c.note(head.start, f"rule '{self.name}': group: {text}: pyrule's group: is a pack's name (a string)")
        return self._kept(head, end)

    def _log(self, head: _Line, block: list[_Line], end: int) -> list[str]:
        items = self._items(head, block)
        if len(items) != 1:
            self.c.note(head.start, f"rule '{self.name}': {len(items)} logs: a pyrule job has one log file")
            return self._kept(head, end)
        item = items[0]
        if item.name:
            self.renames[f"log.{item.name}"] = "log"
        if item.toks[0].string == "lambda":
            self.c.note(head.start, f"rule '{self.name}': log: a function: pyrule's log is a path (pattern)",
                        converted=True)
        return [f"    log: {self._item_text(item)}"]

    def _resources(self, word: str, head: _Line, block: list[_Line]) -> list[str]:
        if word == "threads":
            value = self._value(head, block)
            text = self.c._text(value)
            if value[0].string == "lambda":
                self.c.note(head.start, f"rule '{self.name}': threads: a function: pyrule's upto() takes a number",
                            converted=True)
            return [f"cores = upto({text})"]
        items = []
        for item in self._items(head, block):
            self._functions(item, "resources")
            if item.name is None:
                self.c.note(item.line, f"rule '{self.name}': a resource without a name")
                continue
            string = _literal(item.toks)
            if string is not None and item.name not in ("mem", "runtime"):
                self.c.note(item.line, f"rule '{self.name}': resource {item.name} = {string!r}: pyrule's resources "
                                       "are numbers (mem and runtime also take \"2G\", \"2h\")")
                self.comments.append(f"    # resources: {item.name} = {self._item_text(item)}")
                continue
            items.append(f"{item.name} = {self._item_text(item)}")
        return items

    # --- bodies ----------------------------------------------------------------------------------

    def _fields(self, text: str) -> str:
        """Snakemake's {field} spellings in a shell command, in pyrule's."""
        renames = {"threads": "resources.cores", **self.renames}

        def one(m: re.Match) -> str:
            inner = m.group(1)
            if inner is None:
                return m.group(0)
            name, _, spec = inner.partition(":")
            if spec == "q":
                inner = name
            return "{" + renames.get(inner, inner) + "}"

        return re.sub(r"\{\{|\}\}|\{([A-Za-z_][\w.\[\]]*(?::q)?)\}", one, text)

    def _shell(self, head: _Line, block: list[_Line]) -> list[str]:
        toks = self._value(head, block)
        text = _literal(toks)
        if text is None:  # an expression (f-string, variable): run it through pyrule's shell()
            self.c.note(head.start, f"rule '{self.name}': shell: an expression, not a string: "
                                    "run as python: shell(...)", converted=True)
            return ["    python:", "        shell(" + self._strings(self.c._text(toks)) + ")"]
        lines = textwrap.dedent(self._fields(text)).split("\n")
        while len(lines) > 1 and not lines[-1].strip():
            lines.pop()
        while len(lines) > 1 and not lines[0].strip():
            lines.pop(0)
        lines[0] = lines[0].lstrip()
        if len(lines) == 1:
            return [f"    shell: {lines[0]}"] if lines[0] else ["    shell: true"]
        if any(ln.lstrip().startswith("#") for ln in lines):
            self.c.note(head.start, f"rule '{self.name}': shell lines starting with '#' are comments in a "
                                    "Pipefile body (a here-document's such lines are lost)", converted=True)
        return ["    shell:"] + [("        " + ln).rstrip() for ln in lines]

    def _strings(self, code: str) -> str:
        """{field} renames inside the plain string literals of Python code."""
        out = []
        try:
            toks = list(tokenize.generate_tokens(io.StringIO(code).readline))
        except (tokenize.TokenError, SyntaxError):
            return code
        lines = code.split("\n")
        offsets = [0]
        for ln in lines:
            offsets.append(offsets[-1] + len(ln) + 1)
        pos = 0
        for t in toks:
            if _is_string(t):
                value = ast.literal_eval(t.string)
                if isinstance(value, str) and self._fields(value) != value:
                    a = offsets[t.start[0] - 1] + t.start[1]
                    b = offsets[t.end[0] - 1] + t.end[1]
                    out.append(code[pos:a])
                    out.append(_quote(self._fields(value)))
                    pos = b
        out.append(code[pos:])
        return "".join(out)

    def _run(self, head: _Line, block: list[_Line]) -> list[str]:
        c = self.c
        if len(head.toks) > 2:  # `run: statement` on one line
            code = c._text(head.toks[2:])
        else:
            code = textwrap.dedent("\n".join(c.src[head.end : block[-1].end])).strip("\n") if block else "pass"
        code = self._strings(code)
        names = {t.string for b in block for t in b.toks if t.type == tokenize.NAME} | {
            t.string for t in head.toks if t.type == tokenize.NAME}
        lines = code.split("\n")
        c._path_methods([t for b in block for t in b.toks])
        if "threads" in names:
            lines.insert(0, "threads = resources.cores")
        for name in sorted(names & ({"workflow", "snakemake"} | c.snakemake_names)):
            c.note(head.start, f"rule '{self.name}': run: uses '{name}', which pyrule does not define", converted=True)
        if len(lines) == 1:
            return [f"    python: {lines[0]}"]
        return ["    python:"] + [("        " + ln).rstrip() for ln in lines]

    def _script(self, head: _Line, block: list[_Line], end: int) -> list[str]:
        c = self.c
        toks = self._value(head, block)
        path = _literal(toks)
        if path is not None and not path.endswith(".py"):
            c.note(head.start, f"rule '{self.name}': script: {path}: pyrule runs Python scripts only "
                               "(use shell: Rscript ... for R)")
            return self._kept(head, end)
        if path is None:
            c.note(head.start, f"rule '{self.name}': script: an expression: its path is relative to the "
                               "Snakefile's directory in Snakemake, the Pipefile's in pyrule", converted=True)
            return [f"    script: {c._text(toks)}"]
        if not os.path.isabs(path):
            full = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(c.file)), path))
            path = os.path.relpath(full, c.dest_dir)
        return [f"    script: {_quote(path)}"]
