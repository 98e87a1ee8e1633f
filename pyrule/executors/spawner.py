"""One small process per run that starts the local shell jobs and reports how they ended.

Why: Linux carries a process's memory high-water mark across exec into `wait4`'s `ru_maxrss`.
A job spawned by the runner (vfork) starts from the runner's peak RSS, a forked one from its
current RSS: `cat` from a 300 MB runner reports 300 MB. So a job's own peak was measurable only
above the runner's, by the 0.2 s samples, and a shorter job showed "not measured". Forked from
this process instead (a Python started with -I -S that imports no more than it needs: ~9 MB),
`ru_maxrss` is the job's own, never below those few MB: every job's peak is measured, a 5 ms
one included. It spawns with posix_spawn too (vfork: the child starts from the spawner's
high-water mark, ~9 MB). A fork per job would start from its current RSS (~5 MB) but cost
~1.2 ms of CPU per job more (copy-on-write faults of the forked Python), as much as the job.

The runner talks to it over two SOCK_SEQPACKET socket pairs (one message per request or event):
the requests and their replies on one, the events (job ends) on the other. The runner waits on
the events' socket only: a reply does not wake it (it used to, once per job start: a context
switch and ~0.1 ms of the runner's CPU for a pid it did not need yet); it reads the replies when
an end wakes it (a job's reply was sent before its end: it is there to be read), when its wait
times out to sample the running jobs, or when it needs them (a stop: settle).

- runner -> spawner: `marshal((cwd, base, extra, attempts))` with two descriptors (stdin, the
  job's log) passed alongside (SCM_RIGHTS); the job's environment is `base` (the runner's, sent
  once: None after that) updated with `extra`; `attempts` are `(program, argv, redirects)` to exec
  in turn (the simple command, then bash: what LocalExecutor._spawn does with posix_spawn);
- spawner -> runner, on the first pair: `("S", pid)` right after the fork (or `("F", errno,
  message)`, followed by a `("W",)` on the second pair to wake the runner: no end will come for
  that job); on the second: `("E", pid, status, utime, stime, maxrss_kib)` when it has reaped a
  job. The runner does not wait for the `S`: it sends the request and goes on (the next job's
  start, the last one's end); the executor takes the pid when it reads the replies next. Until then
  the job's process is found by its mark (PYRULE_JOB in its environment), as recovery and the
  watchdog find any job whose group was not reported yet.

The job runs in its own session, as before; the runner signals its group directly, and the
watchdog still stops every job group if the runner dies (the spawner then reads EOF and exits).
If the spawner cannot be started or is lost, the executor spawns jobs itself, as before.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import deque

from ..record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable

MARKER = "pyrule-spawner"  # in the process's argv: ps and tests can tell it apart
MAX_REQUEST = 1 << 18  # a bigger request (a huge environment) is spawned by the runner itself
_SENTINEL = -1  # selector data of the spawner's socket, beside the pids of pidfds

_CODE = f"""\
# _signal, not signal (which imports enum), and no array (collections): a few ms of the start
# each, and the build's first job waits for this start (tests/unit/executors/test_helper_startup.py)
import _signal as signal, _socket, marshal, os, select
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
    signal.signal(s, signal.SIG_IGN)  # the runner decides; reset in each job (setsigdef)
# SCHED_BATCH: woken by a request, it does not preempt the runner that sent it (which goes on
# to its next job's start or last job's end); it runs on a free core, or when the runner waits.
# Its jobs get the normal policy back (posix_spawn's scheduler), as the runner's children would.
# Only from the normal policy: under another (chrt), it and its jobs keep the runner's.
POLICY = {{}}  # posix_spawn's keyword for the jobs' policy
try:
    if os.sched_getscheduler(0) == os.SCHED_OTHER:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        POLICY = {{"scheduler": (os.SCHED_OTHER, os.sched_param(0))}}
except (AttributeError, OSError):
    pass
