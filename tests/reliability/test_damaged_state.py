"""A damaged, locked, missing or unwritable state store (.pyrule/state.db).

pyrule explains the problem (a clear message; exit 2 where it cannot go on), goes on where it
safely can, and never shows a traceback. A lost or damaged store means "rebuild what cannot be
proven current": outputs newer than their inputs are adopted, the rest is rebuilt. A dry run
never changes the store (it does not even set a damaged one aside) and works in a read-only
directory.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness import kill_with_watchdog, mount, ok, pipefile, pyrule, spawn, wait_for
from reliability_util import pid_alive, read_pids, record, running_rows, tree, wait_dead

SMALL = """
    SAMPLES = [f"s{i}" for i in range(10)]
    default: all

    rule all:
        input: expand("b/{s}.txt", s=SAMPLES)

    rule a:
        output: "a/{s}.txt"
        input: "src/{s}.txt"
        shell: echo $$ >> pids.txt; (cat {input}; echo a) > {output}

    rule b:
        output: "b/{s}.txt"
        input: "a/{s}.txt"
        shell: echo $$ >> pids.txt; (cat {input}; echo b) > {output}
"""


def _expected(d: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted((d / "src").iterdir()):
        a = p.read_bytes() + b"a\n"
        out[f"a/{p.name}"] = a
        out[f"b/{p.name}"] = a + b"b\n"
    return out


def _built(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    pipefile(d, SMALL)
    (d / "src").mkdir()
    for i in range(10):
        (d / "src" / f"s{i}.txt").write_text(f"source {i}\n")
    ok(d)
    return d


def _outputs(d: Path) -> dict[str, bytes]:
    return {k: v for k, v in tree(d, skip_files=("pids.txt", "Pipefile")).items() if k.startswith(("a/", "b/"))}


def _clean(r) -> None:
    assert "Traceback" not in r.err and "internal error" not in r.err, str(r)


def _change_one_source(d: Path) -> None:
    time.sleep(0.02)
    (d / "src" / "s3.txt").write_text("source 3, changed\n")


def _damage(d: Path, how: str) -> None:
    db = d / ".pyrule" / "state.db"
    if how == "truncated":
        os.truncate(db, db.stat().st_size // 2)
    elif how == "garbage":
        db.write_bytes(os.urandom(50_000))
    elif how == "garbage-header":  # a valid start, garbage after the first page
        data = bytearray(db.read_bytes())
        data[4096:] = os.urandom(len(data) - 4096)
        db.write_bytes(bytes(data))
    elif how == "empty":
        db.write_bytes(b"")
    elif how == "directory":
        db.unlink()
        db.mkdir()
        (db / "x").write_text("x")
    elif how == "wal-garbage":
        Path(str(db) + "-wal").write_bytes(os.urandom(20_000))
    elif how == "wrong-schema":
        db.unlink()
        import sqlite3

        con = sqlite3.connect(db)
        con.execute("CREATE TABLE jobs (x)")
        con.execute("CREATE TABLE running (y)")
        con.commit()
        con.close()
    else:
        raise AssertionError(how)


def _store_files(d: Path) -> dict[str, bytes]:
    """.pyrule/'s entries with the store's content (SQLite may add its -wal/-shm companions)."""
    out = {}
    for p in (d / ".pyrule").iterdir():
        if p.name.endswith(("-wal", "-shm")) and p.stat().st_size == 0 or p.name.endswith("-shm"):
            continue
        out[p.name] = p.read_bytes() if p.is_file() else b"<dir>"
    return out


DAMAGES = ["truncated", "garbage", "garbage-header", "empty", "directory", "wal-garbage", "wrong-schema"]


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_store_means_rebuild_what_cannot_be_proven(tmp_path: Path, how: str):
    d = _built(tmp_path / "proj")
    _change_one_source(d)
    _damage(d, how)
    before = _store_files(d)
    dry = pyrule(d, "-n")
    _clean(dry)
    assert dry.rc == 0, str(dry)
    # s3's jobs are stale (their input is newer), the rest is adopted: never "all" nor "none"
    assert "a[s=s3]" in dry.out and "b[s=s3]" in dry.out and "a[s=s0]" not in dry.out, str(dry)
    assert _store_files(d) == before, "a dry run changed the store"
    r = pyrule(d)
    _clean(r)
    assert r.rc == 0, str(r)
    assert r.ran == {"a[s=s3]", "b[s=s3]"}, str(r)
    if how not in ("empty", "wal-garbage"):
        assert "damaged" in r.err, str(r)
    assert _outputs(d) == _expected(d)
    assert ok(d, "-n", "-q").out.strip() == ""
    record("damaged-state", case=how, ok=True)


def test_a_deleted_state_directory_between_runs(tmp_path: Path):
    d = _built(tmp_path / "proj")
    shutil.rmtree(d / ".pyrule")
    _change_one_source(d)
    r = pyrule(d)
    _clean(r)
    assert r.rc == 0 and r.ran == {"a[s=s3]", "b[s=s3]"}, str(r)
    assert _outputs(d) == _expected(d)


def test_the_state_directory_deleted_during_a_run(tmp_path: Path):
    d = tmp_path / "proj"
    d.mkdir()
    pipefile(d, SMALL.replace("range(10)", "range(60)").replace("> {output}", "> {output}; sleep 0.05"))
    (d / "src").mkdir()
    for i in range(60):
        (d / "src" / f"s{i}.txt").write_text(f"source {i}\n")
    p = spawn(d, "-j", "2")
    wait_for(lambda: len(read_pids(d / "pids.txt")) >= 5, what="some jobs")
    shutil.rmtree(d / ".pyrule", ignore_errors=True)
    out, err = p.communicate(timeout=120)
    assert "Traceback" not in err and "internal error" not in err, err
    assert p.returncode in (0, 2), err
    wrong = {k for k, v in _outputs(d).items() if _expected(d).get(k) != v}
    assert not wrong, f"partial outputs: {wrong}"
    r = pyrule(d, "-j", "2")
    _clean(r)
    assert r.rc == 0, str(r)
    assert _outputs(d) == _expected(d)


def _hold_lock(db: Path, seconds: float) -> subprocess.Popen:
    """Another process takes the store's write lock (BEGIN EXCLUSIVE) and keeps it."""
    code = f"""
import sqlite3, sys, time
con = sqlite3.connect({str(db)!r}, isolation_level=None, timeout=30)
con.execute("BEGIN EXCLUSIVE")
con.execute("INSERT OR REPLACE INTO runs VALUES ('holder', 0, 0, 'x', '[]')")
print("locked", flush=True)
time.sleep({seconds})
con.execute("COMMIT")
"""
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    return p


