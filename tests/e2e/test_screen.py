"""What the screen says while a run goes on (issue 17): names shown literally, one line per
waiting job, counts that agree, job logs that can be pasted into a shell and start afresh."""

from __future__ import annotations

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import mount, ok, pipefile, pyrule, read_pid, spawn, wait_for


def test_job_log_paths_have_no_glob_characters(tmp_path: Path):
    pipefile(tmp_path, """
        build/{name}.o:
            echo compiling {wildcards.name}; exit 1
    """)
    r = pyrule(tmp_path, "build/mul.o")
    assert r.rc == 1, r
    log = ".pyrule/logs/build_name_.o/build_name_.o.name=mul.log"
    assert "FAILED build/{name}.o[name=mul]: exit code 1\n  log: " + f"{log}\n  | compiling mul\n" in r.err, r.err
    assert (tmp_path / log).read_text().endswith("compiling mul\n")
    assert glob.glob(str(tmp_path / log)) == [str(tmp_path / log)]  # the path is its own glob


def test_each_run_of_a_job_starts_its_logs_afresh_with_a_header(tmp_path: Path):
    pipefile(tmp_path, """
        N ?= 1
        rule a:
            output: "a.txt"
            params: n = N
            log: "a.log"
            shell:
                echo run {params.n} >&2
                exit {params.n}
        rule b:
            output: "b.txt"
            params: n = N
            shell: echo run {params.n}; exit {params.n}
    """)
    host = os.uname().nodename
    for n in (1, 2):
        r = pyrule(tmp_path, "-k", "a.txt", "b.txt", f"N={n}")
        assert r.rc == 1, r
        # The rule's own log: file is the user's: only what the job printed, this run's.
        assert (tmp_path / "a.log").read_text() == f"run {n}\n"
        # pyrule's log of the job: a header line (when, where, what), then this run's output.
        header, *rest = (tmp_path / ".pyrule/logs/b/b.log").read_text().splitlines()
        assert header.startswith("# pyrule: b started 20") and header.endswith(f" on {host}: echo run {n}; exit {n}")
        assert rest == [f"run {n}"]
        assert f"FAILED b: exit code {n}\n  log: .pyrule/logs/b/b.log\n  | run {n}\n" in r.err


def test_a_quiet_job_still_leaves_no_log(tmp_path: Path):
    """The header does not count as output: a short job that printed nothing leaves no log file."""
    pipefile(tmp_path, """
        rule all:
            input: "a.txt", "b.txt"
        rule make:
            output: "{x}.txt"
            shell: touch {output}
    """)
    ok(tmp_path)
    assert not (tmp_path / ".pyrule/logs/make").exists() or os.listdir(tmp_path / ".pyrule/logs/make") == []


def test_a_log_that_cannot_be_written_is_said_so(tmp_path: Path):
    """A full disk under .pyrule/logs: the job fails naming its log and why, not "printed nothing"."""
    logs = tmp_path / ".pyrule" / "logs"
    logs.mkdir(parents=True)
    if not mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(logs)):
        pytest.skip("needs root and mount -t tmpfs")
    try:
        fd = os.open(logs / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"x" * 4096):
                pass
        except OSError:  # full
            pass
        finally:
            os.close(fd)
        pipefile(tmp_path, """
            rule a:
                output: "a.txt"
                shell: echo oops; exit 1
        """)
        r = pyrule(tmp_path)
        assert r.rc == 1, r
        assert ("FAILED a: cannot start: its log could not be written: No space left on device: "
                ".pyrule/logs/a/a.log\n") in r.err, r.err
        assert "printed nothing" not in r.err
    finally:
        subprocess.run(["umount", str(logs)], capture_output=True, timeout=60)


def test_the_counts_before_and_after_a_run_agree(tmp_path: Path):
    pipefile(tmp_path, """
        rule all:
            input: expand("out/{i}.txt", i=range(3)), "kept.txt"
        rule kept:
            output: "kept.txt"
            shell: touch {output}
        rule make:
            output: "out/{i}.txt"
            shell: touch {output}
    """)
    ok(tmp_path, "kept.txt")
    r = ok(tmp_path)
    assert r.err.startswith("3 job(s) to run, 1 up to date\n"), r.err
    assert "done: 3 ran, 1 up to date, 0 failed, 0 skipped in " in r.err, r.err


