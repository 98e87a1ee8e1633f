"""Stage 2: AST -> Rules. Evaluates the Pipefile's Python in file order, with includes and
command-line overrides, and builds rules through the class the Python API builds them with (pyrule.define)."""

from __future__ import annotations

import os
import sys
from types import CodeType

from . import syntax as S
from .config import Config
from .define import Definitions
from .errors import Location, PipefileError, UsageError, suggest
from .parse_cache import parse_file
from .rules import Items, Rules

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

    StrPath = str | os.PathLike[str]

_KEYWORD_SECTIONS = ("params", "resources", "env", "slurm")
_SINGLE_SECTIONS = ("log", "check", "retries", "priority", "script", "local", "cache", "container", "venv", "group")


def parse_override(text: str) -> tuple[str, Any]:
    """`NAME=VALUE` from the command line: VALUE is a Python literal when it parses as one, else a string."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise UsageError(f"bad override '{text}'", hint="write NAME=VALUE, e.g. MIN_LEN=40 or SAMPLES=\"['a','b']\"")
    import ast  # only here: the module costs start-up time

    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = raw
    return name, value


def load(path: StrPath, overrides: dict[str, Any] | None = None, directory: StrPath = ".",
         config: Config | None = None) -> Rules:
    """Load a Pipefile (and its includes) into Rules. `config`: the command line's --configfile
    and --config, applied over the Pipefile's `configfile:` statements."""
    for home in _ON_PATH:  # a previous load's directories (in-process callers: tests, the API)
        if home in sys.path:
            sys.path.remove(home)
    _ON_PATH.clear()
    loader = _Loader(Definitions(directory), dict(overrides or {}), config or Config())
    loader.load_file(os.fspath(path), None)
    loader.check_overrides()
    if loader.container is not None:  # top-level `container:`: every shell rule that names none (nor a venv)
        for rule in loader.wf.rules.rules.values():
            if rule.name not in loader.own_container and rule.shell is not None and rule.venv is None:
                rule.container = loader.container
                if loader.container_loc is not None:
                    rule.section_locs.setdefault("container", loader.container_loc)
    return loader.wf.rules


_ON_PATH: list[str] = []  # the directories load() put on sys.path (the last load's only)


