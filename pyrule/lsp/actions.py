"""Code actions: apply the did-you-mean of a diagnostic (the spelling the loader suggests)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from lsprotocol import types as T

from .diagnostics import DID_YOU_MEAN, SOURCE
from .model import DocState


def code_actions(state: DocState, uri: str, diagnostics: Sequence[T.Diagnostic]) -> list[T.CodeAction]:
    out = []
    for d in diagnostics:
        if d.source != SOURCE:
            continue
        data = d.data if isinstance(d.data, dict) else {}
        hints = " ".join([d.message] + [r.message for r in d.related_information or []])
        found = DID_YOU_MEAN.search(hints)
        suggestion = data.get("suggestion") or (found.group(1) if found else None)
        if not suggestion:
            continue
        where = _misspelt(state, d, suggestion)
        if where is None:
            continue
        edit = T.WorkspaceEdit(changes={uri: [T.TextEdit(where, suggestion)]})
        out.append(T.CodeAction(f"Change to '{suggestion}'", kind=T.CodeActionKind.QuickFix, diagnostics=[d],
                                edit=edit, is_preferred=True))
    return out


def _misspelt(state: DocState, d: T.Diagnostic, suggestion: str) -> T.Range | None:
    """The text the suggestion replaces: the diagnostic's `{field}`, or the quoted word of its
    message nearest to the suggestion, found on the diagnostic's line."""
    if suggestion.startswith("{"):
        return d.range
    words = [w for w in re.findall(r"'([^']+)'", d.message) if w != suggestion]
    if not words:
        return None
    word = max(words, key=lambda w: difflib.SequenceMatcher(None, w, suggestion).ratio())
    line, col = state.text.position(d.range.start)
    text = state.text.line(line)
    spots = [m.start() for m in re.finditer(rf"(?<![\w]){re.escape(word)}(?![\w])", text)]
    if not spots:
        return None
    start = min(spots, key=lambda s: abs(s - col))
    from .index import Span

    return state.text.range(Span(line, start, start + len(word)))
