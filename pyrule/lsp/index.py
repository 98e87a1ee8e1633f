"""What a parsed Pipefile defines, and where: rules, top-level names, includes, `default:`.

Built from the AST alone (no Python of the Pipefile runs): a rule's params, named inputs and
outputs, resources and wildcards are read from the source text of its sections with Python's
parser, when a feature asks for them.
"""

from __future__ import annotations

import ast
import os
import re
from functools import lru_cache

from .. import syntax as S
from ..errors import Location
from ..patterns import wildcard_names
from ..record import field, record

_HEADER_NAME = re.compile(r"(rule|checkpoint)[ \t]+(\w+)")


@record
class Span:
    """A place in a document: 0-based line, start and end columns (characters)."""

    line: int
    start: int
    end: int


@record
class RuleInfo:
    name: str
    kind: str  # "rule", "checkpoint" or "short" (a Make-style rule)
    decl: S.RuleDecl | S.ShortRule
    name_span: Span
    first_line: int  # 0-based, the header
    last_line: int  # 0-based, the last line that belongs to it
    file: str
    offset: int = 0  # lines to add to the lines of decl's locations (see document.Analysis)

    @property
    def doc(self) -> str | None:
        return self.decl.doc if isinstance(self.decl, S.RuleDecl) else None

    @property
    def sections(self) -> dict[str, S.Section]:
        return self.decl.sections if isinstance(self.decl, S.RuleDecl) else {}

    def keys(self, section: str) -> list[str]:
        """The names given in a section: `params: a = 1, b = 2` -> ['a', 'b']."""
        sec = self.sections.get(section)
        if sec is None:
            return []
        return [k for code in sec.values for k in _arguments(code.text)[1]]

    def wildcards(self) -> list[str]:
        if isinstance(self.decl, S.ShortRule):
            texts = [t.text for t in self.decl.outputs]
        else:
            sec = self.sections.get("output")
            texts = [s for code in (sec.values if sec else []) for s in _arguments(code.text)[0]]
        names: list[str] = []
        for text in texts:
            names += [n for n in wildcard_names(text) if n not in names]
        return names


@record
class NameInfo:
    name: str
    kind: str  # "variable", "function", "class", "import"
    span: Span
    text: str  # the source that defines it (an assignment's value, a def's first line)
    file: str


@record
class Index:
    file: str  # the document's path
    rules: dict[str, RuleInfo] = field(default_factory=dict)
    names: dict[str, NameInfo] = field(default_factory=dict)
    includes: list[tuple[Span, str | None]] = field(default_factory=list)  # where, the path (when literal)
    default: S.Default | None = None
    # statement, its first and last line (0-based), the lines to add to its locations' lines
    statements: list[tuple[object, int, int, int]] = field(default_factory=list)


def build(pieces: list[tuple[int, list]], text: str, path: str) -> Index:
    lines = text.split("\n")
    index = Index(path)
    statements = [(s, offset) for offset, stmts in pieces for s in stmts]
    starts = [s.loc.line - 1 + offset for s, offset in statements] + [len(lines)]
    for i, (stmt, offset) in enumerate(statements):
        first, last = starts[i], _last_line(lines, starts[i], starts[i + 1])
        index.statements.append((stmt, first, last, offset))
        if isinstance(stmt, S.RuleDecl):
            line = lines[first]
            m = _HEADER_NAME.match(line, stmt.loc.col - 1)
            span = Span(first, m.start(2), m.end(2)) if m else Span(first, 0, len(line))
            index.rules.setdefault(stmt.name, RuleInfo(stmt.name, stmt.kind, stmt, span, first, last, path, offset))
        elif isinstance(stmt, S.ShortRule):
            out = stmt.outputs[0]
            start = out.loc.col - 1
            span = Span(first, start, start + len(out.text) + (2 if out.quoted else 0))
            index.rules.setdefault(out.text, RuleInfo(out.text, "short", stmt, span, first, last, path, offset))
        elif isinstance(stmt, S.Assignment):
            span = Span(first, stmt.loc.col - 1, stmt.loc.col - 1 + len(stmt.name))
            index.names.setdefault(stmt.name, NameInfo(stmt.name, "variable", span,
                                                       f"{stmt.name} {stmt.op} {stmt.value.text.strip()}", path))
        elif isinstance(stmt, S.Import):
            for name in _imported(stmt.code.text):
                index.names.setdefault(name, NameInfo(name, "import", _span_of(lines, first, name),
                                                      stmt.code.text.strip(), path))
        elif isinstance(stmt, S.PythonBlock):
            for name, kind, line, col, source in _defined(stmt.body.text):
                at = stmt.body.loc.line - 1 + offset + line - 1
                start = col + stmt.body.loc.col - 1
                index.names.setdefault(name, NameInfo(name, kind, Span(at, start, start + len(name)), source, path))
        elif isinstance(stmt, S.Include):
            target = _literal(stmt.path.text)
            span = Span(first, stmt.path.loc.col - 1, stmt.path.loc.col - 1 + len(stmt.path.text.rstrip()))
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), target)) if target else None
            index.includes.append((span, resolved))
        elif isinstance(stmt, S.Default):
            index.default = stmt
    return index


