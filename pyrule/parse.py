"""Stage 1: Pipefile text -> AST (pyrule.syntax), with file:line:col on every node.

Lark's LALR parser with a contextual lexer parses in linear time; its tables are cached
between runs. Python code inside the Pipefile is checked here by Python's own parser, so a
syntax error anywhere is reported before anything is evaluated.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.indenter import DedentError, Indenter

from . import syntax as S
from .errors import Location, PipefileError, suggest
from .grammar_file import grammar_path

GRAMMAR = Path(grammar_path())

# Human names for the grammar's terminals, used in "expected ..." messages.
_TERMINAL_NAMES = {
    "_NL": "end of line",
    "_INDENT": "an indented block",
    "_DEDENT": "the end of the block",
    "$END": "end of file",
    "EXPR_SECTION": "a section such as 'output:'",
    "BODY_SECTION": "'shell:' or 'python:'",
    "PYSTRING": "a string",
    "NAME": "a name",
    "PATH": "a path",
    "RAWLINE": "a body line",
    "PYATOM": "an expression",
    "PYOPEN": "an expression",
    "PYCLOSE": "a closing bracket",
    "COLON": "':'",
    "ASSIGN_OP": "'=' or '?='",
    "RULE": "'rule'",
    "CHECKPOINT": "'checkpoint'",
}


class _Indenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["PYOPEN"]
    CLOSE_PAREN_types = ["PYCLOSE"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def process(self, stream):
        # Remember where each bracket still open was opened: an unclosed one is reported there,
        # not at the end of the file.
        self.open_brackets: list[Token] = []

        def tracked():
            for tok in stream:
                if tok.type == "PYOPEN":
                    self.open_brackets.append(tok)
                elif tok.type == "PYCLOSE" and self.open_brackets:
                    self.open_brackets.pop()
                yield tok

        return super().process(tracked())

    def handle_NL(self, token: Token):
        # A newline token swallows blank and comment lines; its last line gives the indentation.
        # (A last line holding a comment is the end of the file: indentation 0.)
        last = token.rsplit("\n", 1)[1]
        if "#" in last:
            token = Token.new_borrow_pos(token.type, token.rsplit("\n", 1)[0] + "\n", token)
        yield from super().handle_NL(token)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(
        GRAMMAR.read_text(),
        parser="lalr",
        lexer="contextual",
        postlex=_Indenter(),
        propagate_positions=True,
        maybe_placeholders=False,
        cache=True,
    )


def grammar_keywords() -> dict[str, list[str]]:
    """The grammar's keywords: {"sections": [...], "bodies": [...], "statements": [...]}.

    The editor grammars and the Pygments lexer are tested against these lists.
    """
    text = re.sub(r"//[^\n]*", "", GRAMMAR.read_text())

    def words(terminal: str) -> list[str]:
        m = re.search(rf"^{terminal}:(.*?)(?=^\S|\Z)", text, re.M | re.S)
        return re.findall(r'"(\w+)"', m.group(1)) if m else []

    sections, bodies = words("EXPR_SECTION"), words("BODY_SECTION")
    statements = sorted(set(re.findall(r'"([a-z]\w*)"', text)) - set(sections) - {"shell"}
                        | set(re.findall(r'^\w+_stmt: "(\w+)"', text, re.M)))  # `container:` is both
    return {"sections": sections, "bodies": bodies, "statements": statements}


def parse_file(path: str | Path) -> S.Pipefile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise PipefileError(f"{path} is not UTF-8 text ({e.reason})", Location(str(path), 1, 1)) from None
    except OSError as e:
        raise PipefileError(f"cannot read {path}: {e.strerror}") from None
    return parse_text(text, str(path))


def parse_text(text: str, filename: str = "Pipefile") -> S.Pipefile:
    """Parse Pipefile source into its AST; raise PipefileError with a location on any mistake."""
    text, tree = parse_tree(text, filename)
    return to_ast(tree, text, filename)


def parse_tree(text: str, filename: str = "Pipefile"):
    """The first stage of parse_text: the grammar's parse tree, with the text as parsed.
    (The language server parses a file by pieces and reports the first error of this stage first.)"""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")  # a BOM from a Windows editor is no text
    if not text.endswith("\n"):
        text += "\n"
    if "\0" in text:  # Python's own parser refuses NUL anywhere (strings, bodies): say where it is
        line, col = _line_col(text, text.index("\0"))
        raise PipefileError("the Pipefile contains a NUL character", Location(filename, line, col),
                            "is it a binary file? remove the character")
    first = re.match(r"(?:[ \t]*(?:#[^\n]*)?\n)*([ \t]+)[^\s#]", text)
    if first:  # the indenter only sees indentation after a newline: check the first line here
        line, col = _line_col(text, first.end() - 1)
        raise PipefileError("unexpected indentation", Location(filename, line, col),
                            "top-level statements start at the beginning of the line")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(e, text, filename) from None
    except DedentError as e:
        raise _dedent_error(e, text, filename) from None
    return text, tree


def to_ast(tree, text: str, filename: str = "Pipefile") -> S.Pipefile:
    """The second stage of parse_text: the AST, with Python's parser checking the code in it."""
    try:
        statements = _ToAst(text, filename).transform(tree).children
    except VisitError as e:
        raise e.orig_exc from None
    return S.Pipefile(filename, statements, text)


