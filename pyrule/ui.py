"""What the person sees. Plain lines on a pipe, in CI or with NO_COLOR; a rich live display
(progress bar, time left, running jobs) on a terminal. The stages never print; they return data."""

from __future__ import annotations

import os
import re
import sys
import time

from .errors import PyruleError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

# The done line's peak memory is shown only above this (docs/cli.md "What you see"): every shell
# job measures at least the spawner's high-water mark (~10 MB, benchmarks/README.md, ninth session).
PEAK_SHOWN_ABOVE = 16 * 1024 * 1024

# Terminal control characters (but newline and tab), and the surrogates that stand for bytes of
# a file name that are not UTF-8: a file name holding them must not move the cursor, change
# colours or stop the output with an encoding error. Shown as \xNN, as Python writes them.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape_char(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c & 0xff:02x}" if c < 0x100 or 0xdc80 <= c <= 0xdcff else f"\\u{c:04x}"


# What ASCII text may hold as it is: the printable characters, newline and tab.
_PLAIN_ASCII = bytes(range(0x20, 0x7f)) + b"\n\t"


def shown(text: str) -> str:
    """`text` (names, paths, messages) as it may go to a terminal: control characters escaped."""
    if text.isascii():  # (a flag of the string): then one pass in C, a third of the regex's search
        if not text.encode("ascii").translate(None, _PLAIN_ASCII):
            return text
    elif not _CONTROL.search(text):
        return text
    return _CONTROL.sub(_escape_char, text)


def _fmt_time(s: float) -> str:
    return f"{s:.2f}s" if s < 60 else f"{int(s // 60)}m{s % 60:04.1f}s"


