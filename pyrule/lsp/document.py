"""Parsing a Pipefile as it is typed: by pieces, with the command line's messages.

A file is cut before each `rule NAME:` / `checkpoint NAME:` header at the start of a line; each
piece is parsed on its own (pyrule.parse, the same parser) and kept by its text, so a change
re-parses only the piece it touches (a 2,000-rule file: ~1 s whole, under a millisecond a
piece). Pieces end where top-level statements end, so the pieces parse as the whole file does;
the first error is then re-parsed in place (the lines above it as blank lines, the next piece
after it) so that its position, message and hint are exactly the ones `pyrule` prints.
"""

from __future__ import annotations

import re

from .. import syntax as S
from ..errors import Location, PipefileError
from ..parse import parse_text, parse_tree, to_ast
from ..record import field, record

HEADER = re.compile(r"^(?:rule|checkpoint)[ \t]+\w+[ \t]*:", re.M)

_RECORDS = (S.Code, S.Body, S.Target, S.Assignment, S.Import, S.Include, S.Default, S.PythonBlock,
            S.Section, S.RuleDecl, S.ShortRule)


@record
class Analysis:
    """One version of a document: the statements of every piece that parses, each piece with the
    number of lines above it (its statements' lines count from the piece's first line, so that
    a piece an edit only moves is not touched), and the error `pyrule` would report for the
    whole text, if any."""

    text: str
    pieces: list[tuple[int, list]] = field(default_factory=list)
    error: PipefileError | None = None

    @property
    def statements(self) -> list:
        """The statements with their lines in the document (as a whole-file parse gives them)."""
        return [shift(s, offset) for offset, stmts in self.pieces for s in stmts]


class Parser:
    """The parsed pieces of one document, kept between its versions."""

    def __init__(self, filename: str):
        self.filename = filename
        self._pieces: dict[str, tuple[str, object]] = {}  # piece text -> ("ok", statements) / (stage, error)

    def analyse(self, text: str) -> Analysis:
        text = text.removeprefix("\ufeff").replace("\r\n", "\n")
        if "\0" in text:  # found before any parsing, as the command line finds it
            return Analysis(text, [], _error_of(text, self.filename))
        pieces = _cut(text)
        results = []
        pieces_now: dict[str, tuple[str, object]] = {}
        parsed: list[tuple[int, list]] = []
        for offset, piece in pieces:
            result = self._pieces.get(piece) or self._parse(piece)
            pieces_now[piece] = result
            results.append(result)
            if result[0] == "ok":
                parsed.append((offset, result[1]))  # type: ignore[arg-type]
        self._pieces = pieces_now
        return Analysis(text, parsed, self._first_error(pieces, results))

    def _parse(self, piece: str) -> tuple[str, object]:
        try:
            text, tree = parse_tree(piece, self.filename)
        except PipefileError as e:
            return ("syntax", e)
        try:
            return ("ok", to_ast(tree, text, self.filename).statements)
        except PipefileError as e:
            return ("python", e)

    def _first_error(self, pieces: list[tuple[int, str]], results: list[tuple[str, object]]) -> PipefileError | None:
        # The grammar's errors come first (the command line parses the whole file before it
        # checks the Python in it), then Python's, each the first in the file.
        for stage in ("syntax", "python"):
            for i, (offset, _piece) in enumerate(pieces):
                if results[i][0] != stage:
                    continue
                found = self._in_place(pieces, i, stage == "syntax")
                if found is not None:
                    return found
                error = results[i][1]
                assert isinstance(error, PipefileError)
                return shift(error, offset)
        return None


    def _in_place(self, pieces: list[tuple[int, str]], i: int, context: bool) -> PipefileError | None:
        """The error of piece i as the whole file gives it: with the pieces after it as long as
        the error lies in the last of them (an unclosed bracket reads on into the next rules)."""
        end = i + 1
        while True:
            text = "\n" * pieces[i][0] + "".join(p for _, p in pieces[i:end])
            found = _error_of(text, self.filename)
            if not context or end >= len(pieces) or found is None or found.loc is None \
                    or found.loc.line <= pieces[end - 1][0] and end > i + 1:
                return found
            end = min(len(pieces), end + max(1, end - i))


def _cut(text: str) -> list[tuple[int, str]]:
    """The pieces of a text: (lines before the piece, piece)."""
    starts = [0] + [m.start() for m in HEADER.finditer(text) if m.start() > 0]
    pieces = []
    line = 0
    for a, b in zip(starts, starts[1:] + [len(text)]):
        pieces.append((line, text[a:b]))
        line += text.count("\n", a, b)
    return pieces


def _error_of(text: str, filename: str) -> PipefileError | None:
    try:
        parse_text(text, filename)
    except PipefileError as e:
        return e
    return None


def shift(obj, lines: int):
    """A statement (or an error) moved down by `lines` lines."""
    if lines == 0:
        return obj
    if isinstance(obj, Location):
        return Location(obj.file, obj.line + lines, obj.col)
    if isinstance(obj, list):
        return [shift(x, lines) for x in obj]
    if isinstance(obj, dict):
        return {k: shift(v, lines) for k, v in obj.items()}
    if isinstance(obj, _RECORDS):
        return type(obj)(*(shift(getattr(obj, f), lines) for f in obj.__match_args__))
    if isinstance(obj, PipefileError):
        return type(obj)(obj.message, shift(obj.loc, lines) if obj.loc else None, obj.hint)
    return obj