class _Loader:
    def __init__(self, wf: Definitions, overrides: dict[str, Any], config: Config):
        self.wf = wf
        self.ns = wf.rules.namespace
        self.config = config
        config.start(self.ns["config"])
        self.ns["workflow"] = PipefileWorkflow(wf)
        self.overrides = overrides
        self.used: set[str] = set()
        self.plain: dict[str, Location] = {}  # names set with '=' (not overridable)
        self.stack: list[str] = []
        self.assigned: set[str] = set()  # names set by `NAME = ...` or `NAME ?= ...`
        self.container: str | None = None  # top-level `container:` (docs/environments.md)
        self.container_loc: Location | None = None
        self.own_container: set[str] = set()  # rules with their own `container:` (None included)

    # --- files and statements ----------------------------------------------------------------

    def load_file(self, path: str, included_at: Location | None) -> None:
        real = os.path.realpath(path)
        if real in self.stack:
            chain = " -> ".join(os.path.relpath(p) for p in [*self.stack[self.stack.index(real):], real])
            raise PipefileError(f"include cycle: {chain}", included_at, "remove one of these includes")
        if not os.path.isfile(path):
            if included_at is None:
                raise UsageError(f"no Pipefile at {path}", hint=other_case(path) or "create one, or name it with -f FILE")
            raise PipefileError(f"include: no file '{path}'", included_at, "the path is relative to the including file")
        pipefile = parse_file(path)
        home = os.path.dirname(os.path.abspath(path))
        if included_at is None:
            self.ns["workflow"].basedir = home
        if home not in sys.path:  # modules beside the Pipefile (or an include) import as such
            sys.path.insert(0, home)
            _ON_PATH.append(home)
        self.wf.rules.files.append(path)
        self.stack.append(real)
        for stmt in pipefile.statements:
            self.statement(stmt, path)
        self.stack.pop()

    def statement(self, stmt: S.Statement, path: str) -> None:
        if isinstance(stmt, S.Assignment):
            self.assigned.add(stmt.name)
            if stmt.op == "?=" and stmt.name in self.overrides:
                self.used.add(stmt.name)
                self.ns[stmt.name] = self.overrides[stmt.name]
            else:
                try:
                    self.ns[stmt.name] = evaluate(stmt.value, self.ns)
                except PipefileError as e:
                    word = stmt.value.text.strip()
                    if word.isidentifier() and e.message.startswith("NameError"):  # `CC ?= cc`: a Make habit
                        e.hint = (f"{e.hint}; or, to mean the text, quote it: {stmt.name} {stmt.op} \"{word}\" "
                                  "(values are Python expressions)")
                    raise
                if stmt.op == "=":
                    self.plain.setdefault(stmt.name, stmt.loc)
        elif isinstance(stmt, (S.Import, S.PythonBlock)):
            code = stmt.code if isinstance(stmt, S.Import) else S.Code(stmt.body.text, stmt.body.loc)
            execute(code, self.ns, body=isinstance(stmt, S.PythonBlock))
        elif isinstance(stmt, S.Include):
            target = evaluate(stmt.path, self.ns)
            if not isinstance(target, (str, os.PathLike)):
                raise PipefileError(f"include needs a path, not {type(target).__name__}", stmt.path.loc)
            # `sub/../a.pipe` is named `a.pipe` in messages (unless it went through a symlink)
            included = os.path.join(os.path.dirname(path), target)
            short = os.path.normpath(included)
            self.load_file(short if os.path.realpath(short) == os.path.realpath(included) else included, stmt.loc)
        elif isinstance(stmt, S.ConfigFile):
            target = evaluate(stmt.path, self.ns)
            if not isinstance(target, (str, os.PathLike)):
                raise PipefileError(f"configfile needs a path, not {type(target).__name__}", stmt.path.loc)
            config = self.ns.get("config")
            if not isinstance(config, dict):
                raise PipefileError(f"configfile: 'config' is a {type(config).__name__} here, not the config dict",
                                    stmt.loc, "do not assign to the name 'config'; change its keys instead")
            self.config.add_file(config, os.path.normpath(os.path.join(os.path.dirname(path), target)), stmt.path.loc)
        elif isinstance(stmt, S.CacheDir):
            target = evaluate(stmt.path, self.ns)
            if not isinstance(target, (str, os.PathLike)):
                raise PipefileError(f"cache needs a directory, not {type(target).__name__}", stmt.path.loc,
                                    'write cache: "/path/to/cache"')
            self.wf.rules.cache = os.path.join(os.path.dirname(path), os.path.expanduser(os.fspath(target)))
        elif isinstance(stmt, S.Container):
            image = evaluate(stmt.image, self.ns)
            if image is not None and (not isinstance(image, str) or not image):
                raise PipefileError(f"container: must be an image name, not {type(image).__name__} {image!r}", stmt.image.loc)
            if self.container is not None:
                raise PipefileError("the default container is given twice", stmt.loc, "keep one top-level container:")
            self.container, self.container_loc = image, stmt.loc
        elif isinstance(stmt, S.Default):
            self.wf.default(*(t.text for t in stmt.targets), loc=stmt.loc)
        elif isinstance(stmt, S.RuleDecl):
            self.rule(stmt)
        elif isinstance(stmt, S.ShortRule):
            self.short_rule(stmt)

    def check_overrides(self) -> None:
        for name in self.overrides:
            if name in self.used:
                continue
            if name in self.plain:
                raise UsageError(
                    f"{name} cannot be set from the command line: {self.plain[name]} sets it with '='",
                    hint=f"write '{name} ?= ...' in the Pipefile to let the command line override it",
                )
            raise UsageError(
                f"{name}={self.overrides[name]!r}: the Pipefile has no '{name} ?= ...'",
                hint=suggest(name, [n for n in self.ns if n.isupper()]) or "only names set with '?=' can be overridden",
            )

    # --- rules -------------------------------------------------------------------------------

    def rule(self, decl: S.RuleDecl) -> None:
        kwargs: dict[str, Any] = {}
        locs = {name: sec.loc for name, sec in decl.sections.items()}
        for name, sec in decl.sections.items():
            if sec.body is not None:
                kwargs[name] = sec.body.text
                locs[name] = sec.body.loc
                continue
            if name == "check" and len(sec.values) == 1 and sec.values[0].text.strip().isidentifier():
                kwargs["check"] = sec.values[0].text.strip()  # `check: mtime`, a bare word
                continue
            positional, named = [], {}
            for code in sec.values:
                args, kw = evaluate(code, self.ns, call=True)
                positional.extend(args)
                for k, v in kw.items():
                    if k in named:
                        raise PipefileError(f"'{k}' is given twice in {name}:", code.loc)
                    named[k] = v
            if name in _KEYWORD_SECTIONS:
                if positional:
                    raise PipefileError(f"{name}: takes name = value pairs", sec.loc, f"write e.g. '{name}: x = 1, y = \"a\"'")
                kwargs[name] = named
            elif name in _SINGLE_SECTIONS:
                if named or len(positional) != 1:
                    raise PipefileError(f"{name}: takes one value", sec.loc)
                kwargs[name] = positional[0]
            else:  # output, input: positional and named items, in order
                kwargs[name] = Items([(None, v) for v in positional] + list(named.items()))
        for name in ("script", "venv"):
            if isinstance(kwargs.get(name), str) and decl.loc is not None:
                # relative to the Pipefile that names it (an include's: its own directory)
                kwargs[name] = os.path.normpath(os.path.join(os.path.dirname(decl.loc.file), kwargs[name]))
        if "container" in kwargs:
            self.own_container.add(decl.name)
        if "log" in kwargs and not isinstance(kwargs["log"], str):
            raise PipefileError(f"log: must be a path, not {type(kwargs['log']).__name__}", locs["log"])
        self.wf.rule(
            decl.name,
            doc=decl.doc,
            checkpoint=decl.kind == "checkpoint",
            loc=decl.loc,
            section_locs=locs,
            **kwargs,
        )

    def short_rule(self, decl: S.ShortRule) -> None:
        outputs = [t.text for t in decl.outputs]
        inputs = [t.text for t in decl.inputs]
        self._check_short_wildcards(decl)
        locs = {"output": decl.outputs[0].loc}
        if decl.inputs:
            locs["input"] = decl.inputs[0].loc
        if decl.body is None:
            # Like Make's `all: a b`: a phony rule that gathers its inputs under one name.
            if len(outputs) > 1 or "{" in outputs[0]:
                raise PipefileError(
                    f"'{outputs[0]}': a short rule without a body gathers its inputs under one plain name",
                    decl.loc, "give it an indented shell body, or a single name without wildcards",
                )
            self.wf.rule(outputs[0], input=inputs, loc=decl.loc, section_locs=locs)
            return
        locs["shell"] = decl.body.loc
        self.wf.rule(outputs[0], output=outputs, input=inputs, shell=decl.body.text, loc=decl.loc, section_locs=locs)

    def _check_short_wildcards(self, decl: S.ShortRule) -> None:
        """`{VAR}` in a short rule is a wildcard, not the variable VAR (Make's `$(VAR)`): when it
        cannot be a wildcard (an input's that no output has) or names a variable, say so."""
        from .patterns import wildcard_names

        wild = {n for t in decl.outputs for n in wildcard_names(t.text)}
        used = {n for t in decl.inputs for n in wildcard_names(t.text)}
        for t in decl.outputs + decl.inputs:
            names = wildcard_names(t.text)
            # (a wildcard that outputs and inputs share is one, even if a variable has its name)
            bad = next((n for n in names if n not in wild or (n in self.assigned and n not in used)), None)
            if bad is None:
                continue
            what = f"the Pipefile's variable '{bad}'" if bad in self.assigned else f"'{bad}'"
            raise PipefileError(
                f"'{{{bad}}}' in a Make-style rule is a wildcard, not {what}: "
                "the short form 'OUTPUTS: INPUTS' takes only plain paths and {name} wildcards",
                t.loc, f"to use {bad} write a rule: 'rule NAME:' with 'output:' and 'input:' sections, "
                f"which are Python expressions (input: {bad})",
            )