def test_a_store_held_locked_for_a_while(tmp_path: Path):
    d = _built(tmp_path / "proj")
    _change_one_source(d)
    holder = _hold_lock(d / ".pyrule" / "state.db", 3)
    try:
        t0 = time.monotonic()
        dry = pyrule(d, "-n")  # readers are not blocked by a writer (WAL)
        _clean(dry)
        assert dry.rc == 0 and "a[s=s3]" in dry.out, str(dry)
        r = pyrule(d)  # waits for the lock, then goes on
        _clean(r)
        assert r.rc == 0 and r.ran == {"a[s=s3]", "b[s=s3]"}, str(r)
        assert time.monotonic() - t0 >= 2.0
    finally:
        holder.wait(timeout=60)
    assert _outputs(d) == _expected(d)


@pytest.mark.soak
def test_a_store_held_locked_longer_than_pyrule_waits(tmp_path: Path):
    d = _built(tmp_path / "proj")
    _change_one_source(d)
    holder = _hold_lock(d / ".pyrule" / "state.db", 45)
    try:
        r = pyrule(d, timeout=120)
        _clean(r)
        assert r.rc == 2 and "locked" in r.err, str(r)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    r = pyrule(d)
    assert r.rc == 0 and r.ran == {"a[s=s3]", "b[s=s3]"}, str(r)


# --- a project directory nobody can write (the read_only fixture: tests/conftest.py) ------------


@pytest.mark.parametrize("with_state", [True, False], ids=["with-state", "no-state"])
def test_a_read_only_project_directory(tmp_path: Path, read_only, with_state: bool):
    d = _built(tmp_path / "proj")
    _change_one_source(d)
    if not with_state:
        shutil.rmtree(d / ".pyrule")
    before = tree(d)
    read_only(d)
    dry = pyrule(d, "-n")
    _clean(dry)
    assert dry.rc == 0 and "a[s=s3]" in dry.out and "a[s=s0]" not in dry.out, str(dry)
    r = pyrule(d)
    _clean(r)
    assert r.rc == 2 and "read-only" in r.err, str(r)
    st = pyrule(d, "--status")
    _clean(st)
    assert st.rc == 0, str(st)
    assert tree(d) == before


# --- writes that fail ----------------------------------------------------------------------------