def _last_line(lines: list[str], first: int, next_start: int) -> int:
    """The last line of a statement that starts at `first`: before the next one, without the
    blank and comment lines between them."""
    last = next_start - 1
    while last > first and (not lines[last].strip() or lines[last].lstrip().startswith("#")):
        last -= 1
    return last


def _span_of(lines: list[str], line: int, word: str) -> Span:
    m = re.search(rf"\b{re.escape(word)}\b", lines[line]) if line < len(lines) else None
    return Span(line, m.start(), m.end()) if m else Span(line, 0, 0)


@lru_cache(maxsize=4096)
def _arguments(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Of call arguments `a, "x/{s}", name = ...`: the string constants anywhere in them, and
    the names given (keywords)."""
    try:
        call = ast.parse(f"_({text}\n)", mode="eval").body
    except SyntaxError:
        return (), ()
    assert isinstance(call, ast.Call)
    strings = tuple(n.value for n in ast.walk(call) if isinstance(n, ast.Constant) and isinstance(n.value, str))
    return strings, tuple(k.arg for k in call.keywords if k.arg)


@lru_cache(maxsize=256)
def _imported(text: str) -> tuple[str, ...]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return ()
    return tuple((a.asname or a.name).split(".")[0] for node in tree.body
                 if isinstance(node, (ast.Import, ast.ImportFrom)) for a in node.names if a.name != "*")


@lru_cache(maxsize=256)
def _defined(text: str) -> tuple[tuple[str, str, int, int, str], ...]:
    """What a `python:` block defines at its top level: (name, kind, line, column, source line)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return ()
    lines = text.split("\n")
    found = []
    for node in tree.body:
        source = lines[node.lineno - 1].strip()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            col = lines[node.lineno - 1].index(node.name, node.col_offset)
            found.append((node.name, kind, node.lineno, col, source))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        found.append((n.id, "variable", n.lineno, n.col_offset, source))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                name = (a.asname or a.name).split(".")[0]
                col = lines[node.lineno - 1].find(name)
                found.append((name, "import", node.lineno, max(col, 0), source))
    return tuple(found)


def _literal(text: str) -> str | None:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def enclosing_rule(index: Index, line: int) -> RuleInfo | None:
    """The rule whose lines hold `line` (0-based)."""
    for info in index.rules.values():
        if info.first_line <= line <= info.last_line:
            return info
    return None


def location_span(loc: Location, lines: list[str]) -> Span:
    """The span an error's location points at: a `{...}` field, a word, or one character."""
    line = loc.line - 1
    text = lines[line] if 0 <= line < len(lines) else ""
    start = min(max(loc.col - 1, 0), len(text))
    if text[start:start + 1] == "{":
        close = text.find("}", start)
        return Span(line, start, close + 1 if close >= 0 else len(text))
    m = re.compile(r"\w+|\S").match(text, start)
    return Span(line, start, m.end() if m else start)
