"""`pyrule --fmt`: one canonical layout for Pipefiles (docs/format.md).

The layout is made from Lark's parse tree of the file (the parser pyrule runs with, so a file
with a syntax error gets the command's own error): statements in file order, rule sections in
the grammar's order, 4-space indentation, blank lines around blocks; Python (expressions,
imports, `python:` bodies) is formatted by black; shell bodies keep their text byte for byte.
Comments are not in the tree (the grammar ignores them): they are read from the text between
the tree's tokens, where nothing but blanks, colons and comments can stand.

A formatted file is parsed again and must give the same statements as the original (Python
compared by its syntax tree, shell bodies by their text): else nothing is written.
"""

from __future__ import annotations

import ast
import os
import re
import sys

from lark import Token

from . import syntax as S
from .errors import Location, PipefileError, PyruleError, UsageError
from .parse import grammar_keywords, parse_file, parse_text, parse_tree

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any

    Node = Any  # a Lark tree or token: Lark types their positions Optional; here they are always set

LINE_LENGTH = 88  # black's default
INDENT = "    "
_BODY_INDENT = INDENT * 2  # a rule section's block


class FormatError(PyruleError):
    """The formatted text would not mean what the file means: a bug in the formatter."""

    exit_code = 3


def _width(indent: str) -> int:
    """An indentation's width as the parser counts it (Lark's indenter: a tab is 8 columns)."""
    return indent.count(" ") + 8 * indent.count("\t")


class _Comment:
    __slots__ = ("text", "width", "blank_before")

    def __init__(self, text: str, width: int, blank_before: bool):
        self.text, self.width, self.blank_before = text, width, blank_before


class _Gap:
    """The comments between two places of the file: one on the line of the code before
    (`trailing`), then own-line ones; `blank_end`: a blank line before the next code."""

    def __init__(self, text: str, a: int, b: int):
        self.trailing: str | None = None
        self.lines: list[_Comment] = []
        parts = text[a:b].split("\n")
        if a > 0 and text[a - 1] != "\n":  # the rest of a line that holds code
            first = parts.pop(0)
            if "#" in first:
                self.trailing = first[first.index("#"):].rstrip()
        blank = False
        for i, line in enumerate(parts):
            stripped = line.strip(" \t\f\v\\")
            if "#" in line:
                at = line.index("#")
                self.lines.append(_Comment(line[at:].rstrip(), _width(line[:at]), blank))
                blank = False
            elif not stripped and i < len(parts) - 1:
                blank = True
        self.blank_end = blank


# A plain double-quoted string, a name or a whole number: black writes it as it is.
_AS_BLACK_WRITES = re.compile(r'"[^"\\\n]*"|[A-Za-z_][A-Za-z0-9_]*|[1-9][0-9]*|0')


def _tokens(tree: Node) -> list[Node]:
    if isinstance(tree, Token):
        return [tree]
    return list(tree.scan_values(lambda v: isinstance(v, Token)))


# --- black ---------------------------------------------------------------------------------------


class _NoBlack(Exception):
    """black could not format a piece (it keeps its text as written)."""


def _black(src: str, width: int) -> str:
    import black

    try:
        ast.parse(src)  # black's own parser takes some text Python does not (`f(x for x in y, )`)
        return black.format_str(src, mode=black.Mode(line_length=max(width, 40)))
    except Exception as e:  # noqa: BLE001 - black's errors have no common base; the piece stays as written
        raise _NoBlack(str(e)) from None


def _space_keywords(lines: list[str], tree_src: str) -> list[str]:
    """`name=value` -> `name = value` for the keywords of the call `_(...)` in tree_src (the
    Pipefile's style for section items: `params: n = 1`)."""
    call = ast.parse(tree_src).body[0].value  # type: ignore[attr-defined]
    for kw in sorted((k for k in call.keywords if k.arg), key=lambda k: (k.lineno, k.col_offset), reverse=True):
        i = kw.lineno - 1
        col = len(lines[i].encode()[: kw.col_offset].decode())
        end = col + len(kw.arg)
        if lines[i][end:end + 1] == "=":
            lines[i] = lines[i][:end] + " = " + lines[i][end + 1:]
    return lines


