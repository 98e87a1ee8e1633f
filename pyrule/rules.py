"""Rules: the pure data a Pipefile (or the Python API) compiles into."""

from __future__ import annotations

from collections.abc import Callable

from .errors import Location
from .record import field, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

# An item of an input/output/log section: (name or None, value). A value is a path string,
# a list of them, or (inputs and params only) a function of the job's wildcards.
Item = tuple["str | None", "Any"]


class Items(list):
    """A list of (name, value) items, in order: positional (name None) and named values mixed."""


class FlaggedPath(str):
    """A path string carrying output flags: temp, protected, directory."""

    flags: frozenset[str]

    def __new__(cls, path: str, flags: frozenset[str] = frozenset()):
        self = super().__new__(cls, path)
        self.flags = flags | getattr(path, "flags", frozenset())
        return self


def temp(path: str) -> FlaggedPath:
    """An output deleted once every job that consumes it has succeeded."""
    return FlaggedPath(path, frozenset({"temp"}))


def protected(path: str) -> FlaggedPath:
    """An output made read-only after its job succeeds."""
    return FlaggedPath(path, frozenset({"protected"}))


def directory(path: str) -> FlaggedPath:
    """An output that is a whole directory (one output, however many files it holds)."""
    return FlaggedPath(path.rstrip("/"), frozenset({"directory"}))


def touch(path: str) -> FlaggedPath:
    """An output that pyrule creates (or updates the date of) once the job's body succeeds."""
    return FlaggedPath(path, frozenset({"touch"}))


def ancient(path: str) -> FlaggedPath:
    """An input whose changes (content or date) never make its job stale; its absence still does."""
    return FlaggedPath(path, frozenset({"ancient"}))


def multiext(prefix: str, *extensions: str) -> list[str]:
    """`multiext("data/x", ".bam", ".bai")`: the paths `data/x.bam` and `data/x.bai` (flags of a
    temp()/protected()/... prefix are kept)."""
    if not isinstance(prefix, str) or not extensions or not all(isinstance(e, str) for e in extensions):
        raise TypeError("multiext() takes a path prefix and one or more extensions (strings)")
    flags: frozenset[str] = getattr(prefix, "flags", frozenset())
    return [FlaggedPath(prefix + e, flags) if flags else prefix + e for e in extensions]


class UpTo:
    """`resources: cores = upto(N)`: at most N cores; a job gets min(N, the cores budget -j)."""

    __slots__ = ("n",)

    def __init__(self, n: int):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"upto() takes a whole number of at least 1, not {n!r}")
        self.n = n

    def given(self, budget: float | None) -> int:
        """The cores a job gets under `budget` (None: this machine's CPU count)."""
        if budget is None:
            import os

            budget = os.cpu_count() or 1
        return int(max(1, min(self.n, budget)))

    def __repr__(self) -> str:  # as written: the no-op memo's key holds it
        return f"upto({self.n})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UpTo) and other.n == self.n

    def __hash__(self) -> int:
        return hash(("upto", self.n))


def upto(n: int) -> UpTo:
    """`cores = upto(8)`: up to 8 cores, fewer when the cores budget (-j) is smaller."""
    return UpTo(n)


class PerAttempt:
    """`"2G" * attempt` as written in `resources:`, before define parses its value."""

    __slots__ = ("base",)

    def __init__(self, base: object):
        self.base = base

    def __repr__(self) -> str:
        return f"{self.base!r} * attempt"


class Attempt:
    """`attempt` in `resources:` (`mem = "2G" * attempt`, `runtime = 60 * attempt`): the request
    grows with each attempt of a job under `retries:`; see Scaled."""

    __slots__ = ()

    def __rmul__(self, base: object) -> PerAttempt:
        if isinstance(base, (PerAttempt, Attempt)):
            raise TypeError("attempt can appear once in a resource")
        return PerAttempt(base)

    __mul__ = __rmul__

    def __repr__(self) -> str:
        return "attempt"


attempt = Attempt()


class Scaled(int):
    """A resource written `VALUE * attempt`: its value (for budgets, `{resources.mem}`, the first
    attempt) is VALUE's; attempt N of the job asks an executor that places it (Slurm) for N times
    as much (at())."""

    __slots__ = ()

    def at(self, n: int) -> int:
        return int(self) * max(1, n)

    def __repr__(self) -> str:  # as written: the no-op memo's key holds it
        return f"{int(self)} * attempt"

    __str__ = int.__repr__  # the number, in a command or a message


@record
class Rule:
    """One rule. Paths are patterns with `{wildcard}`s; nothing here touches the file system."""

    name: str
    outputs: list[Item] = field(default_factory=list)
    inputs: list[Item] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    log: str | None = None
    check: str = "checksum"
    retries: int = 0
    priority: int = 0
    env: dict[str, Any] = field(default_factory=dict)
    shell: str | None = None
    python: str | None = None  # Python body as source text (Pipefile)
    func: Callable[..., Any] | None = None  # Python body as a function (API)
    script: str | None = None  # a Python script file run as the body (relative to the project directory)
    local: bool = False  # with --executor slurm: run on this machine, never submitted (Snakemake's localrules)
    # with --executor slurm: the pack its jobs go in (one allocation for many short jobs; executors/pack.py);
    # None: packed only if short and packing is on ([tool.pyrule.slurm] pack_below); False: never packed
    group: str | bool | None = None
    container: str | None = None  # the image a shell body runs in (containers.py)
    venv: str | None = None  # a pip requirements file: the Python environment the body runs with (venvs.py)
    doc: str | None = None
    checkpoint: bool = False
    cache: bool = True  # `cache: false`: never looked up in nor published to the cache (cache.py)
    loc: Location | None = None
    # Where each section was written, for errors found after loading (plan, run).
    section_locs: dict[str, Location] = field(default_factory=dict)
    # The Pipefile's global namespace: Python bodies and input functions run in it.
    namespace: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def phony(self) -> bool:
        return not self.outputs

    @property
    def returns_value(self) -> bool:
        """A Python body (`python:` or an API function): what it returns is its job's value (values.py)."""
        return self.python is not None or self.func is not None

    @property
    def has_body(self) -> bool:
        return self.shell is not None or self.python is not None or self.func is not None or self.script is not None

    def where(self, section: str | None = None) -> Location | None:
        return self.section_locs.get(section, self.loc) if section else self.loc


@record
class Rules:
    """Everything the planner needs: the rules in order and the default targets."""

    rules: dict[str, Rule] = field(default_factory=dict)
    defaults: list[str] = field(default_factory=list)
    default_loc: Location | None = None
    namespace: dict[str, Any] = field(default_factory=dict, repr=False)
    files: list[str] = field(default_factory=list)  # Pipefile and includes, for --report hashes
    # What `cores = upto(N)` is cut to: the run's cores budget (-j); None: this machine's CPU
    # count; infinity: an executor that shares no cores budget (Slurm: upto(N) gives N).
    cores_budget: float | None = None
    cache: str | None = None  # the Pipefile's top-level `cache: "DIR"` (cache.py)

    def first(self) -> Rule | None:
        return next(iter(self.rules.values()), None)
