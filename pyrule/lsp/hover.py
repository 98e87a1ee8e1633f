"""Hover: a rule's docstring and sections, a top-level name's definition (and its value at the
last save), a section's or a helper's documentation."""

from __future__ import annotations

import re

from lsprotocol import types as T

from .index import RuleInfo
from .model import DocState, Model
from .words import BODY_FIELDS, HELPER_DOCS, section_doc


def hover(model: Model, state: DocState, line: int, col: int) -> T.Hover | None:
    found = state.text.word_at(line, col)
    if found is None:
        return None
    word, span = found
    line_text = state.text.line(line)
    before = line_text[: span.start]
    text = None
    if section_doc(word) and re.fullmatch(r"[ \t]+", before) and line_text[span.end:].lstrip().startswith(":"):
        text = f"**{word}:** {section_doc(word)}"
    elif re.search(r"\{$", before) and word in BODY_FIELDS:
        text = f"`{{{word}}}`: {BODY_FIELDS[word]}"
    elif re.search(r"\{(input|output|params|resources|env)\.$", before):
        text = _item(model, state, line, before.rsplit("{", 1)[1].rstrip("."), word)
    else:
        rules, names = model.rules(state.path), model.names(state.path)
        if word in rules and (re.search(r"\b(rules|checkpoints|values)\.$", before) or word not in names):
            text = _rule(model, rules[word], state.saved.get("rules", {}).get(word))
        elif word in names:
            name = names[word]
            text = f"```python\n{name.text}\n```"
            value = state.saved.get("values", {}).get(word)
            if value is not None:
                text += f"\n\nvalue at the last save: `{value}`"
        elif word in HELPER_DOCS:
            text = HELPER_DOCS[word]
    if text is None:
        return None
    return T.Hover(T.MarkupContent(T.MarkupKind.Markdown, text), state.text.range(span))


def _item(model: Model, state: DocState, line: int, section: str, key: str) -> str | None:
    """`{params.x}`: the line of the rule's section that gives x."""
    from .complete import rule_at
    from .navigate import key_span

    rule = rule_at(model, state, line)
    if rule is None:
        return None
    span, found = key_span(model, rule, section, key), model.file(rule.file)
    if span is None or found is None:
        return None
    return f"```pipefile\n{found[1].line(span.line).strip()}\n```\n\n{section} of rule {rule.name}"


def _rule(model: Model, rule: RuleInfo, loaded: dict | None) -> str:
    found = model.file(rule.file)
    lines = found[1].lines[rule.first_line : rule.last_line + 1] if found else []
    head = lines[0].strip() if lines else f"{rule.kind} {rule.name}:"
    parts = [f"```pipefile\n{head}\n```"]
    if rule.doc:
        parts.append(rule.doc)
    shown = [ln for ln in lines[1:] if ln.strip() and not ln.strip().startswith(('"""', "'''", "#"))]
    if rule.doc:  # the docstring's own lines are shown above, as text
        shown = [ln for ln in shown if ln.strip() not in rule.doc.splitlines()]
    if shown:
        body = "\n".join(shown[:25] + (["    ..."] if len(shown) > 25 else []))
        parts.append(f"```pipefile\n{body}\n```")
    if loaded:  # what the loader made of them at the last save
        parts.append("as loaded at the last save:\n\n" + "\n".join(f"- {k}: `{v}`" for k, v in loaded.items()))
    return "\n\n".join(parts)
