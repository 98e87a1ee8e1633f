"""The server's view of the files it serves: each open document's latest parse and index, and
the files it includes (read from disk unless open), so that a rule or a name defined in an
included file is found too."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from ..record import field, record
from .document import Analysis, Parser
from .index import Index, NameInfo, RuleInfo, build
from .text import CODEC, Text


def uri_to_path(uri: str) -> str:
    return unquote(urlparse(uri).path) if uri.startswith("file:") else uri


def path_to_uri(path: str) -> str:
    from pathlib import Path

    return Path(os.path.abspath(path)).as_uri()


@record
class DocState:
    path: str
    parser: Parser
    text: Text
    analysis: Analysis
    index: Index
    saved: dict = field(default_factory=dict)  # the last on-save check's result (check.py)
    saved_diagnostics: list = field(default_factory=list)  # its diagnostics, moved as lines are edited


class Model:
    def __init__(self):
        self.docs: dict[str, DocState] = {}  # by path
        self.codec = CODEC  # the position encoding agreed with the client (UTF-16 unless it prefers another)
        self._disk: dict[str, tuple[float, Index, Text]] = {}  # included files not open: by path

    def update(self, path: str, source: str) -> DocState:
        state = self.docs.get(path)
        parser = state.parser if state else Parser(os.path.basename(path))
        analysis = parser.analyse(source)
        text = Text(analysis.text, self.codec)
        index = build(analysis.pieces, analysis.text, path)
        if state is None:
            state = self.docs[path] = DocState(path, parser, text, analysis, index)
        else:
            state.text, state.analysis, state.index = text, analysis, index
        return state

    def close(self, path: str) -> None:
        self.docs.pop(path, None)

    def file(self, path: str) -> tuple[Index, Text] | None:
        """A file's index: the open document's, else the file on disk (re-read when it changed)."""
        if path in self.docs:
            return self.docs[path].index, self.docs[path].text
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return None
        cached = self._disk.get(path)
        if cached and cached[0] == mtime:
            return cached[1], cached[2]
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
        except (OSError, UnicodeDecodeError):
            return None
        analysis = Parser(os.path.basename(path)).analyse(source)
        text = Text(analysis.text, self.codec)
        index = build(analysis.pieces, analysis.text, path)
        self._disk[path] = (mtime, index, text)
        return index, text

    def family(self, path: str) -> list[tuple[Index, Text]]:
        """The document and the files it includes (and they include), the document first; and,
        for an included file, the `Pipefile` beside it (which likely includes it)."""
        seen: list[str] = []
        out: list[tuple[Index, Text]] = []
        todo = [path]
        beside = os.path.join(os.path.dirname(path), "Pipefile")
        if os.path.basename(path) != "Pipefile" and os.path.isfile(beside):
            todo.append(beside)
        while todo:
            p = todo.pop(0)
            if p in seen or len(seen) > 50:
                continue
            seen.append(p)
            found = self.file(p)
            if found is None:
                continue
            out.append(found)
            todo += [inc for _span, inc in found[0].includes if inc]
        return out

    def rules(self, path: str) -> dict[str, RuleInfo]:
        """The rules of the document's family, each where it is first defined."""
        return self._merged(path, "rules")

    def names(self, path: str) -> dict[str, NameInfo]:
        """The top-level names of the document's family."""
        return self._merged(path, "names")

    def _merged(self, path: str, what: str) -> dict:
        found: dict = {}
        for index, _ in self.family(path):
            for name, info in getattr(index, what).items():
                found.setdefault(name, info)
        return found