class Console:
    def __init__(self, quiet: int = 0, verbose: int = 0, stream=None):
        self.quiet = quiet
        self.verbose = verbose
        self.err = stream or sys.stderr
        self.live = (not quiet and self.err.isatty() and not os.environ.get("NO_COLOR")
                     and os.environ.get("TERM") != "dumb" and not os.environ.get("CI"))
        self._progress: Any = None
        self.done = 0
        self.total = 0

    # --- plain output -----------------------------------------------------------------------

    def out(self, text: str) -> None:
        text = shown(text)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")

    def plain(self, text: str) -> None:
        text = shown(text)
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            self.err.write(text + "\n")  # one write: print() makes two on an unbuffered stream

    def note(self, text: str) -> None:
        if self.quiet < 1:
            self.plain(text)

    def warn(self, text: str) -> None:
        self.plain(f"warning: {text}")

    def error(self, e: PyruleError) -> None:
        self.stop_live()
        lines = [str(e).split("\n  hint:")[0]]
        if e.loc is not None:
            src = _source_line(e.loc.file, e.loc.line)
            if src is not None:
                gutter = f"{e.loc.line:>5} | "
                lines.append(gutter + src.rstrip("\r\n"))
                col = max(e.loc.col, 1)
                lines.append(" " * (len(gutter) - 2) + "| " + "".join(c if c == "\t" else " " for c in src[: col - 1]) + "^")
        if e.hint:
            lines.append(f"  hint: {e.hint}")
        lines = [shown(ln) for ln in lines]  # a file name in the message may hold control characters
        if self._color() and e.loc is not None and len(lines) > 2:
            self._print_highlighted(lines, e.loc.file)
            return
        print("\n".join(lines), file=self.err)

    def _color(self) -> bool:
        if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
            return False
        return bool(os.environ.get("FORCE_COLOR")) or self.err.isatty()

    def _print_highlighted(self, lines: list[str], file: str) -> None:
        """The error in red and the source line highlighted as a Pipefile (Pygments, through rich)."""
        from rich.console import Console as RichConsole
        from rich.syntax import Syntax
        from rich.text import Text

        from .highlight import PipefileLexer

        rc = RichConsole(file=self.err, force_terminal=True, highlight=False, soft_wrap=True)
        gutter, _, src = lines[1].partition("| ")
        code = Syntax(src, PipefileLexer(), theme="ansi_dark", background_color="default").highlight(src)
        code.rstrip()
        rc.print(Text(lines[0], style="bold red"))
        rc.print(Text.assemble((gutter + "| ", "dim"), code))
        rc.print(Text(lines[2], style="bold red"))
        for hint in lines[3:]:
            rc.print(Text(hint, style="yellow"))

    def internal_error(self, e: BaseException) -> None:
        import traceback

        self.stop_live()
        if self.verbose:
            traceback.print_exception(e, file=self.err)
        print(f"pyrule: internal error: {type(e).__name__}: {e}\n  this is a bug in pyrule, not in your Pipefile; "
              "rerun with -v for the traceback and report it", file=self.err)

    # --- listings ---------------------------------------------------------------------------

    def rule_list(self, rules) -> None:
        for r in rules.rules.values():
            kind = "checkpoint" if r.checkpoint else ("phony" if r.phony else "rule")
            self.out(f"{r.name}  ({kind}, {r.loc})" if r.loc else r.name)
            if r.doc:
                self.out(f"    {r.doc.strip()}")
            outs = [v for _, v in r.outputs]
            ins = ["<function>" if callable(v) else v for _, v in r.inputs]
            if outs:
                self.out("    output: " + ", ".join(_short(v) for v in outs))
            if ins:
                self.out("    input:  " + ", ".join(_short(v) for v in ins))

    def plan(self, decisions, commands: dict | None = None) -> None:
        """The jobs that would run, with their reasons; `commands` (-n -p): job name -> what it
        would run, shown indented under its line."""
        # (a gather waiting for its inputs is implied by them: --status and --why show it)
        stale = [d for d in decisions if d.reason is not None and not d.pending]
        commands = commands or {}
        for start in range(0, len(stale), 10_000):  # in parts: a million lines at once were ~150 MB
            part = stale[start:start + 10_000]
            self.out("\n".join(f"{d.job.name}: {d.reason}" + (f"\n{_indent(commands[d.job.name])}"
                                                              if commands.get(d.job.name) else "")
                                for d in part) if commands else "\n".join([f"{d.job.name}: {d.reason}" for d in part]))
        if self.quiet < 1:
            n_ok = sum(1 for d in decisions if d.reason is None and not d.job.gather)
            self.out(f"{len(stale)} job(s) would run, {n_ok} up to date" if stale else _nothing_to_do(n_ok))

    def unchanged(self, n_ok: int, n_paths: int, dry_run: bool) -> None:
        """Nothing to do, known from the no-op memo: said as a full run or dry run says it."""
        if dry_run:
            if self.quiet < 1:
                self.out(_nothing_to_do(n_ok))
        else:
            self.note(_nothing_to_do(n_ok))
        if self.verbose:
            self.note(f"  (no-op memo: the rules, the store and {n_paths} path(s) are as a run that had "
                      "nothing to do left them; planning skipped)")

    def why(self, decisions, jobs) -> int:
        """Why each of `jobs` (what --why named, graph.select) is or is not up to date."""
        by_name = {d.job.name: d for d in decisions}
        for job in jobs:
            self._explain(by_name[job.name], by_name, 0, set())
        return 0

    def _explain(self, d, by_name, depth: int, seen: set) -> None:
        pad = "  " * depth
        if d.reason is None:
            self.out(f"{pad}{d.job.name} is up to date: {d.why}")
        else:
            self.out(f"{pad}{d.job.name} will run: {d.reason}")
        if d.job.name in seen:
            return
        seen.add(d.job.name)
        for dep in d.job.deps:
            dd = by_name.get(dep.name)
            if dd is not None and (dd.reason is not None or self.verbose):
                self._explain(dd, by_name, depth + 1, seen)

    # --- a run ------------------------------------------------------------------------------

    def run_started(self, n_stale: int, n_ok: int) -> None:
        self.total, self.t0 = n_stale, time.time()
        if n_stale == 0:
            self.note(_nothing_to_do(n_ok))
            return
        if self.live:
            from rich.console import Console as RichConsole
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("left"), TimeRemainingColumn(), console=RichConsole(file=self.err), transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("jobs", total=n_stale)
            self._running: dict[str, Any] = {}
        else:
            self.note(f"{n_stale} job(s) to run, {n_ok} up to date")

    def more_jobs(self, n: int) -> None:
        """A checkpoint added n jobs to run."""
        self.total += n
        if self._progress is not None and n:
            self._progress.update(self._task, total=self.total)

    def job_waiting(self, job, what: str) -> None:
        """A job set aside for another pyrule process (said once): a line, and on a terminal a
        row of the live display until it starts or is found built."""
        self.note(f"{job.name}: {what}")
        if self._progress is not None and job.name not in self._running:
            from rich.markup import escape

            self._running[job.name] = self._progress.add_task(
                f"  [yellow]{escape(shown(job.name))} waiting for another pyrule process", total=None)

    def job_started(self, job, reason: str) -> None:
        if self._progress is not None:
            waiting = self._running.pop(job.name, None)
            if waiting is not None:
                self._progress.remove_task(waiting)
            from rich.markup import escape

            # Escaped: a name is not markup (`w[i=0]` would lose its `[i=0]`, `[bold]` restyle the line)
            self._running[job.name] = self._progress.add_task(f"  [cyan]{escape(shown(job.name))}", total=None)
        elif self.verbose or self.quiet < 1 and self.total <= 50:
            self.note(f"start {job.name}" + (f" ({reason})" if self.verbose else ""))

    def command(self, name: str, text: str) -> None:
        """-p: a job's command as it starts, on stdout as make prints it (under a live display,
        above it)."""
        text = f"{name}: {text}" if "\n" not in text else f"{name}:\n" + _indent(text)
        if self._progress is not None:
            self.plain(text)
        else:
            self.out(text)

    def _job_done(self, name: str) -> None:
        self.done += 1
        if self._progress is not None:
            task = self._running.pop(name, None)
            if task is not None:
                self._progress.remove_task(task)
            self._progress.advance(self._task)

    def job_settled(self, job) -> None:
        """A job counted to run that was up to date when its turn came (early cutoff, built by
        another pyrule, a gather whose inputs are built): done, silently."""
        self._job_done(job.name)

    def job_finished(self, outcome) -> None:
        from .units import format_size

        self._job_done(outcome.job.name)
        if self.quiet < 1:
            # Said only above the floor every shell job has (the spawner's high-water mark, ~10 MB,
            # where a vfork child starts): below it the figure tells nothing of the job. A job
            # shorter than one sample has no measured peak (0). The stats keep every peak.
            peak = f", peak {format_size(outcome.peak_rss_bytes)}" if outcome.peak_rss_bytes > PEAK_SHOWN_ABOVE else ""
            self.plain(f"done  {outcome.job.name} in {_fmt_time(outcome.wall_s)}{peak}"
                       + (f" [{self.done}/{self.total}]" if not self.live else ""))

    def job_failed(self, outcome, why: str) -> None:
        self._job_done(outcome.job.name)
        tail = _tail(outcome.log)
        msg = shown(f"FAILED {outcome.job.name}: {why}" + (f"\n  log: {outcome.log}" if outcome.log else ""))
        if outcome.log and not tail and not os.path.exists(outcome.log):
            msg = shown(f"FAILED {outcome.job.name}: {why}") + "\n  log: none (the job printed nothing)"
        if tail:  # what the job printed, as it printed it (its colours too)
            msg += "\n" + "\n".join("  | " + ln for ln in tail)
        if self._progress is not None:
            from rich.text import Text

            self._progress.console.print(Text(msg, style="red"), highlight=False)
        else:
            print(msg, file=self.err)

    def run_finished(self, result) -> None:
        self.stop_live()
        if result.status != "ok" or self.quiet < 2:
            ran, failed, stopped = (result.count(s) for s in ("ran", "failed", "interrupted"))
            # As run_started counted them: a gather (`all`) is not a job that is up to date, or skipped.
            ok = sum(1 for o in result.outcomes.values() if o.status == "up-to-date" and not o.job.gather) \
                + result.trusted
            skipped = sum(1 for o in result.outcomes.values() if o.status == "skipped" and not o.job.gather)
            word = {"ok": "done", "failed": "FAILED", "interrupted": "interrupted"}.get(result.status, result.status)
            submitted = result.count("submitted")  # --detach (detach.py): in Slurm's hands
            if ran or failed or stopped or skipped or result.status != "ok":
                print(f"{word}: " + (f"{submitted} submitted, " if submitted else "")
                      + f"{ran} ran, {ok} up to date, {failed} failed, "
                      + (f"{stopped} interrupted, " if stopped else "")
                      + f"{skipped} skipped in {_fmt_time(result.wall_s)}; stats in {result.run_dir}/stats.tsv",
                      file=self.err)

    def stop_live(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _nothing_to_do(n_ok: int) -> str:
    return f"nothing to do: all {n_ok} job(s) up to date"


def _short(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return f"[{', '.join(map(str, v[:3]))}{', ...' if len(v) > 3 else ''}] ({len(v)})" if len(v) > 3 else str(list(v))
    return str(v)


def _source_line(file: str, line: int) -> str | None:
    try:
        with open(file, encoding="utf-8", errors="replace") as f:
            for i, text in enumerate(f, 1):
                if i == line:
                    return text
    except OSError:
        return None
    return None


def _tail(path: str | None, n: int = 10) -> list[str]:
    if not path:
        return []
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            start = max(0, f.tell() - 8192)
            f.seek(start)
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    if start == 0 and lines and lines[0].startswith("# pyrule: "):
        del lines[0]  # the header of pyrule's own log (executors/local.py): not what the job printed
    return lines[-n:]


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
