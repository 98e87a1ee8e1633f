"""Completion: what may be typed where the cursor is, read from the text before it."""

from __future__ import annotations

import re

from lsprotocol import types as T

from .document import HEADER
from .index import RuleInfo, enclosing_rule
from .model import DocState, Model
from .words import BODY_FIELDS, HELPER_DOCS, section_doc, sections, statements

_K = T.CompletionItemKind
_RULE_DOT = re.compile(r"\b(rules|checkpoints|values)\.(\w*)$")
_RULE_MEMBER = re.compile(r"\brules\.(\w+)\.\w*$")
_MEMBERS = {"output": "the rule's outputs (named ones as attributes)", "input": "the rule's inputs (not those of functions)",
            "params": "the rule's params, a dict", "name": "the rule's name"}
_FIELD_DOT = re.compile(r"\{(input|output|params|wildcards|resources|log)\.(\w*)$")
_FIELD = re.compile(r"(?<!\{)(?<!\$)\{(\w*)$")
_SECTION_LINE = re.compile(r"^([ \t]+)(\w+)[ \t]*:")


def rule_at(model: Model, state: DocState, line: int) -> RuleInfo | None:
    """The rule the line belongs to (by the last parse, or by the nearest header above it)."""
    found = enclosing_rule(state.index, line)
    if found is not None:
        return found
    header = _header_above(state, line)
    return model.rules(state.path).get(header) if header else None


def _header_above(state: DocState, line: int) -> str | None:
    """The name in the `rule NAME:` line that the line is under, if it is under one."""
    for n in range(line, -1, -1):
        text = state.text.line(n)
        if text[:1].strip() and not text.startswith("#"):
            return text.split()[1].rstrip(":") if HEADER.match(text) else None
    return None


def section_at(state: DocState, rule: RuleInfo, line: int) -> tuple[str | None, str | None]:
    """The section the line is in, and the indentation of the rule's sections."""
    indent = None
    for n in range(rule.first_line + 1, len(state.text.lines)):
        m = _SECTION_LINE.match(state.text.line(n))
        if m:
            indent = m.group(1)
            break
    if indent is None:
        return None, None
    for n in range(line, rule.first_line, -1):
        m = _SECTION_LINE.match(state.text.line(n))
        if m and m.group(1) == indent:
            return m.group(2), indent
    return None, indent


def complete(model: Model, state: DocState, line: int, col: int) -> list[T.CompletionItem]:
    before = state.text.line(line)[:col]
    m = _RULE_DOT.search(before)
    if m:
        rules = model.rules(state.path).values()
        return [T.CompletionItem(r.name, kind=_K.Class, detail=f"{r.kind} {r.name}",
                                 documentation=r.doc)
                for r in rules if m.group(1) == "rules" or (r.kind == "checkpoint" if m.group(1) == "checkpoints"
                                                            else "python" in r.sections)]
    m = _RULE_MEMBER.search(before)
    if m and m.group(1) in model.rules(state.path):
        return [T.CompletionItem(n, kind=_K.Property, documentation=doc) for n, doc in _MEMBERS.items()]
    rule = rule_at(model, state, line)
    m = _FIELD_DOT.search(before)
    if m:
        return _fields(rule, m.group(1)) if rule else []
    m = _FIELD.search(before)
    if m and rule is not None and before[:1].isspace():
        names = list(BODY_FIELDS) + rule.wildcards()
        items = [T.CompletionItem(n, kind=_K.Field if n in BODY_FIELDS else _K.Variable,
                                  documentation=BODY_FIELDS.get(n, "a wildcard of the rule's outputs")) for n in names]
        return items + _names(model, state)
    if re.fullmatch(r"\w*", before):  # a statement at the top level
        return [T.CompletionItem(w, kind=_K.Keyword) for w in statements()]
    if re.fullmatch(r"[ \t]+\w*", before) and ((rule is not None and rule.kind != "short") or _header_above(state, line)):
        # (a rule that does not parse yet, as while its first section is typed: every section)
        indent = section_at(state, rule, line)[1] if rule is not None else None
        if indent is None or before[: len(before) - len(before.lstrip())] == indent:
            have = set(rule.sections) if rule is not None else set()
            return [T.CompletionItem(s, kind=_K.Keyword, insert_text=f"{s}: ", documentation=section_doc(s))
                    for s in sections() if s not in have]
    if rule is not None and (rule.kind == "short" or section_at(state, rule, line)[0] == "shell"):
        return []  # shell text: only the `{...}` fields above
    if not re.search(r"\.\w*$", before):
        helpers = [T.CompletionItem(h, kind=_K.Function, documentation=doc) for h, doc in HELPER_DOCS.items()]
        return helpers + _names(model, state)
    return []


def _fields(rule: RuleInfo, what: str) -> list[T.CompletionItem]:
    if what == "wildcards":
        names = rule.wildcards()
    elif what == "resources":
        names = rule.keys("resources")
        names += [n for n in ("cores",) if n not in names]
    else:
        names = rule.keys(what)
    return [T.CompletionItem(n, kind=_K.Field, detail=f"{what} of rule {rule.name}") for n in names]


def _names(model: Model, state: DocState) -> list[T.CompletionItem]:
    kinds = {"variable": _K.Variable, "function": _K.Function, "class": _K.Class, "import": _K.Module}
    return [T.CompletionItem(n.name, kind=kinds.get(n.kind, _K.Variable), detail=n.text)
            for n in model.names(state.path).values()]