# --- from Lark's tree to the AST ---------------------------------------------------------------


class _ToAst(Transformer):
    def __init__(self, text: str, filename: str):
        super().__init__()
        self.text = text
        self.file = filename

    def _loc(self, tok) -> Location:
        return Location(self.file, tok.line, tok.column)

    def _body(self, tokens: list[Token]) -> S.Body:
        first, last = tokens[0], tokens[-1]
        line_start = self.text.rfind("\n", 0, first.start_pos) + 1
        lines = self.text[line_start : last.end_pos].split("\n")
        indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
        text = "\n".join(ln[len(indent) :] if ln.startswith(indent) else ln.lstrip() for ln in lines)
        return S.Body(text + "\n", self._loc(first))

    def _code(self, tree) -> S.Code:
        toks = tree.children
        return S.Code(self.text[toks[0].start_pos : toks[-1].end_pos], self._loc(toks[0]))

    # Lark's body: tokens and nested bodies; flatten to the raw lines it spans.
    def body(self, children):
        out = []
        for c in children:
            out.extend(c if isinstance(c, list) else [c])
        return out

    section_body = nested_body = body

    def _target(self, tok: Token) -> S.Target:
        if tok.type == "PYSTRING":
            return S.Target(self._string(tok, "a path"), True, self._loc(tok))
        return S.Target(str(tok), False, self._loc(tok))

    def _string(self, tok: Token, what: str) -> str:
        """The value of a string literal token; a located error for f-strings, bytes, bad escapes."""
        try:
            value = ast.literal_eval(tok)
        except (ValueError, SyntaxError) as e:
            why = "an f-string is not a plain string" if tok.lstrip("rRbBuU")[:1] in "fF" else getattr(e, "msg", str(e))
            raise PipefileError(f"{what} must be a plain string: {why}", self._loc(tok)) from None
        if not isinstance(value, str):
            raise PipefileError(f"{what} must be a text string, not {type(value).__name__}", self._loc(tok),
                                "remove the b prefix")
        return value

    def assignment(self, c):
        name, op, value = c
        code = self._code(value)
        try:
            check_python(code, "eval")
        except PipefileError as e:
            words = code.text.split()
            if len(words) > 1 and not re.search(r"[()\[\]{}\"'#]", code.text):  # `OBJS = a.o b.o`: Make's
                listed = ", ".join(quoted(w) for w in words)
                e.hint = e.hint or (f"the value after '{op}' is a Python expression: to mean the text, quote it: "
                                    f"{name} {op} {quoted(code.text.strip())}, or write a list: {name} {op} [{listed}]")
            raise
        return S.Assignment(str(name), str(op), code, self._loc(name))

    @v_args(meta=True)
    def import_stmt(self, meta, c):
        kw, rest = c
        code = S.Code(self.text[kw.start_pos : rest.children[-1].end_pos], self._loc(kw))
        check_python(code, "exec")
        return S.Import(code, code.loc)

    def _valued(self, kind, meta, c):
        """`include EXPR`, `configfile: EXPR`, `cache: EXPR`, `container: EXPR`: one Python
        expression (the last child: `cache` keeps its keyword token before it)."""
        code = self._code(c[-1])
        check_python(code, "eval")
        return kind(code, Location(self.file, meta.line, meta.column))

    @v_args(meta=True)
    def include_stmt(self, meta, c):
        return self._valued(S.Include, meta, c)

    @v_args(meta=True)
    def configfile_stmt(self, meta, c):
        return self._valued(S.ConfigFile, meta, c)

    @v_args(meta=True)
    def cache_stmt(self, meta, c):
        return self._valued(S.CacheDir, meta, c)

    @v_args(meta=True)
    def container_stmt(self, meta, c):
        return self._valued(S.Container, meta, c)

    @v_args(meta=True)
    def default_stmt(self, meta, c):
        return S.Default([self._target(t) for t in c], Location(self.file, meta.line, meta.column))

    @v_args(meta=True)
    def python_block(self, meta, c):
        body = self._body(c[0])
        check_python(S.Code(body.text, body.loc), "exec", body=True)
        return S.PythonBlock(body, Location(self.file, meta.line, meta.column))

    def docstring(self, c):
        import inspect

        return inspect.cleandoc(self._string(c[0], "a docstring"))  # as Python's help() shows docstrings

    def expr_value(self, c):
        return [self._code(t) for t in c]

    def body_value(self, c):
        if isinstance(c[0], Token):  # one-line form: `shell: cmd`
            return S.Body(str(c[0]).rstrip() + "\n", self._loc(c[0]))
        return self._body(c[0])

    def section(self, c):
        name, value = c
        loc = self._loc(name)
        if name.type == "BODY_SECTION":
            if name == "shell":
                _check_make_variables(value)
            if name == "python":
                check_python(S.Code(value.text, value.loc), "exec", body=True)
            return S.Section(str(name), loc, body=value)
        for code in value:
            check_python(code, "args")
        return S.Section(str(name), loc, values=value)

    def rule(self, c):
        kind, name, *rest = c
        doc = rest.pop(0) if rest and isinstance(rest[0], str) else None
        sections: dict[str, S.Section] = {}
        for sec in rest:
            if sec.name in sections:
                first = sections[sec.name].loc
                raise PipefileError(
                    f"section '{sec.name}:' appears twice in rule '{name}'",
                    sec.loc,
                    f"it was first given at line {first.line}; merge the two",
                )
            sections[sec.name] = sec
        return S.RuleDecl(str(kind), str(name), doc, sections, self._loc(kind))

    def short_outputs(self, c):
        return [self._target(t) for t in c]

    short_inputs = short_outputs

    def short_rule(self, c):
        outputs, inputs, *body = c
        slash = next((t for t in outputs + inputs if t.text == "\\" and not t.quoted), None)
        if slash is not None:  # Make joins the next line; here that line would be the shell body
            raise PipefileError("a Make line continuation ('\\' at the end of the line) is not supported here",
                                slash.loc, "write the outputs and inputs on one line, or use a `rule` with an "
                                "`input:` block for a long list")
        rule = S.ShortRule(outputs, inputs, self._body(body[0]) if body else None, outputs[0].loc)
        pattern = next((t for t in outputs + inputs if "%" in t.text and not t.quoted), None)
        if pattern is not None:
            raise PipefileError(
                f"'{pattern.text}': pyrule patterns are written with {{name}} wildcards, not Make's '%'",
                pattern.loc, "write e.g. '{name}.o: {name}.c' (quote a path that really holds '%')",
            )
        if rule.body:
            _check_make_variables(rule.body)
        # `rul count:` or `Rule count:` followed by sections is a misspelt rule, not a shell recipe.
        first = rule.body.text.split("\n", 1)[0] if rule.body else ""
        m = re.match(r"(\w+)\s*:", first)
        if m and not inputs and not any(t.quoted for t in outputs):
            kw = grammar_keywords()
            if m.group(1) in kw["sections"] + kw["bodies"]:
                head = " ".join(t.text for t in outputs)
                near = suggest(outputs[0].text, ["rule", "checkpoint"])
                raise PipefileError(
                    f"'{head}:' is read as a Make-style rule whose shell body starts with '{m.group(1)}:'",
                    rule.loc, (f"{near} " if near else "") + "a rule is written 'rule NAME:'",
                )
        return rule


