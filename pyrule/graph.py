"""The job graph: jobs (pure data), their dependencies, and export to networkx."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .paths import Namespace, Paths
from .record import field, record
from .rules import Rule

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any


class Wildcards(Mapping):
    """A job's wildcard values, read as a dict is (`w["i"]`, `w.items()`, `dict(w)`, `**w`,
    `==` a dict), in less memory: the names are one tuple its rule's jobs share, the values the
    job's own (the value itself when there is one). A one-key dict was 184 bytes a job, this is
    48. Not to be changed (no job's wildcards ever are)."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: tuple[str, ...], values: Any):
        """`values`: a tuple of one value a name, or with one name the value itself."""
        self._names, self._values = names, values

    def __getitem__(self, key: str) -> str:
        names = self._names
        if len(names) == 1:
            if key == names[0]:
                return self._values
        elif key in names:
            return self._values[names.index(key)]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self._names else default

    def values(self) -> Any:
        return [self._values] if len(self._names) == 1 else list(self._values)

    def items(self) -> Any:
        return list(zip(self._names, self.values()))

    def copy(self) -> dict[str, str]:
        return dict(self.items())

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        return Wildcards, (self._names, self._values)


NO_WILDCARDS = Wildcards((), ())


@record(eq=False, slots=True)  # slots: no per-job __dict__ (100k jobs: ~40 MB)
class Job:
    """One run of a rule for one set of wildcard values."""

    rule: Rule
    wildcards: Mapping[str, str]  # a Wildcards from the planner (a dict also does)
    name: str
    outputs: Paths
    inputs: Paths
    log: str | None
    params: Namespace
    resources: Namespace
    # Exported to the job: the rule's env (one dict shared by its jobs), or with an env function,
    # this job's own values.
    env: dict[str, str] = field(default_factory=dict)
    # Jobs producing this job's inputs, in order. () until the planner finds the first: most
    # jobs of a large workflow need none (an empty list a job was 56 MB at a million jobs).
    deps: list[Job] | tuple[()] = ()
    # The checkpoint job whose outputs this job's inputs depend on, while it has not run yet.
    waits_for: Job | None = None
    # Checkpoint jobs this job's input functions asked: it runs after them (Make's order-only
    # prerequisites), without their outputs being among its inputs. () when none (most jobs).
    after: list[Job] | tuple[()] = ()
    # Jobs whose values (values.py) this job's functions read while planned: their values are
    # part of its signature. (A tuple: the common empty one is shared.)
    reads: tuple[Job, ...] = ()

    def __repr__(self) -> str:
        return f"Job({self.name})"

    def flagged(self, flag: str) -> list[str]:
        """The job's outputs that its rule marks with `flag` (temp, protected, directory), in order."""
        out: list[str] = []
        for _, value in self.rule.outputs:
            if value.__class__ is str:  # a plain path has no flags (most of them: decided jobs ask each)
                continue
            for v in [value] if isinstance(value, str) else value:
                if flag in getattr(v, "flags", ()):
                    if self.wildcards:
                        from .patterns import Pattern

                        v = Pattern(v).format(self.wildcards)
                    out.append(str(v))
        return out

    @property
    def phony(self) -> bool:
        return not self.outputs

    @property
    def gather(self) -> bool:
        """A phony rule without a body (Make's `all`): it only gathers its inputs."""
        return not self.outputs and not self.rule.has_body


@record
class JobGraph:
    """Jobs in dependency order (every job after the jobs it needs)."""

    jobs: list[Job]
    targets: list[Job]
    producers: dict[str, Job]  # output path -> job
    sources: list[str]  # existing files that no rule makes
    requested: list[str] = field(default_factory=list)  # the target names as asked for
    # The planner that made this graph (plan.Planner), as far as the stages after it may use it.
    planner: Replanner | None = field(default=None, repr=False, compare=False)

    def select(self, name: str) -> list[Job]:
        """The jobs a name on the command line means (--why, --until, --force): a job's name, a
        rule's name (all its jobs), a file one of them makes, or a glob over rule and job names
        (`proc*`, `square[[]i=1*`)."""
        found = [j for j in self.jobs if j.name == name or j.rule.name == name]
        if found:
            return found
        import os.path

        job = self.producers.get(os.path.normpath(name)) if name else None
        if job is not None:
            return [job]
        if any(c in name for c in "*?["):
            from fnmatch import fnmatchcase

            return [j for j in self.jobs if fnmatchcase(j.rule.name, name) or fnmatchcase(j.name, name)]
        return []

    def select_all(self, option: str, names: list[str]) -> list[Job]:
        """The jobs of every name given to `option` (--until, --force); a name that selects none is
        an error, with the nearest rule or file name."""
        found: list[Job] = []
        for name in names:
            jobs = self.select(name)
            if not jobs:
                from .errors import UsageError, suggest

                hint = suggest(name, list(dict.fromkeys(j.rule.name for j in self.jobs)) + list(self.producers))
                raise UsageError(f"{option} {name}: no job of the requested targets' graph makes it or is so named",
                                 hint=hint or "name a file, job, rule or rule glob of the graph (pyrule --dag shows it)")
            found.extend(jobs)
        return found

    def consumers(self) -> dict[Job, list[Job]]:
        out: dict[Job, list[Job]] = {j: [] for j in self.jobs}
        for j in self.jobs:
            for d in j.deps:
                if d in out:
                    out[d].append(j)
        return out

    def to_networkx(self) -> Any:
        """A networkx.DiGraph of job names (edges from a job to the jobs that need it).

        networkx is imported here only: it costs more to import than planning a small workflow.
        """
        import networkx as nx

        g = nx.DiGraph()
        for j in self.jobs:
            g.add_node(j.name, rule=j.rule.name, outputs=list(j.outputs), wildcards=dict(j.wildcards))
        for j in self.jobs:
            for d in j.deps:
                g.add_edge(d.name, j.name)
        return g


if TYPE_CHECKING:  # for type checkers only: typing costs start-up time
    from collections.abc import Mapping, Sequence
    from typing import Protocol

    from .stat_cache import StatCache

    class Replanner(Protocol):
        """What the runner and orphans.py may ask of the planner that made a graph."""

        @property
        def stats(self) -> StatCache:
            """The stat results planning saw: deciding and running go on with them (one stat() per
            path per invocation); the runner forgets the paths it writes."""

        @property
        def asked(self) -> Mapping[Job, Sequence[Job]]:
            """Checkpoint job -> the jobs that asked for its outputs while planning (read only)."""

        @property
        def readers(self) -> Mapping[Job, Sequence[Job]]:
            """Job -> the jobs that read its value while planning (values.py; read only)."""

        value_store: Any  # where values.NAME.get() reads values: the run's state.State once set

        def release(self) -> None:
            """No more planning of this graph (a dry run, a run nothing re-plans): the planner may
            let go of its maps."""

        def checkpoint_ran(self, checkpoint: Job) -> None:
            """The checkpoint job has run: from now on `checkpoints.NAME.get()` answers with its outputs."""

        def replan(self, job: Job) -> list[Job]:
            """Resolve the job's inputs again: the jobs it now needs, in dependency order."""
