"""The pygls wiring: document events, diagnostics, and the requests the other modules answer.

Settings (initializationOptions): `checkOnSave` (default true: load and plan the Pipefile in a
child process when it is saved) and `checkTimeout` (seconds, default 10: the child is killed
after it, and the server says so).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer

from ..errors import Location, PipefileError
from ..version import __version__
from .actions import code_actions
from .complete import complete
from .diagnostics import SOURCE, error_diagnostic, unknown_rule_refs, unused_names
from .document import HEADER
from .hover import hover
from .model import DocState, Model, path_to_uri, uri_to_path
from .navigate import definition, references, symbols


class PipefileServer(LanguageServer):
    def __init__(self):
        super().__init__("pyrule", __version__)
        self.model = Model()
        self.check_on_save = True
        self.check_timeout = 10.0
        self.elsewhere: dict[str, list[T.Diagnostic]] = {}  # on-save errors in files not open, by path
        self.checks: dict[str, int] = {}  # the latest on-save check of each file

    def state(self, uri: str) -> DocState:
        path = uri_to_path(uri)
        state = self.model.docs.get(path)
        return self.refresh(uri) if state is None else state

    def refresh(self, uri: str) -> DocState:
        self.model.codec = self.workspace.position_codec
        return self.model.update(uri_to_path(uri), self.workspace.get_text_document(uri).source)

    def publish(self, uri: str, state: DocState) -> None:
        diagnostics = []
        if state.analysis.error is not None:
            diagnostics.append(error_diagnostic(state.analysis.error, state.text, uri))
        rules = set(self.model.rules(state.path))
        if state.analysis.error is not None:  # a piece that does not parse still names its rules
            rules |= {m.group().split()[1].rstrip(":") for m in HEADER.finditer(state.text.text)}
        diagnostics += unknown_rule_refs(state.index, rules, state.text, uri)
        if state.analysis.error is None:
            texts = [text.text for _, text in self.model.family(state.path)]
            diagnostics += unused_names(state.index, texts, state.text)
        seen = {(d.range.start.line, d.message) for d in diagnostics}
        diagnostics += [d for d in state.saved_diagnostics if (d.range.start.line, d.message) not in seen]
        self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics))

    async def check(self, uri: str, state: DocState) -> None:
        """Load and plan the saved file in a child process (its Python runs there, for at most
        check_timeout seconds); keep what it finds until the lines it is on are edited. (Of two
        checks under way, the later save's wins.)"""
        if not uri.startswith("file:") or not os.path.isfile(state.path):
            return
        self.checks[state.path] = ticket = self.checks.get(state.path, 0) + 1
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pyrule.lsp.check", state.path, cwd=os.path.dirname(state.path) or ".",
            env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        note = None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.check_timeout)
            result = json.loads(out) if proc.returncode == 0 else {}
            if proc.returncode != 0:  # a bug in pyrule: say so, with the error's last line
                last = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
                note = f"the on-save check of the Pipefile failed: {last[0]}"
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            result = {}
            note = (f"the Pipefile took longer than {self.check_timeout:g} s to load and plan; "
                    "its errors beyond the syntax are not shown (checkTimeout sets the limit)")
        except ValueError:
            result = {}
        if self.checks.get(state.path) != ticket:
            return
        state.saved = result
        state.saved_diagnostics = self._saved_diagnostics(uri, state, result)
        if note is not None:
            state.saved_diagnostics.append(T.Diagnostic(T.Range(T.Position(0, 0), T.Position(0, 0)), note,
                                                        severity=T.DiagnosticSeverity.Information, source=SOURCE))
        self.publish(uri, state)

    def _saved_diagnostics(self, uri: str, state: DocState, result: dict) -> list[T.Diagnostic]:
        directory = os.path.dirname(state.path)
        found: list[T.Diagnostic] = []
        for path in self.elsewhere:
            self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=path_to_uri(path), diagnostics=[]))
        self.elsewhere = {}
        error = result.get("error")
        if error:
            file = os.path.normpath(os.path.join(directory, error["file"])) if error["file"] else state.path
            loc = Location(file, error["line"], error["col"]) if error["line"] else None
            e = PipefileError(error["message"], loc, error["hint"])
            if file == state.path or loc is None:
                found.append(error_diagnostic(e, state.text, uri))
            else:
                other = self.model.file(file)
                if other is not None:
                    d = error_diagnostic(e, other[1], path_to_uri(file))
                    self.elsewhere[file] = [d]
                    self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=path_to_uri(file), diagnostics=[d]))
        for item in result.get("unreached", []):
            file = os.path.normpath(os.path.join(directory, item["file"]))
            info = state.index.rules.get(item["name"])
            if file != state.path or info is None:
                continue
            found.append(T.Diagnostic(state.text.range(info.name_span),
                                      f"rule '{item['name']}' is not reached from the default target",
                                      severity=T.DiagnosticSeverity.Warning, source=SOURCE))
        return found


