"""The local executor with real processes: exit codes, logs, Python bodies, measurements,
termination, parent death, reported values and event-driven waiting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import REPO

from pyrule import monitor
from pyrule.executors import JobResult, JobSpec, LocalExecutor
from pyrule.executors.local import _pidfd_works

MB = 2**20
PY = sys.executable


@pytest.fixture(params=[True, False], ids=["pidfd", "sigchld"])
def ex_any(request: pytest.FixtureRequest) -> Iterator[LocalExecutor]:
    """Both completion mechanisms: pidfd and the SIGCHLD fallback."""
    if request.param and not _pidfd_works():
        pytest.skip("no pidfd_open on this kernel")
    ex = LocalExecutor(use_pidfd=request.param)
    yield ex
    ex.kill_all()
    ex.close()


@pytest.fixture
def ex() -> Iterator[LocalExecutor]:
    ex = LocalExecutor()
    yield ex
    ex.kill_all()
    ex.close()


def spec(tmp_path: Path, name: str = "job", **kw: object) -> JobSpec:
    kw.setdefault("env", {})
    return JobSpec(name=name, workdir=str(tmp_path), log_path=f".pyrule/logs/{name}.log", **kw)  # type: ignore[arg-type]


def start(ex: LocalExecutor, job: JobSpec) -> int:
    """Start the job; its pid (start() returns 0 while the spawner's reply is not read yet)."""
    return ex.start(job) or ex.pid(job.name)


def run(ex: LocalExecutor, job: JobSpec) -> JobResult:
    pid = start(ex, job)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for r in ex.wait(5):
            if r.pid == pid:
                return r
    raise AssertionError(f"job {job.name} did not end")


def log_of(tmp_path: Path, name: str = "job") -> str:
    return (tmp_path / ".pyrule" / "logs" / f"{name}.log").read_text()


def _output(log: Path) -> str:
    """What the job printed: pyrule's own log (log_optional) starts with a header line."""
    header, _, rest = log.read_text().partition("\n")
    assert header.startswith("# pyrule: "), header
    return rest


# --- shell jobs ---------------------------------------------------------------------------


def test_shell_job_writes_file(ex_any: LocalExecutor, tmp_path: Path) -> None:
    r = run(
        ex_any,
        spec(tmp_path, shell='echo "$GREETING" > out/a.txt; echo done', env={"GREETING": "hi"}, output_dirs=["out"]),
    )
    assert r.exit_code == 0
    assert (tmp_path / "out" / "a.txt").read_text() == "hi\n"
    assert log_of(tmp_path) == "done\n"
    assert r.name == "job" and r.pid > 0
    assert r.end >= r.start and r.wall_s >= 0


def test_failing_job_exit_code_and_stderr_in_log(ex: LocalExecutor, tmp_path: Path) -> None:
    r = run(ex, spec(tmp_path, shell="echo oops >&2; exit 3"))
    assert r.exit_code == 3
    assert "oops" in log_of(tmp_path)


def test_a_retry_appends_to_the_log_a_new_run_starts_it_afresh(ex: LocalExecutor, tmp_path: Path) -> None:
    run(ex, spec(tmp_path, shell="echo one"))
    run(ex, spec(tmp_path, shell="echo two", attempt=2))
    assert log_of(tmp_path) == "one\ntwo\n"
    run(ex, spec(tmp_path, shell="echo three"))
    assert log_of(tmp_path) == "three\n"


@pytest.mark.parametrize("body", ["shell", "python"])
def test_an_optional_log_exists_only_when_the_job_printed_or_ran_long(ex: LocalExecutor, tmp_path: Path,
                                                                       body: str) -> None:
    def job(name: str, script: str, pyfunc: object) -> JobSpec:
        kw = {"shell": script} if body == "shell" else {"python": pyfunc}
        return spec(tmp_path, name, log_optional=True, **kw)

    log = tmp_path / ".pyrule" / "logs"
    run(ex, job("quiet", "cat /dev/null > q.txt", lambda: None))
    assert not (log / "quiet.log").exists()
    run(ex, job("loud", "echo hello", lambda: print("hello")))
    assert _output(log / "loud.log") == "hello\n"
    run(ex, job("loud", "echo again", lambda: print("again")))  # a new run of the job starts it afresh
    assert _output(log / "loud.log") == "again\n"
    # A longer job gets its log at once (after one sampling interval), for `tail -f`: the job
    # runs until the test creates `go`, so its log must appear while it still runs, however
    # slow the machine (the 30 s only bound a failure).
    go = tmp_path / "go"

    def hold() -> None:
        while not go.exists():
            time.sleep(0.02)
        print("late")

    pid = start(ex, job("long", f"while [ ! -e {go} ]; do sleep 0.02; done; echo late", hold))
    deadline = time.monotonic() + 30
    while not (log / "long.log").exists() and time.monotonic() < deadline:
        ex.wait(0.05)
    assert (log / "long.log").exists() and pid in ex.running()
    go.touch()
    while pid in ex.running():
        ex.wait(1)
    assert _output(log / "long.log") == "late\n"
    # Not optional (a rule's `log:`): always created.
    run(ex, spec(tmp_path, "given", shell="cat /dev/null > g.txt"))
    assert (log / "given.log").read_text() == ""


def test_a_quiet_jobs_unnamed_log_is_reused_only_when_nothing_of_the_job_is_left(
        ex: LocalExecutor, tmp_path: Path) -> None:
    def quiet(name: str, script: str) -> JobSpec:
        return spec(tmp_path, name, log_optional=True, shell=script)

    def log_inode(name: str) -> str:
        return (tmp_path / f"{name}.ino").read_text().strip()

    # fd 2: the log (fd 1 is the .ino file); the birth time tells a new file with a reused inode number
    ino = "stat -L -c '%i %w' /proc/self/fd/2 > {}.ino"
    run(ex, quiet("a", ino.format("a")))
    run(ex, quiet("b", ino.format("b")))
    assert log_inode("a") == log_inode("b")  # the same unnamed file, no new creation
    # c leaves a process behind that writes later: its file must not become d's log.
    run(ex, quiet("c", "(sleep 0.4; echo late-from-c) & " + ino.format("c")))
    run(ex, quiet("d", ino.format("d") + "; sleep 0.8"))
    assert log_inode("d") != log_inode("c")
    logs = tmp_path / ".pyrule" / "logs"
    # d's log, named after a sampling interval, is removed as d succeeded quiet: had c's late
    # writer written into it, it would be kept, holding "late-from-c".
    assert not (logs / "d.log").exists(), (logs / "d.log").read_text()
    run(ex, quiet("e", "echo loud"))  # a reused file that gets written is named as usual
    assert _output(logs / "e.log") == "loud\n"
    assert not (logs / "a.log").exists() and not (logs / "b.log").exists()


def test_pipefail_and_errexit(ex: LocalExecutor, tmp_path: Path) -> None:
    assert run(ex, spec(tmp_path, shell="false | true")).exit_code != 0
    r = run(ex, spec(tmp_path, shell="false; echo after > after.txt"))
    assert r.exit_code == 1 and not (tmp_path / "after.txt").exists()
    assert run(ex, spec(tmp_path, shell='echo "$UNSET_VARIABLE_X"')).exit_code != 0


def test_stdin_is_devnull_and_sigpipe_default(ex: LocalExecutor, tmp_path: Path) -> None:
    # Python ignores SIGPIPE; a job must not inherit that (bit 13 -> mask 1 << 12).
    r = run(ex, spec(tmp_path, shell='test -z "$(cat)"; grep SigIgn /proc/self/status'))
    assert r.exit_code == 0
    ignored = int(log_of(tmp_path).split()[1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1))


def test_job_is_session_leader(ex: LocalExecutor, tmp_path: Path) -> None:
    r = run(ex, spec(tmp_path, shell="ps -o pid=,pgid=,sid= -p $$"))
    pid, pgid, sid = map(int, log_of(tmp_path).split())
    assert pid == pgid == sid == r.pid


# --- python bodies ------------------------------------------------------------------------


def test_python_body_sees_closure(ex_any: LocalExecutor, tmp_path: Path) -> None:
    secret = {"value": "from the parent"}
    parent = os.getpid()

    def body() -> None:
        assert os.getpid() != parent
        Path("py.txt").write_text(secret["value"])  # cwd = workdir
        print("printed")

    r = run(ex_any, spec(tmp_path, python=body))
    assert r.exit_code == 0
    assert (tmp_path / "py.txt").read_text() == "from the parent"
    assert log_of(tmp_path) == "printed\n"


def test_python_body_exception(ex: LocalExecutor, tmp_path: Path) -> None:
    def body() -> None:
        raise ValueError("boom in body")

    r = run(ex, spec(tmp_path, python=body))
    assert r.exit_code == 1
    log = log_of(tmp_path)
    assert "Traceback" in log and "ValueError: boom in body" in log


def test_python_body_os_exit_and_sys_exit(ex: LocalExecutor, tmp_path: Path) -> None:
    me = os.getpid()
    assert run(ex, spec(tmp_path, python=lambda: os._exit(3))).exit_code == 3
    assert run(ex, spec(tmp_path, python=lambda: sys.exit(4))).exit_code == 4
    # the parent survived and the executor still works
    assert os.getpid() == me
    assert run(ex, spec(tmp_path, shell="true")).exit_code == 0


def test_python_body_env_and_report(ex: LocalExecutor, tmp_path: Path) -> None:
    def body() -> None:
        with open(os.environ["PYRULE_REPORT"], "w") as f:
            f.write(f"mode\t{os.environ['MODE']}\n")

    r = run(ex, spec(tmp_path, python=body, env={"MODE": "fast"}, report_path="rep.tsv"))
    assert r.exit_code == 0 and r.reported == {"mode": "fast"}
    assert "MODE" not in os.environ


# --- measurements -------------------------------------------------------------------------


def test_python_body_peak_rss(ex: LocalExecutor, tmp_path: Path) -> None:
    def body() -> None:
        data = b"x" * (300 * MB)  # written, so resident
        time.sleep(1)
        del data

    r = run(ex, spec(tmp_path, python=body))
    assert r.exit_code == 0
    assert r.peak_rss_bytes >= 300 * MB


@pytest.mark.parametrize("children_file", [True, False], ids=["proc-children", "ppid-scan"])
def test_shell_tree_peak_rss_is_summed(
    ex: LocalExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, children_file: bool
) -> None:
    if not children_file:  # the fallback for kernels without /proc/PID/task/TID/children
        monkeypatch.setattr(monitor, "_HAVE_CHILDREN_FILE", False)
    child = f"{PY} -c 'import time; b = b\"x\" * (100 * 2**20); time.sleep(1)'"
    r = run(ex, spec(tmp_path, shell=f"{child} & {child} & wait"))
    assert r.exit_code == 0
    # no single process reaches 200 MB: only the summed samples can
    assert r.peak_rss_bytes >= 200 * MB


def test_cpu_time_of_busy_loop(ex: LocalExecutor, tmp_path: Path) -> None:
    # The loops count their own CPU time, not the clock: on a loaded machine a 0.5 s wall
    # loop may get well under 0.3 s of CPU.
    loop = "import time\nwhile time.process_time() < 0.5: pass"
    r = run(ex, spec(tmp_path, shell=f"{PY} -c '{loop}'"))
    assert r.exit_code == 0 and r.cpu_s >= 0.3

    def body() -> None:
        while time.process_time() < 0.5:  # a forked child's CPU time starts at 0
            pass

    assert run(ex, spec(tmp_path, python=body)).cpu_s >= 0.3


def test_short_job_is_cheap_and_not_inflated(ex: LocalExecutor, tmp_path: Path) -> None:
    ballast = b"x" * (200 * MB)  # the runner is big; `true` must not report its size
    r = run(ex, spec(tmp_path, shell="true"))
    assert r.exit_code == 0 and r.peak_rss_bytes < 100 * MB
    del ballast


# --- termination --------------------------------------------------------------------------


def live_members(pgid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(f"/proc/{entry.name}/stat").read_bytes().rpartition(b")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != b"Z":
                found.append(int(entry.name))
    return found


def wait_group_gone(pgid: int, limit: float = 5.0) -> None:
    # Killed orphans are zombies until init reaps them (some container inits take ~1.5 s),
    # and killpg(pgid, 0) still finds zombies.
    deadline = time.monotonic() + limit
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, f"group {pgid} still exists"
        time.sleep(0.05)


def wait_for_members(pgid: int, n: int) -> None:
    deadline = time.monotonic() + 30  # only bounds a failure: a loaded machine may start processes slowly
    while len(live_members(pgid)) < n:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_terminate_all_kills_grandchildren(ex_any: LocalExecutor, tmp_path: Path) -> None:
    pid = start(ex_any, spec(tmp_path, shell="sleep 100 & sleep 100; wait"))
    wait_for_members(pid, 3)  # bash and both sleeps
    t = time.monotonic()
    # Had the sleeps not been sent SIGTERM too, they would outlive bash for the whole 30 s
    # grace; with it, even a loaded 2-core machine is done in well under 15 s.
    ex_any.terminate_all(grace=30)
    assert time.monotonic() - t < 15
    assert ex_any.running() == []
    assert live_members(pid) == []
    [r] = ex_any.wait(0)
    assert r.pid == pid and r.exit_code == -signal.SIGTERM
    wait_group_gone(pid)


def test_terminate_all_escalates_to_sigkill(ex: LocalExecutor, tmp_path: Path) -> None:
    pid = start(ex, spec(tmp_path, shell="trap '' TERM; sleep 100 & wait"))
    wait_for_members(pid, 2)
    t = time.monotonic()
    ex.terminate_all(grace=0.5)
    # At least the grace (then SIGKILL, see the exit code); the upper bound only catches a hang
    # and leaves room for a loaded machine.
    assert 0.4 < time.monotonic() - t < 15
    assert live_members(pid) == []
    [r] = ex.wait(None)
    assert r.exit_code == -signal.SIGKILL
    wait_group_gone(pid)


def test_terminate_all_wakes_stopped_job(ex: LocalExecutor, tmp_path: Path) -> None:
    pid = start(ex, spec(tmp_path, shell="kill -STOP $$; sleep 100"))
    deadline = time.monotonic() + 30  # only bounds a failure
    while Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[0] != b"T":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    ex.terminate_all(grace=30)
    [r] = ex.wait(None)
    # Not woken, the stopped job would have kept its SIGTERM pending until the SIGKILL after the grace.
    assert r.exit_code == -signal.SIGTERM


def test_python_body_does_not_run_the_runners_handlers(ex: LocalExecutor, tmp_path: Path) -> None:
    calls: list[int] = []
    old = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    try:
        started = tmp_path / "started"
        pid = start(ex, spec(tmp_path, python=lambda: (started.touch(), time.sleep(30))))
        deadline = time.monotonic() + 30  # the body runs once the child has installed its own handlers
        while not started.exists():
            assert time.monotonic() < deadline, "the Python body never started"
            time.sleep(0.02)
        ex.terminate_all(grace=5)
        [r] = ex.wait(None)
        assert r.pid == pid and r.exit_code == -signal.SIGTERM
        assert calls == []
    finally:
        signal.signal(signal.SIGTERM, old)


def test_kill_all(ex: LocalExecutor, tmp_path: Path) -> None:
    pids = [start(ex, spec(tmp_path, f"j{i}", shell="sleep 100")) for i in range(3)]
    assert sorted(ex.running()) == sorted(pids)
    ex.kill_all()
    results = ex.wait(None)
    assert sorted(r.pid for r in results) == sorted(pids)
    assert all(r.exit_code == -signal.SIGKILL for r in results)


def test_signal_handler_may_kill_all_during_wait(ex_any: LocalExecutor, tmp_path: Path) -> None:
    # The runner's Ctrl-C handler calls kill_all and raises out of wait().
    class Interrupted(Exception):
        pass

    def handler(signum: int, frame: object) -> None:
        ex_any.kill_all()
        raise Interrupted

    old = signal.signal(signal.SIGALRM, handler)
    try:
        pids = [start(ex_any, spec(tmp_path, f"j{i}", shell="sleep 30")) for i in range(3)]
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(Interrupted):
            ex_any.wait(None)
        assert ex_any.running() == []
        results = ex_any.wait(None)
        assert sorted(r.pid for r in results) == sorted(pids)
        assert all(r.exit_code == -signal.SIGKILL for r in results)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_parent_death_kills_job(tmp_path: Path) -> None:
    helper = textwrap.dedent(f"""
        import sys, time
        from pyrule.executors import JobSpec, LocalExecutor
        ex = LocalExecutor()
        pid = ex.start(JobSpec("s", {str(tmp_path)!r}, "s.log", {{}}, shell="sleep 60")) or ex.pid("s")
        print(pid, flush=True)
        time.sleep(60)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([PY, "-c", helper], stdout=subprocess.PIPE, env=env, text=True)
    job = None
    try:
        assert proc.stdout is not None
        job = int(proc.stdout.readline())
        assert Path(f"/proc/{job}/stat").exists()
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30  # generous for a loaded machine; the job would live 60 s
        while True:
            try:
                state = Path(f"/proc/{job}/stat").read_bytes().rpartition(b")")[2].split()[0]
            except FileNotFoundError:
                break
            if state == b"Z":  # dead, waiting for init to reap it
                break
            assert time.monotonic() < deadline, "job outlived its runner"
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if job is not None:  # the job leads its own group: stop it if the test failed
            try:
                os.killpg(job, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --- reported values ----------------------------------------------------------------------


def test_report_values(ex: LocalExecutor, tmp_path: Path) -> None:
    script = r"""printf 'rows\t42\nno tab here\n\tnokey\nnote\ta b\tc\n' > "$PYRULE_REPORT" """
    r = run(ex, spec(tmp_path, shell=script, report_path=".pyrule/rep/job.tsv", output_dirs=[".pyrule/rep"]))
    assert r.exit_code == 0
    assert r.reported == {"rows": "42", "note": "a b\tc"}
    assert not (tmp_path / ".pyrule/rep/job.tsv").exists()
    # a stale file from an earlier attempt is not reported again
    (tmp_path / ".pyrule/rep/job.tsv").write_text("stale\t1\n")
    assert run(ex, spec(tmp_path, shell="true", report_path=".pyrule/rep/job.tsv")).reported == {}


# --- waiting ------------------------------------------------------------------------------


def test_wait_returns_jobs_as_they_end(ex_any: LocalExecutor, tmp_path: Path) -> None:
    # slow waits for `go`, made once fast has ended: the order does not rest on timing
    slow = start(ex_any, spec(tmp_path, "slow", shell="while [ ! -e go ]; do sleep 0.02; done; sleep 0.8"))
    fast = start(ex_any, spec(tmp_path, "fast", shell="sleep 0.1"))
    first = ex_any.wait(None)
    assert [r.pid for r in first] == [fast] and first[0].name == "fast"
    assert ex_any.running() == [slow]
    (tmp_path / "go").touch()
    second = ex_any.wait(None)
    assert [r.pid for r in second] == [slow]
    assert 0.7 < second[0].wall_s < 30  # at least its sleep; the upper bound only catches nonsense
    assert ex_any.running() == []


def test_wait_timeout_returns_promptly(ex_any: LocalExecutor, tmp_path: Path) -> None:
    ex_any.start(spec(tmp_path, shell="sleep 30"))
    t = time.monotonic()
    assert ex_any.wait(timeout=0.1) == []
    # Not until the job ends (30 s); 10 s leaves room for a loaded machine.
    assert 0.09 <= time.monotonic() - t < 10
    assert ex_any.wait(timeout=0) == []


def test_wait_with_nothing_running(ex: LocalExecutor) -> None:
    class Blocked(Exception):
        pass

    def blocked(signum: int, frame: object) -> None:
        raise Blocked

    # wait(None) with nothing to wait for must return, not block: an alarm (generous, for a
    # loaded machine) turns a block into a failure instead of a hung suite.
    old = signal.signal(signal.SIGALRM, blocked)
    try:
        signal.setitimer(signal.ITIMER_REAL, 10)
        assert ex.wait(None) == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_many_short_jobs(ex_any: LocalExecutor, tmp_path: Path) -> None:
    pids = {start(ex_any, spec(tmp_path, f"j{i}", shell=f"exit {i % 3}")) for i in range(20)}
    results: list[JobResult] = []
    while ex_any.running():
        results += ex_any.wait(None)
    assert {r.pid for r in results} == pids
    assert sorted(r.exit_code for r in results) == sorted(i % 3 for i in range(20))


def test_exactly_one_body(ex: LocalExecutor, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ex.start(spec(tmp_path))
