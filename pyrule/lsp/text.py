"""A document's lines, and positions between the server's characters and the client's units
(UTF-16 by default in the protocol; pyrule counts characters)."""

from __future__ import annotations

import re

from lsprotocol import types as T
from pygls.workspace import PositionCodec

from .index import Span

CODEC = PositionCodec()
_WORD = re.compile(r"\w+")


class Text:
    def __init__(self, text: str, codec: PositionCodec = CODEC):
        self.text = text
        self.lines = text.split("\n")
        self.codec = codec

    def line(self, n: int) -> str:
        return self.lines[n] if 0 <= n < len(self.lines) else ""

    def range(self, span: Span) -> T.Range:
        return self.codec.range_to_client_units(
            self.lines, T.Range(T.Position(span.line, span.start), T.Position(span.line, span.end)))

    def position(self, pos: T.Position) -> tuple[int, int]:
        """A client's position as (line, character)."""
        p = self.codec.position_from_client_units(self.lines, pos)
        return p.line, p.character

    def word_at(self, line: int, col: int) -> tuple[str, Span] | None:
        """The identifier under (or just before) a character position."""
        text = self.line(line)
        for m in _WORD.finditer(text):
            if m.start() <= col <= m.end():
                return m.group(), Span(line, m.start(), m.end())
        return None
