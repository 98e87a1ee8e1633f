"""The run's one event sink: every fact of a run is told here once, and goes to the console
(ui.Console: what the person sees) and to the run log (runlog.RunLog: run.log), each in its own
words. The runner and the job lifecycle (run.py, jobs.py) never write to either directly.

A fact only one of them wants (the console's progress, the log's decisions) is still one call
here, so that what the run says is in one place.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from .decide import Decision
    from .errors import PyruleError
    from .graph import Job
    from .runlog import RunLog


class Events:
    """Says each fact of one run to `console` (a ui.Console, or anything with its methods) and
    writes it to `log` (a RunLog, or anything with `write(line)`)."""

    def __init__(self, console, log: RunLog):
        self.console = console
        self.log = log

    # -- the console only, or the log only -----------------------------------------------------

    def note(self, text: str) -> None:
        self.console.note(text)

    def warn(self, text: str) -> None:
        self.console.warn(text)

    def logged(self, line: str) -> None:
        """A line of run.log that the console does not show (as recovery and the no-op memo write)."""
        self.log.write(line)

    # -- the run -------------------------------------------------------------------------------

    def run_error(self, e: PyruleError) -> None:
        """A usage error found before anything started (the console hears it from the caller's raise)."""
        self.log.write(f"run error: {e.message}")

    def decided(self, d: Decision, checkpoint: Job | None = None) -> None:
        after = f" (after {_trigger(checkpoint)})" if checkpoint is not None else ""
        self.log.write(f"decide {d.job.name}{after}: " + (f"stale: {d.reason}" if d.reason else f"up to date: {d.why}"))

    def run_started(self, n_stale: int, n_ok: int) -> None:
        self.console.run_started(n_stale, n_ok)

    def run_ended(self, status: str) -> None:
        self.log.write(f"run {status}")

    def run_finished(self, result) -> None:
        self.console.run_finished(result)

    def store_failed(self, message: str) -> None:
        self.console.warn(f"{message}; stopping")

    def stopping(self, n: int) -> None:
        self.console.note(f"stopping {n} running job(s)")

    def orphans_removed(self, n: int, names: list[str], kept: list[tuple[str, str]]) -> None:
        """`n` outputs of the jobs `names` removed; `kept`: (job, path) of each protected one
        left. Only what happened is said: nothing removed, no "removed 0" line."""
        if n:
            self.console.note(f"removed {n} orphaned output(s) of {len(names)} job(s) no longer in the graph")
            self.log.write(f"orphans removed: {names}")
        for name, path in kept:
            self.console.warn(f"kept {path} (made by {name}, no longer in the graph): it is protected; "
                              "--delete-orphans --overwrite-protected removes it")
            self.log.write(f"orphan kept (protected): {path}")

    def orphaned(self, orphans: list[tuple[str, list[str]]]) -> None:
        for name, outputs in orphans:
            self.console.warn(f"orphaned: {', '.join(outputs)} (made by {name}, no longer in the graph)")
        self.console.note("  remove them with --delete-orphans")

    # -- a job ---------------------------------------------------------------------------------

    def waiting(self, job: Job, what: str, logged: str) -> None:
        """Set aside for another pyrule process: `what` on the console, `logged` in the log."""
        self.console.job_waiting(job, what)
        self.log.write(f"wait {job.name}: {logged}")

    def up_to_date_now(self, job: Job, why: str) -> None:
        """Stale when the run began, up to date when its turn came (logged; the console hears
        `settled` once the schedule counts it done)."""
        self.log.write(f"skip {job.name}: {why}")

    def settled(self, job: Job) -> None:
        self.console.job_settled(job)

    def started(self, job: Job, attempt: int, reason: str | None, command: str | None, print_command: bool) -> None:
        self.log.write(f"start {job.name} (attempt {attempt}): {reason}")
        if command is not None:
            self.log.write(f"command {job.name}: " + command.replace("\n", "\n    "))
        self.console.job_started(job, reason)
        if command is not None and print_command:
            self.console.command(job.name, command)

    def leftover(self, job: Job, stopped: list[str]) -> None:
        """A job ended with processes still running, stopped before its outputs were looked at."""
        n = len(stopped)
        self.console.warn(f"{job.name} left {n} process{'es' if n > 1 else ''} running when it ended: "
                          f"stopped {', '.join(stopped)} (see its log)")
        self.log.write(f"leftover {job.name}: stopped {', '.join(stopped)}")

    def finished(self, outcome) -> None:
        """A job ran and made its outputs (`outcome`: its run.JobOutcome)."""
        self.log.write(f"end {outcome.job.name}: ok in {outcome.wall_s:.2f}s, peak {outcome.peak_rss_bytes} B")
        self.console.job_finished(outcome)

    def retrying(self, job: Job, why: str, attempt: int) -> None:
        tries = job.rule.retries + 1
        self.log.write(f"retry {job.name}: {why} (attempt {attempt} of {tries})")
        self.console.note(f"{job.name} failed ({why}); retrying ({attempt + 1} of {tries})")

    def failed(self, outcome, why: str, ran: bool = True) -> None:
        """A job failed; `ran`: it was started (the log line then names its log)."""
        self.log.write(f"fail {outcome.job.name}: {why}" + (f"; log {outcome.log}" if ran else ""))
        self.console.job_failed(outcome, why)

    def skipped(self, job: Job, why: str) -> None:
        self.log.write(f"skip {job.name}: {why}")

    def interrupted(self, job: Job) -> None:
        self.log.write(f"interrupted {job.name}: removed partial outputs")

    def temp_removed(self, path: str) -> None:
        self.log.write(f"temp {path}: removed, every consumer is done")

    # -- checkpoints ---------------------------------------------------------------------------

    def replan_failed(self, asker: Job, e: PyruleError) -> None:
        self.console.error(e)
        self.log.write(f"replan {asker.name} failed: {e}")

    def refused(self, job: Job, e: PyruleError) -> None:
        """A job a checkpoint added would rewrite a protected output: it fails unrun."""
        self.console.error(e)
        self.log.write(f"fail {job.name}: {e.message}")

    def dropped(self, job: Job, checkpoint: Job) -> None:
        self.console.more_jobs(-1)
        self.log.write(f"drop {job.name}: no longer needed after checkpoint {checkpoint.name}")

    def replanned(self, asker: Job, checkpoint: Job, n_new: int, n_stale: int) -> None:
        self.log.write(f"replan {asker.name} after {_trigger(checkpoint)}: {n_new} new job(s)")
        self.console.more_jobs(n_stale)


def _trigger(job: Job) -> str:
    """What made jobs be re-planned: a checkpoint, or a job's value (values.py: a Python body)."""
    rule = job.rule
    valued = not rule.checkpoint and rule.returns_value
    return f"the value of {job.name}" if valued else f"checkpoint {job.name}"