def _string_lines(src: str) -> set[int]:
    """The numbers of the lines of `src` that go on a string begun on a line above: their
    text is the string's, to be kept as it is."""
    import io
    import tokenize

    rows: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.start[0] < tok.end[0] and tok.type not in (tokenize.NL, tokenize.NEWLINE):
            rows.update(range(tok.start[0] + 1, tok.end[0] + 1))
    return rows


# --- the formatter ---------------------------------------------------------------------------------


class _Formatter:
    def __init__(self, text: str, filename: str):
        self.text = text
        self.file = filename
        kw = grammar_keywords()
        # (script: is a body too, though its value is an expression: bodies come last)
        sections = [n for n in kw["sections"] if n != "script"] + ["script"]
        self.order = {name: i for i, name in enumerate(sections + kw["bodies"])}

    # --- positions and comments ---

    def gap(self, a: int, b: int) -> _Gap:
        return _Gap(self.text, a, b)

    def width(self, pos: int) -> int:
        start = self.text.rfind("\n", 0, pos) + 1
        return _width(self.text[start:pos])

    def start(self, tree: Node) -> int:
        return tree.meta.start_pos

    def end(self, tree: Node) -> int:
        """Where a statement's last token ends (the tree's meta runs on over the newline)."""
        if tree.data == "default_stmt" and not tree.children:  # `default:` alone has no token
            return self.text.index(":", tree.meta.start_pos) + 1
        return _tokens(tree)[-1].end_pos

    # --- the file ---

    def format(self, tree: Node) -> str:
        stmts = tree.children
        blocks = [self.is_block(s) for s in stmts]
        gaps, pos = [], 0
        for st in stmts:
            gaps.append(self.gap(pos, self.start(st)))
            pos = self.end(st)
        gaps.append(self.gap(pos, len(self.text)))
        entries: list[tuple[list[str], bool, bool]] = []  # (lines, a blank line before it, a block)
        for i, g in enumerate(gaps):
            own = self._top_level(g, i > 0 and blocks[i - 1])  # indented ones after a block are its own
            entries += [([c.text], c.blank_before, False) for c in own]
            if i < len(stmts):
                after = gaps[i + 1]
                tail = after.lines[: len(after.lines) - len(self._top_level(after, blocks[i]))]
                entries.append((self.statement(stmts[i], after.trailing, tail), g.blank_end, blocks[i]))
        # blank lines: as written (at most one), and always one around a block and its comments
        force = [False] * len(entries)
        for m, (_lines, _blank, block) in enumerate(entries):
            if block:
                j = m
                while j > 0 and not entries[j][1] and self._is_comment(entries, j - 1):
                    j -= 1
                force[j] = True
                if m + 1 < len(entries):
                    force[m + 1] = True
        out: list[str] = []
        for m, (lines, blank, _block) in enumerate(entries):
            if out and (blank or force[m]):
                out.append("")
            out.extend(lines)
        return "\n".join(out) + "\n" if out else ""

    @staticmethod
    def _top_level(g: _Gap, after_block: bool) -> list[_Comment]:
        """The own-line comments of a gap that stand at the top level (not in the block before)."""
        k = 0
        while after_block and k < len(g.lines) and g.lines[k].width > 0:
            k += 1
        return g.lines[k:]

    @staticmethod
    def _is_comment(entries: list[tuple[list[str], bool, bool]], j: int) -> bool:
        lines, _b, block = entries[j]
        return not block and len(lines) == 1 and lines[0].startswith("#")

    def is_block(self, tree: Node) -> bool:
        return tree.data in ("rule", "python_block") or (tree.data == "short_rule" and len(tree.children) > 2)

    def statement(self, tree: Node, trailing: str | None, tail: list[_Comment]) -> list[str]:
        kind = tree.data
        if kind == "rule":
            return self.rule(tree, trailing, tail)
        if kind == "python_block":
            return self.python_block(tree, tail)
        if kind == "short_rule":
            return self.short_rule(tree, trailing, tail)
        lines = self.simple(tree, trailing)
        return lines + [c.text for c in tail]

    def simple(self, tree: Node, trailing: str | None) -> list[str]:
        comment = f"  {trailing}" if trailing else ""
        c = tree.children
        if tree.data == "default_stmt":
            return [" ".join(["default:", *(self.target(t) for t in c)]) + comment]
        if tree.data == "assignment":
            name, op, value = c
            prefix, replace, width = f"{name} = ", f"{name} {op} ", LINE_LENGTH - len(op) + 1
        elif tree.data == "include_stmt":
            value = c[0]
            prefix, replace, width = "include = ", "include ", LINE_LENGTH + 2
        elif tree.data == "configfile_stmt":
            value = c[0]
            prefix, replace, width = "configfile = ", "configfile: ", LINE_LENGTH - 1
        else:  # import_stmt
            value = c[1]
            prefix, replace, width = "", "", LINE_LENGTH
        first = c[0] if tree.data == "import_stmt" else _tokens(value)[0]
        code = self.text[first.start_pos : _tokens(value)[-1].end_pos]
        try:
            lines = _black(prefix + code + comment + "\n", width).rstrip("\n").split("\n")
        except _NoBlack:
            lines = (prefix + code + comment).split("\n")
        return [replace + lines[0][len(prefix):], *lines[1:]]

    def target(self, tok: Node) -> str:
        if tok.type != "PYSTRING" or _AS_BLACK_WRITES.fullmatch(tok):
            return str(tok)
        try:
            return _black(f"_ = {tok}\n", LINE_LENGTH).rstrip("\n")[4:]
        except _NoBlack:
            return str(tok)

    # --- bodies ---

    def body_lines(self, tokens: list[Node], indent: str) -> list[str]:
        """A body's lines as written, the block moved to `indent` as a whole: its text, dedented
        by its first line's indentation as the parser does, stays the same. (The parser counts a
        tab as 8 columns wherever it stands, so moving a block keeps its nesting.)"""
        return [indent + r if r else "" for r in self.body_text(tokens)]

    def body_text(self, tokens: list[Node]) -> list[str]:
        """A body's lines, dedented as the parser does (parse._ToAst._body)."""
        first, last = tokens[0], tokens[-1]
        line_start = self.text.rfind("\n", 0, first.start_pos) + 1
        lines = self.text[line_start : last.end_pos].split("\n")
        base = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
        return [ln[len(base):] if ln.startswith(base) else ln.lstrip() for ln in lines]

    def python_lines(self, tokens: list[Node], indent: str, one_line: bool = False) -> list[str]:
        """A Python body formatted by black (as written if black cannot), at `indent`; the
        one-line form (`python: x = 1`) is one RAWLINE token."""
        text = str(tokens[0]).rstrip() if one_line else "\n".join(self.body_text(tokens))
        text += "\n"
        try:
            formatted = _black(text, LINE_LENGTH - len(indent))
        except _NoBlack:
            return [indent + text.rstrip("\n")] if one_line else self.body_lines(tokens, indent)
        return [indent + ln if ln else "" for ln in formatted.rstrip("\n").split("\n")]

    def block(self, header: str, head_end: int, tokens: list[Node], indent: str, python: bool,
              tail: list[_Comment]) -> list[str]:
        """`header:` + its comment, comments before the body, the body, comments after it."""
        g = self.gap(head_end, tokens[0].start_pos)
        out = [header + (f"  {g.trailing}" if g.trailing else "")]
        out += [indent + c.text for c in g.lines]
        out += self.python_lines(tokens, indent) if python else self.body_lines(tokens, indent)
        return out + [indent + c.text for c in tail]

    def python_block(self, tree: Node, tail: list[_Comment]) -> list[str]:
        head_end = self.text.index(":", tree.meta.start_pos) + 1
        return self.block("python:", head_end, _tokens(tree), INDENT, True, tail)

    def short_rule(self, tree: Node, trailing: str | None, tail: list[_Comment]) -> list[str]:
        outs, ins, *body = tree.children
        head = " ".join(self.target(t) for t in outs.children) + ":"
        if ins.children:
            head += " " + " ".join(self.target(t) for t in ins.children)
        if not body:
            return [head + (f"  {trailing}" if trailing else "")] + [c.text for c in tail]
        head_end = _tokens(ins)[-1].end_pos if ins.children else _tokens(outs)[-1].end_pos
        lines = self.block(head, head_end, _tokens(body[0]), INDENT, False, tail)
        if trailing:
            lines[-1] += f"  {trailing}"
        return lines

    # --- rules ---

    def rule(self, tree: Node, trailing: str | None, tail: list[_Comment]) -> list[str]:
        kind, name, *elements = tree.children
        level = self.width(_tokens(elements[0])[0].start_pos)
        header = f"{kind} {name}:"
        # each element: [head comments, its tree, trailing comment, tail comments]
        parts: list[list] = []
        pos = name.end_pos
        for el in elements:
            g = self.gap(pos, _tokens(el)[0].start_pos)
            if g.trailing:
                if parts:
                    parts[-1][2] = g.trailing
                else:
                    header += f"  {g.trailing}"
            heads: list[_Comment] = []
            for c in g.lines:
                if parts and not heads and c.width > level and self.is_block_section(parts[-1][1]):
                    parts[-1][3].append(c)
                else:
                    heads.append(c)
            parts.append([heads, el, None, []])
            pos = _tokens(el)[-1].end_pos
        if trailing:
            parts[-1][2] = trailing
        rule_tail: list[_Comment] = []
        for c in tail:
            if not rule_tail and c.width > level and self.is_block_section(parts[-1][1]):
                parts[-1][3].append(c)
            else:
                rule_tail.append(c)
        docs = [p for p in parts if p[1].data == "docstring"]
        sections = sorted((p for p in parts if p[1].data == "section"), key=lambda p: self.order[p[1].children[0]])
        out = [header]
        for heads, el, comment, el_tail in docs + sections:
            out += [INDENT + c.text for c in heads]
            out += self.docstring(el, comment) if el.data == "docstring" else self.section(el, comment, el_tail)
        return out + [INDENT + c.text for c in rule_tail]

    def is_block_section(self, el: Node) -> bool:
        if el.data != "section":
            return False
        name, value = el.children
        return "\n" in self.text[name.end_pos : _tokens(value)[0].start_pos]

    def docstring(self, el: Node, comment: str | None) -> list[str]:
        """The docstring as black writes one (quotes, indentation), if its text stays the same."""
        import inspect

        tok = el.children[0]
        lines = [INDENT + str(tok).split("\n")[0], *str(tok).split("\n")[1:]]
        try:
            formatted = _black(f"def _():\n{INDENT}{tok}\n", LINE_LENGTH).rstrip("\n").split("\n")[1:]
            if inspect.cleandoc(ast.literal_eval("\n".join(formatted).strip())) == inspect.cleandoc(ast.literal_eval(tok)):
                lines = formatted
        except (_NoBlack, ValueError, SyntaxError):
            pass
        if comment:
            lines[-1] += f"  {comment}"
        return lines

    def section(self, el: Node, comment: str | None, tail: list[_Comment]) -> list[str]:
        name, value = el.children
        if name.type == "BODY_SECTION":
            first = value.children[0]
            if isinstance(first, Token):  # one line: `shell: cmd`
                lines = [f"{INDENT}{name}: {first.rstrip()}"]
                if name == "python":
                    body = self.python_lines([first], _BODY_INDENT, one_line=True)
                    lines = [f"{INDENT}{name}: {body[0].strip()}"] if len(body) == 1 else [f"{INDENT}{name}:", *body]
            else:
                lines = self.block(f"{INDENT}{name}:", name.end_pos, _tokens(first), _BODY_INDENT, name == "python", [])
            if comment:
                lines[-1] += f"  {comment}"
            return lines + [_BODY_INDENT + c.text for c in tail]
        return self.expr_section(name, value, comment) + [_BODY_INDENT + c.text for c in tail]

    def expr_section(self, name: Node, value: Node, comment: str | None) -> list[str]:
        items = value.children
        first, last = _tokens(items[0])[0], _tokens(items[-1])[-1]
        g = self.gap(name.end_pos, first.start_pos)
        suffix = f"  {comment}" if comment else ""
        prefix = f"{INDENT}{name}: "
        if "\n" not in self.text[name.end_pos : first.start_pos]:
            code = self.text[first.start_pos : last.end_pos]
            one = self.args_one_line(code, LINE_LENGTH - len(prefix))
            if one is not None:
                return [prefix + one + suffix]
            region = code if code.rstrip().endswith(",") else code + ","
        else:  # a block: its lines, each ending with a comma, and the comments between them
            start = self.text.index("\n", name.end_pos) + 1
            pieces, pos = [], start
            for item in items:
                end = _tokens(item)[-1].end_pos
                pieces.append(self.text[pos:end] + ("" if self.text[end - 1] == "," else ","))
                pos = end
            region = "".join(pieces)
        header = f"{INDENT}{name}:" + (f"  {g.trailing}" if g.trailing else "")
        src = f"_(\n{region}{suffix}\n)\n"
        try:
            formatted = _black(src, LINE_LENGTH - len(_BODY_INDENT) + len(INDENT) - 2)
            lines = formatted.rstrip("\n").split("\n")
            if lines[0] != "_(" or lines[-1] != ")":
                raise _NoBlack("not a block")
            lines = _space_keywords(lines, formatted)[1:-1]
        except _NoBlack:  # as written, moved to this indentation
            lines = self.body_lines([name, *_tokens(value)], INDENT)
            lines[-1] += suffix
            return lines
        inside = _string_lines(formatted)
        return [header, *(ln if i + 2 in inside else _BODY_INDENT + ln[len(INDENT):] if ln else ""
                          for i, ln in enumerate(lines))]

    def args_one_line(self, code: str, width: int) -> str | None:
        """`code` (call arguments) formatted on one line of `width` columns, or None."""
        if _AS_BLACK_WRITES.fullmatch(code) and len(code) <= width:
            return code  # what black would give back (a third of a file's sections): no call
        src = f"_({code})\n"
        try:
            call = ast.parse(src).body[0].value  # type: ignore[attr-defined]
            keywords = sum(1 for k in call.keywords if k.arg)
            formatted = _black(src, width + 3 - 2 * keywords)
        except (_NoBlack, SyntaxError):
            return None
        if formatted.count("\n") != 1:
            return None
        return _space_keywords([formatted.rstrip("\n")], formatted)[0][2:-1]