def _check_after_failed_writes(d: Path, r_rc: int, err: str, expected: dict[str, bytes]) -> None:
    assert "Traceback" not in err and "internal error" not in err, err
    assert r_rc in (1, 2), err  # 2: the store could not be written; 1: jobs failed writing
    assert "error" in err or "FAILED" in err, err
    left = [pid for pid in read_pids(d / "pids.txt") if pid_alive(pid)]
    assert not left, f"job processes survived: {left}"
    # Every output present is complete, or marked as running (the next run removes it).
    marked = {o for _, outs in running_rows(d) for o in outs}
    present = {k: v for k, v in tree(d, skip_files=("pids.txt", "Pipefile")).items() if k in expected}
    wrong = [k for k, v in present.items() if expected[k] != v and k not in marked]
    assert not wrong, f"partial outputs left unmarked: {wrong}"


def test_a_file_size_limit_stops_the_store_mid_run(tmp_path: Path):
    """RLIMIT_FSIZE on the pyrule process (its jobs inherit it, their files are tiny): the
    store's write-ahead log outgrows it mid-run."""
    from test_faults import PIPEFILE, expected_outputs

    d = tmp_path / "proj"
    d.mkdir()
    pipefile(d, PIPEFILE)
    expected = expected_outputs(40)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))

    env = {**os.environ, "NO_COLOR": "1"}
    p = subprocess.run([sys.executable, "-m", "pyrule", "-j", "4", "N=40"], cwd=d, env=env, preexec_fn=limit,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, p.stderr[-3000:]
    assert "cannot write the state store" in p.stderr and "ulimit" in p.stderr, p.stderr[-3000:]
    _check_after_failed_writes(d, p.returncode, p.stderr, expected)
    r = pyrule(d, "-j", "4", "N=40", timeout=300)
    _clean(r)
    assert r.rc == 0, str(r)
    built = {k: v for k, v in tree(d, skip_files=("pids.txt", "Pipefile")).items()}
    assert built == expected
    record("damaged-state", case="RLIMIT_FSIZE mid-run", ok=True)


@pytest.fixture
def tiny_disk(tmp_path: Path, request: pytest.FixtureRequest):
    """A tmpfs of 256k (or the size parametrized indirectly)."""
    d = tmp_path / "tiny"
    d.mkdir()
    if not mount("-t", "tmpfs", "-o", f"size={getattr(request, 'param', '256k')}", "tmpfs", str(d)):
        pytest.skip("needs root and mount -t tmpfs")
    yield d
    for _ in range(50):  # a process that had its cwd there may still be exiting
        if subprocess.run(["umount", str(d)], capture_output=True, timeout=60).returncode == 0:
            break
        time.sleep(0.1)


def test_a_full_disk(tiny_disk: Path):
    from test_faults import PIPEFILE, expected_outputs

    d = tiny_disk
    pipefile(d, PIPEFILE)
    expected = expected_outputs(40)
    p = subprocess.run([sys.executable, "-m", "pyrule", "-j", "4", "N=40"], cwd=d, env={**os.environ, "NO_COLOR": "1"},
                       capture_output=True, text=True, timeout=300)
    _check_after_failed_writes(d, p.returncode, p.stderr, expected)
    # More room: the next run finishes the job, and the tree is right.
    assert mount("-o", "remount,size=64m", str(d))
    r = pyrule(d, "-j", "4", "N=40", timeout=300)
    _clean(r)
    assert r.rc == 0, str(r)
    assert {k: v for k, v in tree(d, skip_files=("pids.txt", "Pipefile")).items()} == expected
    record("damaged-state", case="full disk (256k tmpfs)", ok=True, exit_code=p.returncode)


@pytest.mark.parametrize("tiny_disk", ["512k"], indirect=True)  # room for the store once freed
def test_a_full_disk_before_anything_runs(tiny_disk: Path):
    d = tiny_disk
    pipefile(d, SMALL)
    (d / "src").mkdir()
    (d / "src" / "s0.txt").write_text("x\n")
    with open(d / "filler", "wb", buffering=0) as f:  # until the disk is full
        try:
            while f.write(b"\0" * 4096):
                pass
        except OSError:
            pass
    r = pyrule(d, "b/s0.txt")
    _clean(r)
    assert r.rc in (1, 2), str(r)
    assert "full" in r.err or "No space" in r.err, str(r)
    (d / "filler").unlink()
    r = pyrule(d, "b/s0.txt")
    _clean(r)
    assert r.rc == 0, str(r)


# --- a kill, then a lost or damaged store: the journal of running jobs --------------------------

HALF = """
    rule final:
        output: "final.txt"
        input: "out.txt"
        shell: cat {input} > {output}

    rule slow:
        output: "out.txt"
        input: "in.txt"
        shell: printf 'half ' > {output}; if [ -e slow.flag ]; then echo $$ > started; sleep 30; fi; cat {input} >> {output}
"""


def _killed_mid_write(d: Path) -> None:
    """A run killed (-9, with its watchdog: nothing cleans up) while its job has written half
    of out.txt; the job goes on (asleep: it would append the rest in 30 s)."""
    d.mkdir(parents=True, exist_ok=True)
    pipefile(d, HALF)
    (d / "in.txt").write_text("rest\n")
    (d / "slow.flag").write_text("")
    p = spawn(d)
    wait_for(lambda: (d / "started").exists(), what="the slow job")
    kill_with_watchdog(p)
    p.wait(timeout=10)
    (d / "slow.flag").unlink()
    assert (d / "out.txt").read_text() == "half "


@pytest.mark.parametrize("how", ["garbage", "truncated", "state.db removed"])
def test_a_kill_then_a_damaged_store_never_adopts_a_half_written_output(tmp_path: Path, how: str):
    d = tmp_path / "proj"
    _killed_mid_write(d)
    db = d / ".pyrule" / "state.db"
    import sqlite3

    with sqlite3.connect(db) as con:  # the running rows into state.db itself, not only its WAL
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    if how == "state.db removed":
        db.unlink()
    else:
        _damage(d, how)
    dry = pyrule(d, "-n")
    _clean(dry)
    assert "slow" in dry.out and "incomplete" in dry.out, str(dry)
    r = pyrule(d)
    _clean(r)
    assert r.rc == 0 and r.ran == {"slow", "final"}, str(r)
    assert "was running when pyrule died" in r.err, str(r)
    assert wait_dead([int((d / "started").read_text())], 5) == [], "the dead run's job was not stopped"
    assert (d / "out.txt").read_text() == "half rest\n"
    assert (d / "final.txt").read_text() == "half rest\n"
    assert ok(d, "-n", "-q").out.strip() == ""
    assert not list((d / ".pyrule" / "running").iterdir()), "a journal left after runs that ended"


# --- .pyrule/ deleted while a run is in progress -------------------------------------------------

DELETED = """
    rule final:
        output: "final.txt"
        input: "out.txt"
        shell: cat {input} > {output}

    rule slow:
        output: "out.txt"
        input: "in.txt"
        shell: echo "start $(date +%s.%N)" >> times.txt; printf 'half ' > {output}; until [ -e go ]; do sleep 0.05; done; cat {input} >> {output}; echo "end $(date +%s.%N)" >> times.txt
"""


@pytest.mark.slow  # a job held open (until the test writes `go`) while a second pyrule starts and waits
@pytest.mark.parametrize("first", ["ends", "killed"])
def test_a_run_whose_state_directory_was_deleted_stays_visible_to_a_second_run(tmp_path: Path, first: str):
    """The second pyrule neither adopts the half-written out.txt nor runs `slow` at the same time:
    it waits for the first run (alive, or killed -9 meanwhile), then rebuilds what has no record."""
    d = tmp_path / "proj"
    d.mkdir()
    pipefile(d, DELETED)
    (d / "in.txt").write_text("rest\n")
    a = spawn(d)
    wait_for(lambda: (d / "times.txt").exists(), what="the slow job")
    shutil.rmtree(d / ".pyrule")
    with open(tmp_path / "b.err", "w+") as b_err_file:
        b = spawn(d, stderr=b_err_file)
        wait_for(lambda: "waiting" in (tmp_path / "b.err").read_text(), what="the second run to wait")
        dry = pyrule(d, "-n")
        assert "slow: no record" in dry.out and "deleted" in dry.err, str(dry)
        if first == "killed":
            a.kill()  # its watchdog stops the job
        (d / "go").write_text("")  # the held job may end (a gate, not a sleep: any load)
        a_out, a_err = a.communicate(timeout=60)
        a_gone = time.time()
        b.communicate(timeout=60)
    b_err = (tmp_path / "b.err").read_text()
    assert "Traceback" not in a_err + b_err and "internal error" not in a_err + b_err, a_err + b_err
    assert b.returncode == 0, b_err
    assert "deleted" in b_err and "waiting" in b_err, b_err
    assert (d / "out.txt").read_text() == "half rest\n"
    assert (d / "final.txt").read_text() == "half rest\n"
    times = (d / "times.txt").read_text().split()
    starts = [float(t) for k, t in zip(times[::2], times[1::2]) if k == "start"]
    assert len(starts) == 2 and starts[1] > a_gone - 0.05, f"slow ran while the first run lived: {times}"
    assert ok(d, "-n", "-q").out.strip() == ""
