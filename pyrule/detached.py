"""What a detached run (`pyrule --detach`, detach.py) left in its executor's hands: which runs
were detached (the store's list of runs), and the state of their jobs (Executor.states: one
poll for all), for `--status` (status.py), `-n` (collected) and the collecting run's recovery
(recover.py), which adopts them; and the check that refuses a run whose executor cannot follow
them (check_collector: the local one)."""

from __future__ import annotations

import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Iterable

    from .executors.base import Executor
    from .state import RunningJob, State

DETACHED = "detached"  # a detached run's status in the store's list of runs


def detached_runs(state: State | None) -> set[str]:
    return state.runs_with_status(DETACHED) if state is not None else set()


def whose(run_id: str) -> str:
    """How messages name a detached run's job (Executor.stop_leftover)."""
    return f"submitted by detached run {run_id}"


def detached_states(rows: Iterable[RunningJob]) -> dict[str, tuple[str, str]]:
    """Each detached job's state (name -> (word, what its executor says)), one poll per executor;
    word: pending, running, done, failed, or unknown."""
    from . import executors

    by_kind: dict[type[Executor], list[RunningJob]] = {}
    for r in rows:
        by_kind.setdefault(executors.owner(r.pgid), []).append(r)
    out: dict[str, tuple[str, str]] = {}
    for kind, jobs in by_kind.items():
        out.update(kind.states(jobs))
    return out


def collector(r: RunningJob) -> str:
    """The command that collects a detached job: pyrule with the executor that runs it."""
    from . import executors

    kind = executors.owner(r.pgid)
    name = next((n for n, e in executors.EXECUTORS.items() if e.target is kind), "")
    return f"pyrule --executor {name}" if name else "pyrule"


def status_text(r: RunningJob, word: str, said: str) -> str:
    """--status's words for a detached job."""
    since = time.strftime("%H:%M:%S", time.localtime(r.started))
    then = {"done": "the next {} records it", "failed": "the next {} submits it again"}.get(word, "{} collects it")
    return f"detached, {word} ({said}, run {r.run_id}, submitted {since}); " + then.format(collector(r))


def collected(state: State | None, dead: list[RunningJob]) -> dict[str, str]:
    """Why the jobs of detached runs among `dead` (marks without a live owner) are stale, for -n."""
    runs = detached_runs(state)
    return {r.name: f"submitted by detached run {r.run_id}: {collector(r)} collects it" for r in dead
            if r.run_id in runs}


def check_collector(state: State, executor: str) -> None:
    """A UsageError if jobs of a detached run are still pending or running, or completed
    uncollected, and `executor` cannot follow them (the local one): it would build them here
    while the other executor writes the same outputs."""
    from . import executors
    from .errors import UsageError
    from .procinfo import alive_since

    runs = detached_runs(state)
    if executors.EXECUTORS[executor].detach or not runs:
        return
    rows = [r for r in state.running() if r.run_id in runs and not alive_since(r.owner_pid, r.owner_start)]
    states = detached_states(rows) if rows else {}
    live = [r for r in rows if states.get(r.name, ("unknown",))[0] in ("pending", "running", "done")]
    if live:
        r = live[0]
        raise UsageError(f"--executor {executor}: {len(live)} job(s) of detached run {r.run_id} ({r.name}, ...) "
                         "are still in the hands of the executor that runs them; this one cannot follow them",
                         hint=f"collect them with {collector(r)} (pyrule --status shows them)")
