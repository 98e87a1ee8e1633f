"""A Pygments lexer for Pipefiles.

Registered as the Pygments plugin ``pipefile`` (entry point ``pygments.lexers``), so
``pygmentize -l pipefile Pipefile`` and any Pygments-based tool (Sphinx, mkdocs, rich) highlight
Pipefiles. Embedded code is delegated to Pygments' own lexers, like the editor grammars in
``editors/`` do:

* shell bodies (``shell:`` and the lines of a Make-style short rule) -> ``BashLexer``, extended so
  that ``{input}``, ``{output[0]}``, ``{params.x}``... are ``String.Interpol.Substitution`` (but
  not ``${HOME}``, ``{a,b}`` or awk's ``{print $1}``) and ``{{`` / ``}}`` are ``String.Escape``;
* ``python:`` bodies, imports and top-level assignments -> ``PythonLexer``;
* section values -> ``PythonLexer``, extended so that wildcards ``{name}`` / ``{name,regex}`` in
  strings are ``Name.Variable`` (the regex ``String.Regex``).

The statement structure follows ``grammar/pipefile.lark``: a body is raw text that ends where the
indentation ends, so nothing inside a body (an unclosed quote, a ``:``, a brace) can change how
the rest of the file is read. The keyword lists are checked against the grammar by
``tests/editors/test_keywords.py``.
"""

from __future__ import annotations

import re

from pygments.lexer import ExtendedRegexLexer, LexerContext, bygroups, default, include, inherit, using
from pygments.lexers.python import PythonLexer
from pygments.lexers.shell import BashLexer
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

__all__ = ["PipefileLexer", "SUBSTITUTION"]

#: The token of a substitution such as ``{input}`` in a shell body (styles without it use
#: ``String.Interpol``'s colour); kept apart from the shell's own ``${HOME}``.
SUBSTITUTION = String.Interpol.Substitution

STATEMENT_KEYWORDS = ("rule", "checkpoint", "default", "include", "configfile", "container", "import", "from", "python")
SECTIONS = ("output", "input", "params", "resources", "slurm", "log", "check", "retries", "priority", "env", "script", "local", "cache",
            "container", "venv", "group")
BODIES = ("shell", "python")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# a substitution in a shell body: a brace holding a name, attribute or index path only
_SUBSTITUTION = rf"(?<![${{]){{{_NAME}(?:\.{_NAME}|\[[^\[\]{{}}\s]*\])*}}(?!}})"
# a wildcard in a path or a string: {name} or {name,regex} (the regex may hold {m,n})
_WILDCARD = rf"({{)({_NAME})(?:(,)((?:[^{{}}\n]|{{[^{{}}\n]*}})*))?(}})"
_WILDCARD_TOKENS = bygroups(String.Interpol, Name.Variable, String.Interpol, String.Regex, String.Interpol)


class _ShellBodyLexer(BashLexer):
    """Bash, plus pyrule's ``{name}`` substitutions and ``{{``/``}}`` escapes anywhere."""

    name = "Pipefile shell body"
    aliases: list[str] = []
    filenames: list[str] = []
    mimetypes: list[str] = []

    tokens = {
        "root": [
            (r"\{\{|\}\}", String.Escape),
            (_SUBSTITUTION, SUBSTITUTION),
            # pyrule substitutes in the whole body text, comments included
            (r"#", Comment.Single, "pipefile-comment"),
            # quoted strings are lexed piecewise so that substitutions inside them show
            (r"\$?\"", String.Double, "string"),
            (r"'", String.Single, "pipefile-single"),
            inherit,
        ],
        "string": [
            (r"\{\{|\}\}", String.Escape),
            (_SUBSTITUTION, SUBSTITUTION),
            (r'(\\\\|\\[0-7]+|\\.|[^"\\${])+', String.Double),
            (r"\{", String.Double),
            inherit,
        ],
        "pipefile-comment": [
            (r"\n", Whitespace, "#pop"),
            (_SUBSTITUTION, SUBSTITUTION),
            (r"[^\n{]+|\{", Comment.Single),
        ],
        "pipefile-single": [
            (r"'", String.Single, "#pop"),
            (r"\{\{|\}\}", String.Escape),
            (_SUBSTITUTION, SUBSTITUTION),
            (r"[^'{}]+|[{}]", String.Single),
        ],
    }


class _ExpressionLexer(PythonLexer):
    """Python, plus wildcards inside (non-f) string literals: the value of a rule section."""

    name = "Pipefile section value"
    aliases: list[str] = []
    filenames: list[str] = []
    mimetypes: list[str] = []

    tokens = {
        "strings-single": [(r"\{\{|\}\}", String.Escape), (_WILDCARD, _WILDCARD_TOKENS), inherit],
        "strings-double": [(r"\{\{|\}\}", String.Escape), (_WILDCARD, _WILDCARD_TOKENS), inherit],
    }


