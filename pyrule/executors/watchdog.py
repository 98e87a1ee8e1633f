"""One watchdog process per run: when pyrule dies, it kills every job's process group.

Jobs start through posix_spawn (vfork: no copy of the runner's page tables), and a vfork child
cannot set its own parent-death signal. Rather than exec a helper per job to do it (`setpriv
--pdeathsig`: ~1 ms and an exec per job), the executor starts this small process once, in its own
session, with the read end of a pipe as stdin. The runner writes `+PGID` when a job starts and
`-PGID` when it has reaped it. The kernel closes the write end when the runner dies, however it
dies (SIGKILL, OOM killer, a crash): the watchdog reads EOF and SIGKILLs the groups still
listed, grandchildren included (a parent-death signal reached only the job's first process).
A runner that exits normally has reaped every job, so EOF finds nothing to kill.

A job can run before its `+PGID` is written (the runner descheduled right after the spawn on a
loaded machine). So at EOF the watchdog also stops every process marked as one of this run's
jobs (PYRULE_JOB=RUN-ID/... in its environment, as the next run's recovery looks for them),
with its process group.

If the watchdog itself is killed, the next run still stops what was left: it recorded each
job's process group in the state store, and every job process carries PYRULE_JOB.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys

MARKER = "pyrule-watchdog"  # in the process's argv: ps and tests can tell it apart
# It reads the pipe every POLL_S, not on every write: a wake-up per message would cost the
# runner a context switch per job start and end. A 1 MiB pipe holds ~100k messages meanwhile;
# when pyrule dies, its jobs are stopped within POLL_S.
POLL_S = 0.2
_PIPE_SIZE = 1 << 20
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # holds pyrule/

_CODE = f"""\
import _signal as signal, os, sys, time  # (not signal.py, which imports enum: ms at every run's start)
os.chdir("/")  # hold no directory busy (an unmount, a removal) while it waits
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
os.set_blocking(0, False)
live, rest, eof = set(), b"", False
while not eof:
    time.sleep({POLL_S!r})
    while True:
        try:
            data = os.read(0, 1 << 20)
        except BlockingIOError:
            break
        if not data:
            eof = True
            break
        *lines, rest = (rest + data).split(b"\\n")
        for line in lines:
            if line[:1] == b"+":
                live.add(int(line[1:]))
            elif line[:1] == b"-":
                live.discard(int(line[1:]))
# This run's marked jobs, found as the next run's recovery finds them. Imported only now, when
# pyrule has died: the wait above costs nothing of ours.
marked_pids = set()
if len(sys.argv) > 3 and sys.argv[2]:
    sys.path.insert(0, sys.argv[3])
    from pyrule.procinfo import marked_processes
    for pid in marked_processes(sys.argv[2] + "/", prefix=True):
        try:
            live.add(os.getpgid(pid))
            marked_pids.add(pid)
        except OSError:
            pass
live.discard(os.getpgrp())
for pgid in live:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
for pid in marked_pids:  # one that left its group
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
"""


class Watchdog:
    """The runner's side: start the process on first use, tell it about each job group."""

    def __init__(self) -> None:
        self.pid = 0
        self.fd = -1  # write end of the pipe; -1 before start or after the watchdog was lost
        self.lost = False

    def start(self, run_id: str = "") -> None:
        """`run_id`: the PYRULE_JOB prefix of this run's jobs (stopped at EOF even if unreported)."""
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        except OSError:  # above /proc/sys/fs/pipe-max-size: a full pipe only makes writes wait
            pass
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            # -I -S: no site, no user paths; it starts in a few ms. It imports pyrule only if pyrule dies.
            argv = [sys.executable, "-I", "-S", "-c", _CODE, MARKER, run_id, _PACKAGE_ROOT]
            self.pid = os.posix_spawn(
                sys.executable, argv, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, setsid=True,
                file_actions=[(os.POSIX_SPAWN_DUP2, r, 0), (os.POSIX_SPAWN_DUP2, null, 1),
                              (os.POSIX_SPAWN_DUP2, null, 2)],
            )
        except OSError:
            os.close(w)
            self.lost = True
            raise
        finally:
            os.close(r)
            os.close(null)
        self.fd = w

    def ready(self, run_id: str = "") -> None:
        """Start it if it is not running yet: before a job is spawned, so that the job's group
        can be reported the moment the spawn returns."""
        if self.fd < 0 and not self.lost:
            try:
                self.start(run_id)
            except OSError:  # lost: the store's records are the fallback (the next run's recovery)
                pass

    def started(self, pgid: int) -> None:
        self._send(b"+%d\n" % pgid)

    def reaped(self, pgid: int) -> None:
        self._send(b"-%d\n" % pgid)

    def _send(self, msg: bytes) -> None:
        if self.fd < 0:
            return  # lost (or never started: nothing to report then)
        try:
            os.write(self.fd, msg)  # a few bytes to a pipe: atomic, and the reader keeps up
        except OSError:  # the watchdog was killed: the store's records are the fallback
            os.close(self.fd)
            self.fd, self.lost = -1, True

    def close(self, jobs_left: bool) -> None:
        """Let it go. With jobs left running, it stops them (it reads EOF within POLL_S);
        without, it has nothing to do and is killed and reaped at once."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.pid and not jobs_left:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        self.pid = 0