# --- what a Pipefile means -------------------------------------------------------------------------


def _py(text: str, mode: str) -> str:
    return ast.dump(ast.parse(text, mode=mode))


def _section_meaning(sec: S.Section) -> object:
    if sec.body is not None:
        return ("python", _py(sec.body.text, "exec")) if sec.name == "python" else ("shell", sec.body.text)
    positional: list[str] = []
    named: list[str] = []
    for code in sec.values:  # as the loader reads them: every line's positional items, then the named ones
        call = ast.parse(f"_({code.text}\n)", mode="eval").body
        positional += [ast.dump(a) for a in call.args]  # type: ignore[attr-defined]
        named += [ast.dump(k) for k in call.keywords]  # type: ignore[attr-defined]
    return ("values", positional, named)


def meaning(pipefile: S.Pipefile) -> list[object]:
    """The statements of a parsed Pipefile without locations or layout: Python as its syntax
    tree, shell bodies as their text. Two files with the same meaning load the same rules."""
    out: list[object] = []
    for st in pipefile.statements:
        if isinstance(st, S.Assignment):
            out.append(("assign", st.name, st.op, _py(st.value.text, "eval")))
        elif isinstance(st, S.Import):
            out.append(("import", _py(st.code.text, "exec")))
        elif isinstance(st, S.Include):
            out.append(("include", _py(st.path.text, "eval")))
        elif isinstance(st, S.ConfigFile):
            out.append(("configfile", _py(st.path.text, "eval")))
        elif isinstance(st, S.Default):
            out.append(("default", [(t.text, t.quoted) for t in st.targets]))
        elif isinstance(st, S.PythonBlock):
            out.append(("python", _py(st.body.text, "exec")))
        elif isinstance(st, S.RuleDecl):
            out.append(("rule", st.kind, st.name, st.doc, {n: _section_meaning(s) for n, s in st.sections.items()}))
        else:
            out.append(("short", [(t.text, t.quoted) for t in st.outputs], [(t.text, t.quoted) for t in st.inputs],
                        st.body.text if st.body else None))
    return out