sock = _socket.socket(fileno=os.dup(0))  # requests in, replies out (close-on-exec, unlike fd 0)
events = _socket.socket(fileno=os.dup(1))  # job ends out: what the runner waits for
os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
signal.signal(signal.SIGCHLD, lambda *_: None)
DFL = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGCHLD)
INT = memoryview(bytes(8)).cast("i").itemsize  # a descriptor's size in SCM_RIGHTS data
CMSG = _socket.CMSG_SPACE(2 * INT)
here = None
base = {{}}  # the runner's environment, sent with its first request; each job's adds to it

def spawn(cwd, env, attempts, fds):
    global here
    if cwd != here:  # posix_spawn cannot chdir (Python < 3.13); this process can, for its children
        os.chdir(cwd)
        here = cwd
    std = [(os.POSIX_SPAWN_DUP2, fds[0], 0), (os.POSIX_SPAWN_DUP2, fds[1], 1), (os.POSIX_SPAWN_DUP2, fds[1], 2)]
    for i, (program, argv, redirects) in enumerate(attempts):
        try:
            return os.posix_spawn(program, argv, env, setsid=True, setsigmask=(), setsigdef=DFL, **POLICY,
                                  file_actions=std + [(os.POSIX_SPAWN_OPEN, fd, path, flags, 0o666)
                                                      for fd, path, flags in redirects])
        except OSError:
            if i == len(attempts) - 1:
                raise

def reap():
    while True:
        try:
            pid, status, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        events.send(marshal.dumps(("E", pid, status, ru.ru_utime, ru.ru_stime, ru.ru_maxrss)))

