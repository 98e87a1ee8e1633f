"""Go to definition, references and document symbols."""

from __future__ import annotations

import re

from lsprotocol import types as T

from .. import syntax as S
from .complete import rule_at
from .index import Index, RuleInfo, Span
from .model import DocState, Model, path_to_uri
from .text import Text

_REF_BEFORE = re.compile(r"\b(rules|checkpoints|values)\.$")
_FIELD_BEFORE = re.compile(r"\{(input|output|params|resources|env)\.$")


def _location(model: Model, path: str, span: Span) -> T.Location | None:
    found = model.file(path)
    return T.Location(path_to_uri(path), found[1].range(span)) if found else None


def definition(model: Model, state: DocState, line: int, col: int) -> T.Location | None:
    for span, included in state.index.includes:
        if span.line == line and span.start <= col <= span.end and included:
            return T.Location(path_to_uri(included), T.Range(T.Position(0, 0), T.Position(0, 0)))
    found = state.text.word_at(line, col)
    if found is None:
        return None
    word, span = found
    before = state.text.line(line)[: span.start]
    rules = model.rules(state.path)
    field = _FIELD_BEFORE.search(before)
    if field:
        rule = rule_at(model, state, line)
        where = key_span(model, rule, field.group(1), word) if rule else None
        return _location(model, rule.file, where) if rule and where else None
    if word in rules and (_REF_BEFORE.search(before) or word not in model.names(state.path)):
        return _location(model, rules[word].file, rules[word].name_span)
    names = model.names(state.path)
    if word in names:
        return _location(model, names[word].file, names[word].span)
    return None


def key_span(model: Model, rule: RuleInfo, section: str, key: str) -> Span | None:
    """Where `key = ...` is given in a section of a rule."""
    sec = rule.sections.get(section)
    found = model.file(rule.file)
    if sec is None or found is None:
        return None
    text = found[1]
    first = sec.loc.line - 1 + rule.offset
    last = max([c.loc.line + rule.offset + c.text.count("\n") - 1 for c in sec.values] or [first])
    for n in range(first, last + 1):
        m = re.search(rf"\b{re.escape(key)}\s*=(?!=)", text.line(n))
        if m:
            return Span(n, m.start(), m.start() + len(key))
    return None


def references(model: Model, state: DocState, line: int, col: int, declaration: bool = True) -> list[T.Location]:
    found = state.text.word_at(line, col)
    if found is None:
        return []
    word = found[0]
    rules = model.rules(state.path)
    names = model.names(state.path)
    if word not in rules and word not in names:
        return []
    if word in names and not _REF_BEFORE.search(state.text.line(line)[: found[1].start]):
        pattern = re.compile(rf"\b{re.escape(word)}\b")
        define = names[word]
    else:
        # a rule: `rules.X`, `checkpoints.X`, its header, `default:` and short rules' inputs
        pattern = re.compile(rf"(?<![\w/{{-]){re.escape(word)}(?![\w/}}-])")
        define = None
    out = []
    for index, text in model.family(state.path):
        for n, line_text in enumerate(text.lines):
            for m in pattern.finditer(line_text):
                span = Span(n, m.start(), m.end())
                if not declaration and define and define.file == index.file and define.span == span:
                    continue
                if define is None and not _rule_mention(line_text, m.start()):
                    continue
                out.append(T.Location(path_to_uri(index.file), text.range(span)))
    return out


def _rule_mention(line: str, start: int) -> bool:
    """Is the word at `start` a rule's name: `rules.X`, a header, `default:` or a short rule's line?"""
    before = line[:start]
    return bool(_REF_BEFORE.search(before) or re.fullmatch(r"(rule|checkpoint)[ \t]+", before)
                or re.match(r"default[ \t]*:", line) or (line[:1].strip() and not line.startswith("#")
                                                         and ":" in line and not re.match(r"\w+\s*\??=", line)))


def symbols(state: DocState) -> list[T.DocumentSymbol]:
    index, text = state.index, state.text
    out: list[T.DocumentSymbol] = []
    for stmt, first, last, offset in index.statements:
        whole = Span(first, 0, len(text.line(last)))
        whole_range = T.Range(text.range(Span(first, 0, 0)).start, text.range(Span(last, whole.end, whole.end)).end)
        if isinstance(stmt, (S.RuleDecl, S.ShortRule)):
            info = _rule_of(index, stmt)
            if info is None:
                continue
            kind = T.SymbolKind.Event if info.kind == "checkpoint" else T.SymbolKind.Function
            children = [T.DocumentSymbol(name, T.SymbolKind.Field, _line_range(text, sec.loc.line - 1 + offset),
                                         text.range(Span(sec.loc.line - 1 + offset, sec.loc.col - 1,
                                                         sec.loc.col - 1 + len(name))))
                        for name, sec in info.sections.items()]
            out.append(T.DocumentSymbol(info.name, kind, whole_range, text.range(info.name_span),
                                        detail=info.kind, children=children))
        elif isinstance(stmt, S.Include):
            out.append(T.DocumentSymbol(f"include {stmt.path.text.strip()}", T.SymbolKind.File, whole_range,
                                        _line_range(text, first)))
        elif isinstance(stmt, S.Default):
            out.append(T.DocumentSymbol("default", T.SymbolKind.Key, whole_range, _line_range(text, first),
                                        detail=" ".join(t.text for t in stmt.targets)))
    kinds = {"variable": T.SymbolKind.Variable, "function": T.SymbolKind.Function, "class": T.SymbolKind.Class,
             "import": T.SymbolKind.Module}
    for name in index.names.values():
        if name.kind != "import":
            out.append(T.DocumentSymbol(name.name, kinds[name.kind], _line_range(text, name.span.line),
                                        text.range(name.span), detail=name.text))
    out.sort(key=lambda s: (s.range.start.line, s.range.start.character))
    return out


def _rule_of(index: Index, stmt) -> RuleInfo | None:
    name = stmt.name if isinstance(stmt, S.RuleDecl) else stmt.outputs[0].text
    info = index.rules.get(name)
    return info if info is not None and info.decl is stmt else None


def _line_range(text: Text, line: int) -> T.Range:
    return text.range(Span(line, 0, len(text.line(line))))