_MAKE_VARIABLES = {"$@": "{output}", "$<": "{input[0]}", "$^": "{input}"}
_SHELL_ARGUMENTS = re.compile(r"\(\)\s*\{|\bfunction\s|\bset\s+--")


def _check_make_variables(body: S.Body) -> None:
    """Make's automatic variables mean nothing to the shell: name pyrule's spelling of each."""
    if _SHELL_ARGUMENTS.search(body.text):  # a shell function or `set --`: `$@` is the shell's own there
        return
    for i, text in enumerate(body.text.split("\n")):
        # ("$@" and what is in single quotes, a Perl or awk program say, are the shell's own)
        text = re.sub(r"'[^']*'", lambda q: " " * len(q.group()), text)
        m = re.search(r'(?<!["\\])\$[@<^]', text)
        if m:
            raise PipefileError(
                f"'{m.group()}' is Make's automatic variable; a shell body names files with {{output}} and {{input}}",
                Location(body.loc.file, body.loc.line + i, body.loc.col + m.start()),
                f"write {_MAKE_VARIABLES[m.group()]} for {m.group()} "
                "({output} is every output, {input} every input, {input[0]} the first)",
            )


def quoted(text: str) -> str:
    """`text` as a Python string literal, in double quotes when it can be."""
    return f'"{text}"' if '"' not in text and "\\" not in text else repr(text)