def _nothing(lexer, match, ctx):
    """A callback for a zero-width rule that only changes the state."""
    return iter(())


def _python_end(text: str, pos: int) -> int:
    """End of the Python expression (a logical line) that starts at ``pos``: brackets, strings
    and backslash continuations may carry it over line ends. Returns the index of its newline."""

    depth = 0
    n = len(text)
    i = pos
    while i < n:
        c = text[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(depth - 1, 0)
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif c in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n" and len(quote) == 1:
                    break
                j += 1
            i = j + len(quote)
            continue
        elif c == "\\" and i + 1 < n and text[i + 1] == "\n":
            i += 2
            continue
        elif c == "\n" and depth == 0:
            return i
        i += 1
    return n


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _indent_width(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _block_end(text: str, pos: int, indent: int, python: bool) -> int:
    """End of a block whose first (header) line holds ``pos``: it goes on over blank lines, comment
    lines and lines indented deeper than ``indent``. Trailing blank and comment lines are left out;
    the newline of the last line is part of the block."""
    end = _python_end(text, pos) if python else _line_end(text, pos)
    last = end
    n = len(text)
    while end + 1 < n:
        start = end + 1
        stop = _line_end(text, start)
        line = text[start:stop]
        stripped = line.strip(" \t\r")
        # blank and comment lines never end a block (as in the parser); they are part of it when
        # more of it follows
        if stripped and not stripped.startswith("#"):
            if _indent_width(line) <= indent:
                break
            end = max(_python_end(text, start), stop) if python else stop
            last = end
        else:
            end = stop
    return min(last + 1, n)


class PipefileLexer(ExtendedRegexLexer):
    """Lexer for pyrule's Pipefiles (workflow files in a Make/Snakemake-like language)."""

    name = "Pipefile"
    aliases = ["pipefile"]
    filenames = ["Pipefile", "*.pipe", "*.pipefile"]
    mimetypes = ["text/x-pipefile"]
    url = "https://github.com/pyrule/pyrule"
    flags = re.MULTILINE

    # --- callbacks: each one tokenizes a whole construct and moves ctx.pos past it ------------

    # Embedded code goes to Pygments' own lexers through `using`; the extent of a body is found
    # by the callbacks (it ends where the indentation ends, brackets may carry an expression
    # over line ends), which a regular expression alone cannot express.
    _shell = staticmethod(using(_ShellBodyLexer))
    _python = staticmethod(using(PythonLexer))
    _expression = staticmethod(using(_ExpressionLexer))

    def _embedded(self, callback, ctx: LexerContext, start: int, end: int):
        m = _ANY.match(ctx.text, start, end)
        if m:
            yield from callback(self, m)

    def _section(self, match, ctx: LexerContext):
        """`<indent>name:` and its value (one line or an indented block)."""
        indent, name, space, colon = match.group(1, 2, 3, 4)
        yield match.start(1), Whitespace, indent
        if name in BODIES:
            yield match.start(2), Keyword.Reserved, name
            sub = self._shell if name == "shell" else self._python
        else:  # a section with a Python value (or an unknown one: an error)
            yield match.start(2), Keyword.Reserved if name in SECTIONS else Error, name
            sub = self._expression
        if space:
            yield match.start(3), Whitespace, space
        yield match.start(4), Punctuation, colon
        end = _block_end(ctx.text, match.end(), _indent_width(indent), python=sub is self._expression)
        yield from self._embedded(sub, ctx, match.end(), end)
        ctx.pos = end

    def _python_block(self, match, ctx: LexerContext):
        yield match.start(1), Keyword, match.group(1)
        if match.group(2):
            yield match.start(2), Whitespace, match.group(2)
        yield match.start(3), Punctuation, match.group(3)
        end = _block_end(ctx.text, match.end(), 0, python=False)
        yield from self._embedded(self._python, ctx, match.end(), end)
        ctx.pos = end

    def _assignment(self, match, ctx: LexerContext):
        yield match.start(1), Name.Variable, match.group(1)
        if match.group(2):
            yield match.start(2), Whitespace, match.group(2)
        yield match.start(3), Operator, match.group(3)
        end = min(_python_end(ctx.text, match.end()) + 1, len(ctx.text))
        yield from self._embedded(self._python, ctx, match.end(), end)
        ctx.pos = end

    def _include(self, match, ctx: LexerContext):
        yield match.start(1), Keyword.Namespace, match.group(1)
        if match.lastindex and match.lastindex >= 3:  # configfile: or cache: the colon
            yield match.start(2), Whitespace, match.group(2)
            yield match.start(3), Punctuation, match.group(3)
        end = min(_python_end(ctx.text, match.end()) + 1, len(ctx.text))
        yield from self._embedded(self._python, ctx, match.end(), end)
        ctx.pos = end

    def _import(self, match, ctx: LexerContext):
        end = min(_python_end(ctx.text, match.start()) + 1, len(ctx.text))
        yield from self._embedded(self._python, ctx, match.start(), end)
        ctx.pos = end

    def _short_rule(self, match, ctx: LexerContext):
        """`outputs: inputs` and the indented shell lines below it."""
        text = ctx.text
        start, header_end = match.start(), _line_end(text, match.start())
        header = text[start:header_end]
        colon = _header_colon(header)
        if colon < 0:  # not a statement pyrule knows
            yield start, Error, header
            ctx.pos = header_end
            return
        yield from _targets(header[:colon], start)
        yield start + colon, Punctuation, ":"
        yield from _targets(header[colon + 1 :], start + colon + 1)
        end = _block_end(text, start, 0, python=False)
        yield from self._embedded(self._shell, ctx, header_end, end)
        ctx.pos = end

    tokens = {
        "root": [
            (r"[ \t]*\n", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (
                rf"^(rule|checkpoint)([ \t]+)({_NAME})([ \t]*)(:)",
                bygroups(Keyword.Declaration, Whitespace, Name.Function, Whitespace, Punctuation),
                "rule",
            ),
            (r"^(python)([ \t]*)(:)", _python_block),
            (r"^(default)([ \t]*)(:)", bygroups(Keyword, Whitespace, Punctuation), "targets"),
            (r"^(include)\b", _include),
            (r"^(configfile|cache|container)([ \t]*)(:)", _include),
            (r"^(?=(?:import|from)\b)", _import),
            (rf"^({_NAME})([ \t]*)(\?=|=(?!=))", _assignment),
            (r"^(?=[^\s#])", _short_rule),
            # an indented section line outside any rule: not valid, but shown as the section it is
            include("sections"),
            (r"[ \t]+", Whitespace),
            (r"[^\n]+", Error),
        ],
        "rule": [
            (r"^(?=[^ \t\n#])", _nothing, "#pop"),
            (r"[ \t]*\n", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (
                r"""^([ \t]+)([rRuU]?)("{3}[\s\S]*?"{3}|'{3}[\s\S]*?'{3}|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')""",
                bygroups(Whitespace, String.Affix, String.Doc),
            ),
            include("sections"),
            (r"[ \t]+", Whitespace),
            (r"[^\n]+", Error),
        ],
        "sections": [
            (rf"^([ \t]+)({_NAME})([ \t]*)(:)", _section),
        ],
        "targets": [
            (r"\n", Whitespace, "#pop"),
            (r"[ \t]+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r"""[rRbBuU]?("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')""", lambda lexer, m, ctx: _target(m, ctx)),
            (r"""(?:[^\s:#"'=?{}]|\{[^}\n]*\})+""", lambda lexer, m, ctx: _target(m, ctx)),
            default("#pop"),
        ],
    }


_ANY = re.compile(r"[\s\S]+")
_TARGET_RE = re.compile(
    r"""[ \t]+|#[^\n]*|[rRbBuU]?("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')|(?:[^\s:#"'=?{}]|\{[^}\n]*\})+"""
)
_WILDCARD_RE = re.compile(_WILDCARD)


def _header_colon(header: str) -> int:
    """Index of the colon that separates a short rule's outputs from its inputs, or -1."""
    i = 0
    while i < len(header):
        c = header[i]
        if c in "\"'":
            j = i + 1
            while j < len(header) and header[j] != c:
                j += 2 if header[j] == "\\" else 1
            i = j + 1
            continue
        if c == "{":
            j = header.find("}", i)
            i = len(header) if j < 0 else j + 1
            continue
        if c == "#":
            return -1
        if c == ":" and not header.startswith(":=", i):
            return i
        i += 1
    return -1


def _target_tokens(value: str, offset: int, quoted: bool):
    """A path or a quoted target, with its wildcards."""
    kind = String.Double if quoted else String.Other
    pos = 0
    for m in _WILDCARD_RE.finditer(value):
        if m.start() > pos:
            yield offset + pos, kind, value[pos : m.start()]
        for group, token in zip(
            range(1, 6), (String.Interpol, Name.Variable, String.Interpol, String.Regex, String.Interpol)
        ):
            if m.group(group):
                yield offset + m.start(group), token, m.group(group)
        pos = m.end()
    if pos < len(value):
        yield offset + pos, kind, value[pos:]


def _target(match, ctx: LexerContext):
    yield from _target_tokens(match.group(), match.start(), quoted=match.group()[-1:] in "\"'")
    ctx.pos = match.end()


def _targets(text: str, offset: int):
    pos = 0
    for m in _TARGET_RE.finditer(text):
        if m.start() > pos:
            yield offset + pos, Error, text[pos : m.start()]
        value = m.group()
        if value[0] in " \t":
            yield offset + m.start(), Whitespace, value
        elif value[0] == "#":
            yield offset + m.start(), Comment.Single, value
        else:
            yield from _target_tokens(value, offset + m.start(), quoted=value[-1] in "\"'")
        pos = m.end()
    if pos < len(text):
        yield offset + pos, Error, text[pos:]
