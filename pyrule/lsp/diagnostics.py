"""Diagnostics: the parser's and loader's errors as the command line words them, and warnings
found without running anything (top-level names nothing uses, `rules.X` naming no rule)."""

from __future__ import annotations

import re

from lsprotocol import types as T

from ..errors import Location, PipefileError, suggest
from .index import Index, Span, location_span
from .text import Text

SOURCE = "pyrule"
DID_YOU_MEAN = re.compile(r"did you mean '([^']+)'\?")


def error_diagnostic(e: PipefileError, doc: Text, uri: str, severity=T.DiagnosticSeverity.Error) -> T.Diagnostic:
    """The error `pyrule` prints, at the place its caret points to (the word or `{field}` there);
    the hint as related information (and in `data`, the did-you-mean for the code action)."""
    span = location_span(e.loc, doc.lines) if e.loc else Span(0, 0, 0)
    where = doc.range(span)
    related = [T.DiagnosticRelatedInformation(T.Location(uri, where), f"hint: {e.hint}")] if e.hint else None
    found = DID_YOU_MEAN.search(f"{e.message} {e.hint or ''}")
    data = {"suggestion": found.group(1), "message": e.message} if found else None
    return T.Diagnostic(where, e.message, severity=severity, source=SOURCE, related_information=related, data=data)


def unused_names(index: Index, texts: list[str], doc: Text) -> list[T.Diagnostic]:
    """Top-level names that nothing in the document (nor in the files it includes) mentions."""
    names = [n for n in index.names.values() if n.kind in ("variable", "function") and not n.name.startswith("_")]
    if not names:
        return []
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(n.name) for n in names) + r")\b")
    counts: dict[str, int] = {}
    for text in texts:
        for word in pattern.findall(text):
            counts[word] = counts.get(word, 0) + 1
    return [T.Diagnostic(doc.range(n.span), f"'{n.name}' is never used", severity=T.DiagnosticSeverity.Warning,
                         source=SOURCE, tags=[T.DiagnosticTag.Unnecessary])
            for n in names if counts.get(n.name, 0) <= 1]


_RULE_REF = re.compile(r"\brules\.(\w+)")


def unknown_rule_refs(index: Index, rules: set[str], doc: Text, uri: str) -> list[T.Diagnostic]:
    """`rules.X` in a value evaluated as the file is read, where no file of the workflow defines
    X, or this file defines it further down: the error the loader will give (worded as it words
    it), found without running anything."""
    from .. import syntax as S

    found = []
    for stmt, _first, _last, offset in index.statements:
        codes = [stmt.value] if isinstance(stmt, S.Assignment) else \
            [c for sec in stmt.sections.values() for c in sec.values] if isinstance(stmt, S.RuleDecl) else []
        for code in codes:
            if "lambda" in code.text:  # called later, when every rule is defined
                continue
            for m in _RULE_REF.finditer(code.text):
                start = code.loc.line + offset
                line = start + code.text.count("\n", 0, m.start(1))
                below = index.rules.get(m.group(1))
                if m.group(1).startswith("_") or (m.group(1) in rules and (below is None or below.first_line < line)):
                    continue
                # where the loader's error points: the value's start, or the first character of its line
                text = doc.line(line - 1)
                col = code.loc.col if line == start else len(text) - len(text.lstrip()) + 1
                hint = suggest(m.group(1), rules)
                message = f"AttributeError: no rule '{m.group(1)}' is defined above this line" + (f"; {hint}" if hint else "")
                found.append(error_diagnostic(PipefileError(message, Location(index.file, line, col)), doc, uri))
    return found