# --- checking Python code with Python's parser -------------------------------------------------


def check_python(code: S.Code, mode: str, body: bool = False) -> None:
    """Compile `code` with Python's parser; map a SyntaxError to its Pipefile location.

    mode: "eval" (an expression), "exec" (statements), "args" (call arguments: `a, b=1`).
    """
    src, shift = (f"_({code.text}\n)", 2) if mode == "args" else (code.text, 0)
    try:
        ast.parse(src, filename=code.loc.file, mode="exec" if mode == "exec" else "eval")
    except SyntaxError as e:
        raise python_error(e, code, shift, body) from None


def python_error(e: SyntaxError, code: S.Code, shift: int = 0, body: bool = False) -> PipefileError:
    """A PipefileError at the place in the Pipefile where Python's parser found the problem.

    A body's text was dedented by its first line's indentation: its later lines get it back.
    """
    lineno = min(e.lineno or 1, code.text.count("\n") + 1)
    offset = max((e.offset or 1) - (shift if lineno == 1 else 0), 1)
    if lineno == 1:
        loc = Location(code.loc.file, code.loc.line, code.loc.col + offset - 1)
    else:
        loc = Location(code.loc.file, code.loc.line + lineno - 1, offset + (code.loc.col - 1 if body else 0))
    return PipefileError(f"invalid Python: {e.msg}", loc)


# --- Lark's errors as Pipefile errors ----------------------------------------------------------

_CLOSING = {"(": ")", "[": "]", "{": "}"}
_SECTIONS_RE = re.compile(r"[A-Za-z_]\w*")


