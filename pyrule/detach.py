"""`pyrule --executor slurm --detach`: submit the whole job graph to Slurm and exit.

A detached run plans and decides as any run does, then submits its stale jobs in waves: first
those that need no other stale job, then those whose inputs jobs already submitted make, each
with `--dependency=afterok:ID...` on those jobs (and `--kill-on-invalid-dep=yes`: Slurm cancels
it if one of them fails, rather than leave it pending forever). Every submitted job is marked
running in the store with its Slurm id, as any Slurm job is (the reattach machinery); the run
is recorded with the status "detached", its locks and the project lock are let go, and pyrule
exits 0.

Left for the collecting run, and said so: jobs that wait for a checkpoint (they cannot be planned
before it has run), `local: True` jobs (they run on the machine pyrule runs on) and whatever
needs them.

A later `pyrule --executor slurm` collects (recover.py): the detached jobs' marks have no live
owner, so the Slurm executor adopts those still pending or running, or completed (followed,
then recorded as the normal path records them), and those that failed or were cancelled are
reported with their Slurm state, their outputs removed, and submitted again. `--status` shows
the detached jobs with their Slurm states from one squeue (and sacct) call (detached.py).
"""

from __future__ import annotations

from .detached import DETACHED

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Callable

    from .events import Events
    from .executors.base import Executor
    from .graph import Job
    from .jobs import JobLife


def submit_all(life: JobLife, kind: type[Executor], name: str, events: Events, stale: list[Job],
               stop: Callable[[], None]) -> str:
    """Submit every stale job that can be submitted now (see the module's doc) with the run's
    `life` (jobs.py) and its executor's class `kind` (registered as `name`), telling `events`;
    `stop()` raises if the run was interrupted. Returns the run's status: "detached" if jobs were
    left in the executor's hands, else "ok" or "failed"."""
    state = life.state
    executor = life.open(kind)
    made = set(stale)
    inflight: dict[Job, str] = {}  # submitted (or adopted), not ended: its Slurm job
    ok: set[Job] = set()
    gone: set[Job] = set()  # failed or skipped
    left: dict[Job, str] = {}  # for the collecting run, and why
    todo = list(stale)  # in dependency order
    gathers: list[Job] = []
    while todo:
        stop()
        wave: list[Job] = []
        later: list[Job] = []
        for job in todo:
            deps = [d for d in job.deps if d in made]
            failed = next((d for d in deps if d in gone), None)
            waits = next((d for d in deps if d in left), None)
            if failed is not None:
                gone.add(job)
                life.skipped([(job, f"upstream {failed.name} failed")])
            elif job.gather and not all(d in ok for d in deps):
                gathers.append(job)  # (it runs nothing: the collecting run settles it)
            elif waits is not None:
                left[job] = f"needs {waits.name}"
            elif job.waits_for is not None:
                left[job] = f"waits for checkpoint {job.waits_for.name}"
            elif job.rule.local:
                left[job] = "local: True, it runs on the machine pyrule runs on"
            elif all(d in inflight or d in ok for d in deps):
                wave.append(job)
            else:
                later.append(job)
        if not wave:
            break
        _submit_wave(life, events, executor, wave, inflight, ok, gone, left)
        settled = inflight.keys() | ok | gone | left.keys()
        todo = [j for j in wave if j not in settled] + later  # (retried: submitted again)
    state.flush()
    # What Slurm has now is the collecting run's: its marks stay (owner: this process, gone soon).
    for job, lock, _start, _sig in life.running.values():
        out = life.outcomes[job.name]
        out.status, out.reason = "submitted", f"{name} job {inflight.get(job, '?')}"
        lock.release()
    life.running.clear()
    life.skipped([(job, "its inputs are being made: the collecting run settles it") for job in gathers])
    life.skipped([(job, f"left for the collecting run: {why}") for job, why in left.items()])
    _tell(events, name, inflight, left)
    if inflight:
        return DETACHED
    return "failed" if gone else "ok"


def _submit_wave(life: JobLife, events: Events, executor: Executor, wave: list[Job], inflight: dict[Job, str],
                 ok: set[Job], gone: set[Job], left: dict[Job, str]) -> None:
    """Lock, re-check and submit the jobs of one wave (their stale inputs all submitted or
    made); then one look at what ended already (sbatch refused it, it failed, or it was quick)."""
    state = life.state
    starts = []
    unmade: set[Job] = set()  # to wait for jobs submitted, not done
    lock_wait: list[Job] = []
    for job in wave:
        prepared = life.prepare(job, lock_wait)
        if prepared is None:
            left[job] = "its outputs are locked by another pyrule process"
            continue
        if prepared is False:  # up to date after all
            ok.add(job)
            events.settled(job)
            continue
        after = [inflight[d] for d in job.deps if d in inflight]
        executor.wait_for(job.name, after)
        starts.append((job, *prepared))
        if after:
            unmade.add(job)
    failed = life.start(starts, unmade)
    executor.submit()
    for job, lock, why in failed + life.assigned():
        life.not_started(job, why)
        gone.add(job)
        state.flush()
        lock.release()
    state.flush()
    for job, lock, _d in starts:
        key = executor.key(job.name)
        if key is not None and job.name in life.running:
            inflight[job] = key
            # Its consumers, submitted next, lock its outputs as their inputs. Another pyrule that
            # takes the lock meanwhile finds it marked running by this live process, and waits.
            lock.release()
    ended = []
    for res in executor.wait(0):
        job, lock, done = life.ended(res)
        inflight.pop(job, None)
        ended.append((job, lock, done))
    life.journal.ended([job.name for job, _, _ in ended])  # before the marks go (jobs.JobLife.start)
    state.flush()
    for job, lock, done in ended:
        lock.release()
        if done:
            ok.add(job)
        elif done is False:
            gone.add(job)
        # (None: retried, in the next wave)


def _tell(events: Events, name: str, inflight: dict[Job, str], left: dict[Job, str]) -> None:
    """What was submitted, what was left, and how to follow and collect it."""
    if inflight:
        keys = sorted({k.split("_")[0] for k in inflight.values()}, key=lambda k: (len(k), k))
        shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} ids)" if len(keys) > 8 else "")
        events.note(f"detached: {len(inflight)} job(s) submitted to {name} ({shown}); pyrule exits, they run on")
        for job, key in inflight.items():
            events.logged(f"detach {job.name}: {name} job {key}")
    if left:
        first = next(iter(left.items()))
        events.note(f"{len(left)} job(s) left for the collecting run (e.g. {first[0].name}: {first[1]})")
    if inflight or left:
        events.note("follow them: pyrule --status; collect them (adopted, nothing submitted twice): "
                    f"pyrule --executor {name}")