def _moved(diagnostics: list[T.Diagnostic], changes) -> list[T.Diagnostic]:
    """The on-save diagnostics after an edit: those below it moved by the lines it added or
    removed; those on the edited lines dropped (they may no longer hold)."""
    for change in changes:
        if not isinstance(change, T.TextDocumentContentChangePartial):
            return []
        start, end = change.range.start.line, change.range.end.line
        delta = change.text.count("\n") - (end - start)
        kept = []
        for d in diagnostics:
            if d.range.end.line < start:
                kept.append(d)
            elif d.range.start.line > end:
                r = d.range
                kept.append(T.Diagnostic(
                    T.Range(T.Position(r.start.line + delta, r.start.character), T.Position(r.end.line + delta, r.end.character)),
                    d.message, severity=d.severity, source=d.source, tags=d.tags, data=d.data,
                    related_information=[T.DiagnosticRelatedInformation(
                        T.Location(x.location.uri, T.Range(T.Position(x.location.range.start.line + delta, x.location.range.start.character),
                                                           T.Position(x.location.range.end.line + delta, x.location.range.end.character))),
                        x.message) for x in d.related_information or []] or None))
        diagnostics = kept
    return diagnostics


def make_server() -> PipefileServer:
    server = PipefileServer()

    @server.feature(T.INITIALIZE)
    def initialize(ls: PipefileServer, params: T.InitializeParams) -> None:
        options = params.initialization_options if isinstance(params.initialization_options, dict) else {}
        ls.check_on_save = bool(options.get("checkOnSave", True))
        ls.check_timeout = float(options.get("checkTimeout", 10))

    @server.feature(T.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: PipefileServer, params: T.DidOpenTextDocumentParams) -> None:
        # Opening runs nothing of the file (it may come from anyone): its Python runs on save.
        state = ls.refresh(params.text_document.uri)
        ls.publish(params.text_document.uri, state)

    @server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: PipefileServer, params: T.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        old = ls.model.docs.get(uri_to_path(uri))
        saved = _moved(old.saved_diagnostics, params.content_changes) if old else []
        state = ls.refresh(uri)
        state.saved_diagnostics = saved
        ls.publish(uri, state)

    @server.feature(T.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: PipefileServer, params: T.DidSaveTextDocumentParams) -> None:
        state = ls.refresh(params.text_document.uri)
        if ls.check_on_save and state.analysis.error is None:
            await ls.check(params.text_document.uri, state)
        else:
            state.saved_diagnostics = []
            ls.publish(params.text_document.uri, state)

    @server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: PipefileServer, params: T.DidCloseTextDocumentParams) -> None:
        ls.model.close(uri_to_path(params.text_document.uri))
        ls.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    def at(ls: PipefileServer, params) -> tuple[Model, DocState, int, int]:
        """(model, document, line, character) of a request about a position."""
        state = ls.state(params.text_document.uri)
        return (ls.model, state, *state.text.position(params.position))

    @server.feature(T.TEXT_DOCUMENT_COMPLETION, T.CompletionOptions(trigger_characters=[".", "{"]))
    def on_complete(ls: PipefileServer, params: T.CompletionParams) -> T.CompletionList:
        return T.CompletionList(is_incomplete=False, items=complete(*at(ls, params)))

    @server.feature(T.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: PipefileServer, params: T.DefinitionParams) -> T.Location | None:
        return definition(*at(ls, params))

    @server.feature(T.TEXT_DOCUMENT_REFERENCES)
    def on_references(ls: PipefileServer, params: T.ReferenceParams) -> list[T.Location]:
        return references(*at(ls, params), declaration=params.context.include_declaration)

    @server.feature(T.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: PipefileServer, params: T.HoverParams) -> T.Hover | None:
        return hover(*at(ls, params))

    @server.feature(T.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def on_symbols(ls: PipefileServer, params: T.DocumentSymbolParams) -> list[T.DocumentSymbol]:
        return symbols(ls.state(params.text_document.uri))

    @server.feature(T.TEXT_DOCUMENT_CODE_ACTION,
                    T.CodeActionOptions(code_action_kinds=[T.CodeActionKind.QuickFix]))
    def on_code_action(ls: PipefileServer, params: T.CodeActionParams) -> list[T.CodeAction]:
        state = ls.state(params.text_document.uri)
        return code_actions(state, params.text_document.uri, params.context.diagnostics)

    return server