def _word_at(text: str, pos: int) -> tuple[str, int]:
    start = pos
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    m = _SECTIONS_RE.match(text, start)
    return (m.group(), start) if m else ("", pos)


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _syntax_error(e: UnexpectedInput, text: str, filename: str) -> PipefileError:
    expected = set(getattr(e, "expected", None) or getattr(e, "allowed", None) or ())
    pos = getattr(e, "pos_in_stream", None)
    if isinstance(e, UnexpectedToken) and e.token.type == "$END":
        pos = len(text) - 1
    if pos is None:
        pos = len(text) - 1
    line, col = _line_col(text, pos)
    loc = Location(filename, line, col)
    if expected & {"EXPR_SECTION", "BODY_SECTION"}:
        word, start = _word_at(text, pos)
        kw = grammar_keywords()
        all_sections = kw["sections"] + kw["bodies"]
        if word and word not in all_sections:
            line, col = _line_col(text, start)
            return PipefileError(
                f"unknown section '{word}'",
                Location(filename, line, col),
                _FOREIGN_SECTIONS.get(word) or suggest(word, all_sections) or f"sections are: {', '.join(all_sections)}",
            )
    line_text = text.split("\n")[line - 1]
    m = re.match(r"(\w+)\s*\??=", line_text)
    if m and m.group(1) in grammar_keywords()["statements"]:
        return PipefileError(f"'{m.group(1)}' is a Pipefile keyword: it cannot be a variable's name",
                             Location(filename, line, 1), f"choose another name, e.g. '{m.group(1).upper()}'")
    if re.match(r"[rRbBuUfF]{0,2}[\"']", text[pos : pos + 3]) and not _is_string_at(text, pos):
        return PipefileError("unterminated string: it has no closing quote on this line", loc,
                             "close it on the same line; a string over several lines is written with triple quotes")
    short = _short_form_misuse(line_text, filename, line)
    if short:
        return short
    rest_of_line = text[pos : text.find("\n", pos)].strip()
    bad = _first_char(text, filename, line if rest_of_line else line + 1)
    header = _open_header(text, bad.line)
    if header and ("_INDENT" in expected or bad.col <= header[2]):
        hline, htext, _ = header
        return PipefileError(
            f"expected an indented block after '{htext}' (line {hline})",
            bad,
            "indent the lines that belong to it more than the line that opens it",
        )
    if isinstance(e, UnexpectedToken) and e.token.type == "_INDENT":
        where = _first_char(text, filename, line + 1)
        mixed = _tab_mix(text, where.line)
        if mixed:
            return PipefileError(f"unexpected indentation: {mixed}", where, _TAB_HINT)
        return PipefileError(
            "unexpected indentation", where,
            "indent only the lines inside a rule or a body, by the same amount",
        )
    at_end = isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END")
    got = "end of file" if at_end else _describe_got(e, text, pos)
    if at_end and "PYCLOSE" in expected:
        opened = getattr(_parser().options.postlex, "open_brackets", None)
        if opened:
            tok = opened[0]
            return PipefileError(f"'{tok}' is never closed", Location(filename, tok.line, tok.column),
                                 f"close it with '{_CLOSING[str(tok)]}'; the file ends inside it")
        return PipefileError("unexpected end of file inside brackets", loc, "close the bracket opened above")
    names = sorted({_TERMINAL_NAMES.get(t, _literal(t)) for t in expected if not t.startswith("__")})
    want = f"; expected {' or '.join(names)}" if names else ""
    hint = None
    if "_INDENT" in expected:
        hint = "a rule's sections and a body's lines go on indented lines below it"
    return PipefileError(f"unexpected {got}{want}", loc, hint)


# Sections of other tools (Snakemake) and how pyrule writes them.
_FOREIGN_SECTIONS = {
    "threads": "pyrule writes a job's cores as 'resources: cores = N' (or 'cores = upto(N)': at most N, fewer under a smaller -j)",
    "run": "pyrule runs Python code in a 'python:' section",
}
_TAB_HINT = "a tab counts as 8 columns; indent with spaces only (or tabs only)"