# --- the API and the command -----------------------------------------------------------------------


def _need_black() -> None:
    try:
        import black  # noqa: F401
    except ImportError:
        raise UsageError("pyrule --fmt needs black, which is not installed",
                         hint="pip install 'pyrule[fmt]' (or pip install black)") from None


def _format_parsed(pipefile: S.Pipefile) -> str:
    text, filename = pipefile.text, pipefile.path
    _need_black()
    _, tree = parse_tree(text, filename)  # (text as parse_text accepted it: already normalised)
    out = _Formatter(text, filename).format(tree)
    try:
        again = parse_text(out, filename)
    except PipefileError as e:
        raise FormatError(f"formatting {filename} would make it invalid ({e}); the file is left as it is",
                          Location(filename, 1, 1), "this is a bug in pyrule --fmt: please report it") from None
    if meaning(again) != meaning(pipefile):
        raise FormatError(f"formatting {filename} would change what it means; the file is left as it is",
                          Location(filename, 1, 1), "this is a bug in pyrule --fmt: please report it")
    return out


def format_text(text: str, filename: str = "Pipefile") -> str:
    """The canonical layout of Pipefile source; PipefileError (file:line:col) if it does not parse."""
    return _format_parsed(parse_text(text, filename))


def format_file(path: str) -> tuple[str, str]:
    """(the file's text as it is, its canonical layout); the CLI's errors for a file that does not parse."""
    formatted = _format_parsed(parse_file(path))
    with open(path, "rb") as f:
        raw = f.read().decode("utf-8", "surrogateescape")
    return raw, formatted