class PipefileWorkflow:
    """`workflow` in a Pipefile: `workflow.rule(...)` and `workflow.checkpoint(...)` are the Python
    API's calls (pyrule.define.Definitions), for rules made in a loop in a `python:` block; a
    rule so made is located at the line that made it. `workflow.basedir`: the Pipefile's directory."""

    def __init__(self, wf: Definitions):
        self._wf = wf
        self.basedir = os.path.abspath(wf.directory)

    def rule(self, name: Any = None, **sections: Any) -> Any:
        sections.setdefault("loc", _caller())
        return self._wf.rule(name, **sections)

    def checkpoint(self, name: Any = None, **sections: Any) -> Any:
        sections.setdefault("loc", _caller())
        return self._wf.checkpoint(name, **sections)

    def __getattr__(self, name: str) -> Any:  # default(), checkpoints, rules, directory: as in the API
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._wf, name)


def _caller() -> Location | None:
    """Where the Pipefile code that called workflow.rule(...) is (None: not in a Pipefile)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back  # type: ignore[assignment]  # None ends the loop
    if frame is None or frame.f_globals.get("__name__") != "__pipefile__":
        return None
    return Location(frame.f_code.co_filename, frame.f_lineno, _first_col(frame.f_code.co_filename, frame.f_lineno))


def other_case(path: str) -> str | None:
    """A hint when the file exists under another case (`pipefile` for `Pipefile`)."""
    directory, name = os.path.split(path)
    try:
        near = [f for f in os.listdir(directory or ".") if f.lower() == name.lower() and f != name]
    except OSError:
        return None
    if not near:
        return None
    return f"there is '{near[0]}': names are case-sensitive; rename it to '{name}', or name it with -f {near[0]}"


# --- evaluating Pipefile Python --------------------------------------------------------------


def _capture(*args: Any, **kwargs: Any) -> tuple[tuple, dict]:
    return args, kwargs


def _compile(code: S.Code, mode: str, call: bool = False) -> CodeType:
    src = f"__pyrule_args__({code.text}\n)" if call else code.text
    try:
        return compile_at(src, code.loc.file, code.loc.line, mode)
    except SyntaxError as e:
        from .parse import python_error

        raise python_error(e, code, len("__pyrule_args__(") if call else 0) from None


def compile_at(src: str, file: str, line: int, mode: str) -> CodeType:
    """Compile Python taken from `file`, where its first line is `line`: tracebacks show the
    file's lines, in the functions it defines too. (A SyntaxError counts from the source's own
    first line.)"""
    return _moved(compile(src, file, mode), line - 1)


def _moved(code: CodeType, lines: int) -> CodeType:
    # Line numbers are stored relative to the first line: cheaper than compiling through
    # `ast` with `ast.increment_lineno`.
    consts = tuple(_moved(c, lines) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + lines, co_consts=consts)


def evaluate(code: S.Code, ns: dict[str, Any], call: bool = False) -> Any:
    """Evaluate an expression (or call arguments: returns (args, kwargs)) in the namespace."""
    compiled = _compile(code, "eval", call)
    if call:
        ns["__pyrule_args__"] = _capture
    try:
        return eval(compiled, ns)
    except (Exception, SystemExit) as e:  # noqa: BLE001 - any error in user code becomes a located message
        raise runtime_error(e, code, ns) from None


def execute(code: S.Code, ns: dict[str, Any], body: bool = False) -> None:
    """Run statements (imports, python: blocks) in the namespace."""
    compiled = _compile(code, "exec")
    try:
        exec(compiled, ns)
    except (Exception, SystemExit) as e:  # noqa: BLE001
        raise runtime_error(e, code, ns, body) from None


def runtime_error(e: BaseException, code: S.Code, ns: dict[str, Any], body: bool = False) -> PipefileError:
    """A PipefileError at the Pipefile line where the Python error happened."""
    if isinstance(e, PipefileError):
        return e
    line = code.loc.line
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == code.loc.file:
            line = tb.tb_lineno
        tb = tb.tb_next
    col = code.loc.col
    if line != code.loc.line:  # another line (later, or in a function defined above): its first character
        lines = code.text.split("\n")
        if 0 < line - code.loc.line < len(lines):
            text = lines[line - code.loc.line]
            col = len(text) - len(text.lstrip()) + 1 + (code.loc.col - 1 if body else 0)
        else:
            col = _first_col(code.loc.file, line)
    loc = Location(code.loc.file, line, col)
    if isinstance(e, SystemExit):  # the Pipefile is being read: nothing was built, so no success
        return PipefileError(f"the Pipefile called sys.exit({'' if e.code is None else repr(e.code)}) while pyrule was reading it",
                             loc, "to stop with an error, raise an exception (raise ValueError(\"why\")); "
                             "a Pipefile cannot end the run")
    hint = None
    if isinstance(e, NameError) and e.name:  # (Python 3.10 added .name)
        hint = suggest(e.name, [n for n in ns if not n.startswith("__")]) or "define it above this line"
    if isinstance(e, ModuleNotFoundError):
        hint = f"install it (pip install {e.name}) or check the name"
    if isinstance(e, MemoryError):
        hint = "this line asks for more memory than the machine gives; check the sizes it computes"
    return PipefileError(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__, loc, hint)


def _first_col(file: str, line: int) -> int:
    """The column of the first non-blank character of a line of a file (1 if unknown)."""
    try:
        with open(file, encoding="utf-8", errors="replace") as f:
            for i, text in enumerate(f, 1):
                if i == line:
                    return len(text) - len(text.lstrip()) + 1 if text.strip() else 1
    except OSError:
        pass
    return 1