def _is_string_at(text: str, pos: int) -> bool:
    """Does a whole string literal start at `pos` (else it is one without its closing quote)?"""
    return re.compile(_parser().get_terminal("PYSTRING").pattern.to_regexp()).match(text, pos) is not None


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _tab_mix(text: str, line: int) -> str | None:
    """How `line`'s indentation mixes tabs and spaces with the lines above, if it does."""
    lines = text.split("\n")
    indent = _indent(lines[line - 1])
    for above in reversed(lines[: line - 1]):
        if not above.strip() or above.lstrip().startswith("#"):
            continue
        prev = _indent(above)
        if not prev:
            return None
        if "\t" in indent and "\t" not in prev:
            return "this line is indented with a tab, the line above with spaces"
        if "\t" in prev and "\t" not in indent:
            return "this line is indented with spaces, the line above with a tab"
        return None
    return None


def _short_form_misuse(line_text: str, filename: str, line: int) -> PipefileError | None:
    """A Make-style short rule (`OUTPUTS: INPUTS`) given Python: say what the short form takes."""
    m = re.match(r"([^\s:#=\[\](){}\"']+(?:[ \t]+[^\s:#=]+)*)[ \t]*:(?!=)(.*)", line_text)
    if not m or line_text[:1].isspace() or m.group(1).split()[0] in grammar_keywords()["statements"]:
        return None
    inputs = m.group(2).split("#", 1)[0]
    bad = re.search(r"\w+\(|[\[\]()=,+]", inputs)
    if not bad:
        return None
    return PipefileError(
        "a Make-style rule 'OUTPUTS: INPUTS' takes only paths and names, not Python expressions",
        Location(filename, line, m.start(2) + bad.start() + 1),
        "for computed inputs write a rule: 'rule NAME:' with 'output:', 'input:' (Python expressions) and 'shell:'",
    )


def _open_header(text: str, line: int) -> tuple[int, str, int] | None:
    """The line that opens a block (ends with ':') just before `line`: (line, text, column)."""
    lines = text.split("\n")
    for i in range(min(line, len(lines)) - 2, -1, -1):
        candidate = lines[i].split("#", 1)[0].rstrip()
        if candidate.strip():
            col = len(candidate) - len(candidate.lstrip()) + 1
            return (i + 1, candidate.strip(), col) if candidate.endswith(":") else None
    return None


def _first_char(text: str, filename: str, line: int) -> Location:
    """The first non-blank character at or after `line`."""
    lines = text.split("\n")
    for i in range(max(line, 1) - 1, len(lines)):
        stripped = lines[i].lstrip()
        if stripped and not stripped.startswith("#"):
            return Location(filename, i + 1, len(lines[i]) - len(stripped) + 1)
    return Location(filename, max(line, 1), 1)


def _literal(terminal: str) -> str:
    return {"COLON": "':'", "EQUAL": "'='"}.get(terminal, terminal.lower())


def _describe_got(e: UnexpectedInput, text: str, pos: int) -> str:
    if isinstance(e, UnexpectedToken):
        t = e.token
        if t.type == "_NL":
            return "end of line"
        if t.type == "_DEDENT":
            return "end of the indented block"
        return f"'{t}'"
    ch = text[pos] if pos < len(text) else ""
    return f"character '{ch}'" if ch.strip() else "whitespace"


def _dedent_error(e: DedentError, text: str, filename: str) -> PipefileError:
    where = _guess_dedent_loc(text, filename)
    mixed = _tab_mix(text, where.line)
    return PipefileError(
        "inconsistent indentation: this line's indentation matches no enclosing block" + (f" ({mixed})" if mixed else ""),
        where,
        _TAB_HINT if mixed else "indent it exactly like the other lines of the block it belongs to",
    )


def _guess_dedent_loc(text: str, filename: str) -> Location:
    # Lark does not say where; find the first line whose indentation matches no open block.
    stack = [0]
    for i, line in enumerate(text.split("\n"), 1):
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        width = len(line[: len(line) - len(stripped)].expandtabs(8))
        if width > stack[-1]:
            stack.append(width)
            continue
        while width < stack[-1]:
            stack.pop()
        if width != stack[-1]:
            return Location(filename, i, len(line) - len(stripped) + 1)
    return Location(filename, 1, 1)