def test_an_interrupted_job_is_counted_interrupted_with_its_real_time(tmp_path: Path):
    pipefile(tmp_path, """
        rule long:
            output: "long.txt"
            shell: touch started; sleep 30; touch {output}
    """)
    p = spawn(tmp_path)
    wait_for(lambda: (tmp_path / "started").exists(), what="the job to start")
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert "interrupted: 0 ran, 0 up to date, 0 failed, 1 interrupted, 0 skipped in " in err, err
    run_dir = next((tmp_path / ".pyrule" / "runs").iterdir())
    job = json.loads((run_dir / "stats.json").read_text())["jobs"][0]
    assert job["status"] == "interrupted" and job["reason"] == "interrupted"
    assert 0.5 <= job["wall_s"] < 10, job
    assert job["start"] and job["end"]
    assert "long  interrupted" in ok(tmp_path, "--stats").out.replace("    ", "  ")
    ok(tmp_path, "--report", "r.html")
    assert '<span class="total" data-status="interrupted"' in (tmp_path / "r.html").read_text()


def on_a_terminal(d: Path, *args: str, until: Callable[[str], bool] | None = None,
                  then: Callable[[], None] | None = None, stream: str = "stderr") -> tuple[int, str]:
    """Run pyrule with a pty as its stderr (the live display on); its exit code and what the
    screen got, the display's own escape sequences taken out. `then()` is called once the
    screen shows what `until` looks for."""
    import pty
    import select

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "CI")}
    env.update(TERM="xterm", COLUMNS="200", LINES="50")
    p = subprocess.Popen([sys.executable, "-m", "pyrule", *args], cwd=d, env=env, stdin=subprocess.DEVNULL,
                         **{"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, stream: slave})
    os.close(slave)
    data = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if until is not None and then is not None and until(_screen(data)):
            then()
            then = None
        if not select.select([master], [], [], 0.1)[0]:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return p.wait(timeout=30), _screen(data)


def _screen(data: bytes) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", data.decode("utf-8", "replace"))


NAMES_PIPEFILE = """
    rule w:
        output: "out/{name}.txt"
        shell: sleep 0.6; touch {output:q}; false
"""


def test_names_with_markup_and_control_characters_are_shown_literally(tmp_path: Path):
    pipefile(tmp_path, NAMES_PIPEFILE)
    r = pyrule(tmp_path, "-k", "out/[bold].txt", "out/[i=0].txt", "out/a\x1bb.txt")
    assert r.rc == 1, r
    assert "\x1b" not in r.err
    for name in ("[bold]", "[i=0]", "a\\x1bb"):
        assert f"\nstart w[name={name}]\n" in r.err, r.err
        assert f"\nFAILED w[name={name}]: exited 0 but did not create out/{name}.txt\n" in r.err \
            or f"\nFAILED w[name={name}]: exit code 1\n" in r.err, r.err
    assert "w[name=a\\x1bb]: output out/a\\x1bb.txt missing" in ok(tmp_path, "-n", "out/a\x1bb.txt").out


def test_the_live_display_shows_names_literally(tmp_path: Path):
    """On a terminal (a pty) the running jobs' names go through rich: never read as markup."""
    pipefile(tmp_path, NAMES_PIPEFILE)
    rc, screen = on_a_terminal(tmp_path, "-k", "-j", "3", "out/[bold].txt", "out/[i=0].txt", "out/a\x1bb.txt")
    assert rc == 1, screen
    for name in ("[bold]", "[i=0]", "a\\x1bb"):
        assert f"w[name={name}]" in screen, screen  # while running, and in the FAILED line
        assert f"FAILED w[name={name}]: " in screen, screen
    assert "\x1bb" not in screen
    rc, table = on_a_terminal(tmp_path, "--stats", stream="stdout")  # a rich table on a terminal
    assert rc == 0, table
    for name in ("[bold]", "[i=0]", "a\\x1bb"):
        assert f"w[name={name}]" in table, table


def test_a_job_waiting_for_another_pyrule_is_said_once_with_what_it_waits_for(tmp_path: Path):
    pipefile(tmp_path, """
        rule all:
            input: expand("slow{i}.txt", i=range(3))
        rule slow:
            output: "slow{i}.txt"
            shell:
                touch {output}.started
                while [ -e hold ]; do sleep 0.02; done
                touch {output}
    """)
    (tmp_path / "hold").touch()
    first = spawn(tmp_path, "-j", "3")
    wait_for(lambda: all((tmp_path / f"slow{i}.txt.started").exists() for i in range(3)), what="the first run's jobs")
    with open(tmp_path / "second.err", "w") as err:
        second = spawn(tmp_path, "-j", "3", stderr=err)
        wait_for(lambda: (tmp_path / "second.err").read_text().count("waiting") == 3, what="the second run to wait")
        time.sleep(1)  # five retries
        (tmp_path / "hold").unlink()
        second.communicate(timeout=60)
    first.communicate(timeout=60)
    text = (tmp_path / "second.err").read_text()
    assert second.returncode == 0, text
    waits = [ln for ln in text.splitlines() if "waiting" in ln]
    # Once per job. The builder is named when the first run's mark is in the store already (it
    # flushes its marks in batches: on a loaded machine the second run may look first).
    assert len(waits) == 3, text
    for i, line in enumerate(sorted(waits)):
        assert line in (f"slow[i={i}]: outputs locked by another pyrule process; waiting for slow{i}.txt "
                        f"(being built there by slow[i={i}], pid {first.pid})",
                        f"slow[i={i}]: outputs locked by another pyrule process; waiting for slow{i}.txt"), text

    # On a terminal, a waiting job is a row of the live display until it starts.
    (tmp_path / "hold").touch()
    for i in range(3):  # (the first part's .started marks too: else the wait below returns at once)
        (tmp_path / f"slow{i}.txt").unlink()
        (tmp_path / f"slow{i}.txt.started").unlink()
    first = spawn(tmp_path, "-j", "3")
    wait_for(lambda: all((tmp_path / f"slow{i}.txt.started").exists() for i in range(3)), what="the first run's jobs")
    rc, screen = on_a_terminal(tmp_path, "-j", "3", until=lambda s: "waiting for another pyrule process" in s,
                               then=lambda: (tmp_path / "hold").unlink())
    first.communicate(timeout=60)
    assert rc == 0, screen
    assert "slow[i=0] waiting for another pyrule process" in screen, screen


def test_status_lists_every_target_with_its_job_and_a_live_builder(tmp_path: Path):
    pipefile(tmp_path, """
        rule all:
            input: "slow.txt", "b.txt", "c.txt"
        rule slow:
            output: "slow.txt"
            shell:
                echo $$ > job.pid
                while [ -e hold ]; do sleep 0.02; done
                touch {output}
        rule two:
            output: "b.txt", "c.txt"
            shell: touch {output}
    """)
    ok(tmp_path, "b.txt")
    (tmp_path / "c.txt").unlink()
    (tmp_path / "hold").touch()
    first = spawn(tmp_path, "slow.txt")
    try:
        job_pid = wait_for(lambda: read_pid(tmp_path / "job.pid"), what="the job to start")
        lines = ok(tmp_path, "--status").out.splitlines()
    finally:
        (tmp_path / "hold").unlink()
        first.communicate(timeout=60)
    assert re.fullmatch(rf"slow.txt \(slow\): running \(pyrule pid {first.pid}, job pid {job_pid}, "
                        r"since \d\d:\d\d:\d\d\)", lines[0]), lines
    assert lines[1:] == ["b.txt (two): stale: output c.txt missing",
                         "c.txt (two): missing (output c.txt missing)",
                         "all: not built: input slow.txt is stale (slow: being built by another pyrule process "
                         f"(pid {first.pid}))"], lines


def test_a_job_a_dead_pyrule_left_never_names_the_dead_pid(tmp_path: Path):
    """Left marked running by a pyrule killed -9, its lock held by another process (recovering
    it): the run waiting for it must not say it is built by the dead pyrule's pid."""
    from pyrule.locks import JobLock

    pipefile(tmp_path, """
        rule slow:
            output: "slow.txt"
            shell: echo $$ > job.pid; while [ -e hold ]; do sleep 0.02; done; touch {output}
    """)
    (tmp_path / "hold").touch()
    dead = spawn(tmp_path)
    wait_for(lambda: read_pid(tmp_path / "job.pid"), what="the job to start")
    os.kill(dead.pid, signal.SIGKILL)
    dead.communicate(timeout=30)
    (tmp_path / "hold").unlink()
    lock = JobLock(str(tmp_path / ".pyrule"), ["slow.txt"])
    assert lock.try_acquire()
    try:
        with open(tmp_path / "second.err", "w") as err:
            second = spawn(tmp_path, stderr=err)
            wait_for(lambda: "waiting" in (tmp_path / "second.err").read_text(), what="the run to wait")
    finally:
        lock.release()
    second.communicate(timeout=60)
    text = (tmp_path / "second.err").read_text()
    assert second.returncode == 0, text
    assert "slow: outputs locked by another pyrule process; waiting for slow.txt\n" in text, text
    run_log = next(p for p in (tmp_path / ".pyrule" / "runs").glob("*/run.log") if str(second.pid) in str(p))
    assert "decide slow: stale: being built by another pyrule process\n" in run_log.read_text()
    assert str(dead.pid) not in text + run_log.read_text()


def test_an_error_naming_a_file_with_control_characters_shows_them_escaped(tmp_path: Path):
    pipefile(tmp_path, NAMES_PIPEFILE)
    r = pyrule(tmp_path, "b\x1b[2Jc")  # no rule makes it
    assert r.rc == 2, r
    assert "\x1b" not in r.err
    assert "b\\x1b[2Jc" in r.err.splitlines()[0], r.err