def _write(path: str, text: str) -> None:
    """Replace the file's content (atomically, keeping its mode; through a symlink, its target)."""
    real = os.path.realpath(path)
    tmp = f"{real}.pyrule-fmt.{os.getpid()}"
    with open(tmp, "x", encoding="utf-8", newline="") as f:
        try:
            f.write(text)
            f.flush()
            os.chmod(tmp, os.stat(real).st_mode & 0o7777)
            os.replace(tmp, real)
        except BaseException:
            os.unlink(tmp)
            raise


def fmt_command(files: list[str], check: bool, console) -> int:
    """`pyrule --fmt [--check] [FILE ...]`: 0 done (or, with --check, nothing to change), 1 with
    --check when a file would change (its diff on stdout), 2 when a file does not parse."""
    import difflib

    try:
        _need_black()
    except UsageError as e:
        console.error(e)
        return e.exit_code
    rc, changed, same = 0, 0, 0
    for path in files:
        try:
            if path == "-":  # standard input to standard output, for editors (`:%!pyrule --fmt -`)
                raw = sys.stdin.read()
                formatted = format_text(raw, "<stdin>")
                if not check:
                    sys.stdout.write(formatted)
                    continue
            else:
                raw, formatted = format_file(path)
        except PyruleError as e:
            console.error(e)
            rc = max(rc, e.exit_code)
            continue
        if raw == formatted:
            same += 1
            continue
        if check:
            lines = raw.splitlines(True)
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n\\ No newline at end of file\n"
            console.out("".join(difflib.unified_diff(lines, formatted.splitlines(True),
                                                     f"{path} (as it is)", f"{path} (formatted)")))
            console.plain(f"would reformat {path}")
            rc = max(rc, 1)
            changed += 1
        else:
            try:
                _write(path, formatted)
            except OSError as e:
                console.error(PyruleError(f"cannot write {path}: {e.strerror}", hint="the file is left as it was"))
                rc = max(rc, 2)
                continue
            console.plain(f"reformatted {path}")
            changed += 1
    if changed + same:
        failed = len(files) - changed - same
        console.note(f"{changed} file(s) {'would be reformatted' if check else 'reformatted'}, {same} already "
                     "formatted" + (f", {failed} not formatted (see above)" if failed else ""))
    return rc