def serve():
  while True:
    ready = select.select([sock, wake_r], [], [])[0]
    if wake_r in ready:
        try:
            while os.read(wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        reap()
    if sock in ready:
        data, anc, _, _ = sock.recvmsg({MAX_REQUEST + 4096}, CMSG, _socket.MSG_CMSG_CLOEXEC)
        if not data:
            return  # the runner closed its end, or died: the watchdog stops what still runs
        fds = []
        for level, kind, fd_data in anc:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                fds += memoryview(fd_data[:len(fd_data) - len(fd_data) % INT]).cast("i")
        cwd, new_base, extra, attempts = marshal.loads(data)
        if new_base is not None:
            base.clear()
            base.update(new_base)
        try:
            pid = spawn(cwd, {{**base, **extra}}, attempts, fds)
        except OSError as e:
            sock.send(marshal.dumps(("F", e.errno, e.strerror or str(e))))
            events.send(marshal.dumps(("W",)))  # the runner may wait for nothing else
        else:
            sock.send(marshal.dumps(("S", pid)))
        for fd in fds:
            os.close(fd)

try:
    serve()
except OSError:  # the runner is gone (EPIPE, ECONNRESET): so is our reason to be
    pass
"""


@record(slots=True)
class Ended:
    """How a job the spawner reaped ended: its wait status and its rusage's figures."""

    status: int
    ru_utime: float
    ru_stime: float
    ru_maxrss: int  # KiB, the job's own (the largest process of its tree that it waited for)


class Spawner:
    """The runner's side. Not thread-safe, like the executor that owns it."""

    def __init__(self, on_lost: Callable[[int], None] | None = None) -> None:
        self.on_lost = on_lost  # called with the socket's fd before it is closed (a selector lets it go)
        self.pid = 0
        self.sock: socket.socket | None = None  # requests and their replies
        self.events: socket.socket | None = None  # job ends (and a failed spawn's wake-up): `fd`
        self.ended: dict[int, Ended] = {}
        self._base: dict[str, str] | None = None  # the base environment the spawner holds
        self.asked = 0  # requests sent whose reply has not come yet
        self.replies: deque[tuple] = deque()  # ("S", pid) or ("F", errno, message), not yet taken
        self.lost = False

    def start(self) -> None:
        """Start the process (it imports while the runner goes on: the first request waits for it)."""
        import socket

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ev_ours, ev_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, MAX_REQUEST + 65536)
            argv = [sys.executable, "-I", "-S", "-c", _CODE, MARKER]
            self.pid = os.posix_spawn(
                sys.executable, argv, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, setsid=True,
                file_actions=[(os.POSIX_SPAWN_DUP2, theirs.fileno(), 0), (os.POSIX_SPAWN_DUP2, ev_theirs.fileno(), 1)],
            )
        except OSError:
            ours.close()
            ev_ours.close()
            self.lost = True
            raise
        finally:
            theirs.close()
            ev_theirs.close()
        self.sock, self.events = ours, ev_ours

    @property
    def fd(self) -> int:
        """What to wait on: readable when a job ended, a spawn failed, or the spawner is lost."""
        return self.events.fileno() if self.events is not None else -1

    def request(self, cwd: str, base: dict[str, str], extra: dict[str, str],
                attempts: list[tuple[str, list[str], list[tuple[int, str, int]]]], fds: list[int]) -> bool:
        """Ask for one job, in environment `base` updated with `extra`, and return at once: its
        reply, `("S", pid)` or `("F", errno, message)`, comes into `replies` (in the order of the
        requests) when the replies are read (poll, settle); only a failed one wakes a wait on `fd`.
        False: the spawner cannot take it (too big a request, or the spawner is lost: then `lost`
        is set): the caller starts it."""
        import marshal
        import socket

        if self.sock is None:
            return False
        send_base = base if base is not self._base else None
        data = marshal.dumps((cwd, send_base, extra, attempts))
        if len(data) > MAX_REQUEST:
            return False
        try:
            socket.send_fds(self.sock, [data], fds)
        except ConnectionError:
            self._lose()
            return False
        except OSError:  # e.g. EMSGSIZE: nothing was sent
            return False
        self._base = base
        self.asked += 1
        return True

    def settle(self) -> None:
        """Block until every request has its reply in `replies` (or the spawner is lost)."""
        while self.asked and self.sock is not None:
            try:
                self._receive(self.sock, block=True)
            except ConnectionError:
                self._lose()

    def poll(self) -> None:
        """Take every message waiting: the events, then the replies (those of the jobs whose
        ends were just read among them: each was sent before its job's end)."""
        for which in ("events", "sock"):
            while (sock := getattr(self, which)) is not None:
                try:
                    if self._receive(sock, block=False) is None:
                        break
                except ConnectionError:
                    self._lose()
                    return

    def wait_for(self, pid: int) -> Ended | None:
        """Block until the spawner reports `pid` reaped; None if the spawner is lost."""
        while pid not in self.ended and self.events is not None:
            try:
                self._receive(self.events, block=True)
            except ConnectionError:
                self._lose()
        return self.ended.pop(pid, None)

    def _receive(self, sock: socket.socket, block: bool) -> tuple | None:
        import marshal
        import socket

        try:
            data = sock.recv(4096, 0 if block else socket.MSG_DONTWAIT)
        except BlockingIOError:
            return None
        if not data:
            raise ConnectionResetError("the spawner is gone")
        msg = marshal.loads(data)
        if msg[0] == "E":
            self.ended[msg[1]] = Ended(msg[2], msg[3], msg[4], msg[5])
        elif msg[0] != "W":  # (W: only a wake-up, for the F on the other socket)
            self.asked -= 1
            self.replies.append(msg)
        return msg

    def _lose(self) -> None:
        for sock in (self.events, self.sock):  # what it sent before it went: the jobs it started, those that ended
            while sock is not None:
                try:
                    if self._receive(sock, block=False) is None:
                        break
                except OSError:
                    break
        if self.events is not None and self.on_lost is not None:
            self.on_lost(self.events.fileno())
        self._close_sockets()
        self.lost = True
        self._reap_self()

    def close(self, idle: bool = False) -> None:
        """Let it go: it reads EOF and exits (jobs still running are the watchdog's). `idle`: it
        has no job left (each reaped and reported, no request unanswered): it is killed, not
        waited for while its Python winds down (a few ms at the end of every run, or forever if
        it was stopped); reaped, it hands its jobs' rusage on all the same."""
        self._close_sockets()
        if idle and self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reap_self()

    def _close_sockets(self) -> None:
        for sock in (self.sock, self.events):
            if sock is not None:
                sock.close()
        self.sock = self.events = None

    def _reap_self(self) -> None:
        if self.pid:
            try:
                os.waitpid(self.pid, 0)  # it exits at EOF; reaped, its jobs' rusage counts as the run's
            except ChildProcessError:
                pass
            self.pid = 0
