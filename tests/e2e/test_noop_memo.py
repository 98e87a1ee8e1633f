"""The no-op memo (pyrule/noop_memo.py): a run that had, or left, nothing to do lets the same run
again answer at once; anything that could change a decision makes it decide the long way.

`-v` says when the memo answered; the tests read that, and check the files themselves."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from harness import ok, pipefile, pyrule, spawn, wait_for, write

MEMO = "no-op memo"

CHAIN = """
    TAG ?= "one"

    rule all:
        input: "b.txt"

    rule b:
        output: "b.txt"
        input: "a.txt"
        params: tag=TAG
        shell: cat {input} > {output}; echo {params.tag} >> {output}

    rule a:
        output: "a.txt"
        input: "src.txt"
        shell: cat {input} > {output}
"""


def _project(tmp_path: Path, text: str = CHAIN) -> Path:
    pipefile(tmp_path, text)
    write(tmp_path / "src.txt", "source\n")
    return tmp_path


def _memo_answered(d: Path, *args: str, env: dict[str, str] | None = None) -> bool:
    r = ok(d, "-v", *args, env=env)
    assert "nothing to do: all" in r.out + r.err, str(r)
    return MEMO in r.err


def _memos(d: Path) -> int:
    with sqlite3.connect(d / ".pyrule" / "state.db") as db:
        return db.execute("SELECT count(*) FROM noop_memo").fetchone()[0]


def test_a_build_leaves_a_memo_that_the_next_run_and_dry_run_use(tmp_path: Path):
    d = _project(tmp_path)
    assert ok(d).ran == {"a", "b"}
    assert _memo_answered(d)
    assert _memo_answered(d, "-n")
    r = ok(d, "-n")
    assert r.out.strip() == "nothing to do: all 2 job(s) up to date"


def test_a_memo_answer_writes_nothing(tmp_path: Path):
    d = _project(tmp_path)
    ok(d)
    db = d / ".pyrule" / "state.db"
    before = db.read_bytes(), len(list((d / ".pyrule" / "runs").iterdir()))
    assert _memo_answered(d)
    assert (db.read_bytes(), len(list((d / ".pyrule" / "runs").iterdir()))) == before


def _edit_source(d: Path) -> None:
    write(d / "src.txt", "changed\n")


def _same_size_edit_with_old_mtime(d: Path) -> None:
    st = os.stat(d / "src.txt")
    (d / "src.txt").write_text("SOURCE\n")  # same size
    os.utime(d / "src.txt", ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime set back: only ctime tells


def _delete_output(d: Path) -> None:
    os.remove(d / "b.txt")


def _edit_body(d: Path) -> None:
    text = (d / "Pipefile").read_text().replace("cat {input} > {output}\n", "cat < {input} > {output}\n")
    (d / "Pipefile").write_text(text)


def _edit_output(d: Path) -> None:
    write(d / "a.txt", "tampered\n")


@pytest.mark.parametrize("change, rerun", [
    (_edit_source, {"a", "b"}),
    # Content changed behind a size, mtime and inode set back as they were (cp -p, rsync -t):
    # ctime moved, so the memo does not answer and the fingerprint cache hashes the file again.
    (_same_size_edit_with_old_mtime, {"a", "b"}),
    (_delete_output, {"b"}),
    (_edit_body, {"a"}),  # b's input comes out the same: early cutoff
    (_edit_output, {"b"}),  # an edited output is an input changed for its consumers
])
def test_a_change_is_never_answered_from_the_memo(tmp_path: Path, change, rerun: set[str]):
    d = _project(tmp_path)
    ok(d)
    assert _memo_answered(d)
    change(d)
    r = ok(d, "-v")
    assert MEMO not in r.err
    assert r.ran == rerun, str(r)
    assert _memo_answered(d)  # and the build left a new one


def test_an_override_that_changes_a_param_reruns(tmp_path: Path):
    d = _project(tmp_path)
    ok(d)
    assert _memo_answered(d)
    r = ok(d, "-v", "TAG=two")
    assert MEMO not in r.err and r.ran == {"b"}
    assert (d / "b.txt").read_text() == "source\ntwo\n"


def test_a_top_level_name_from_the_environment_in_a_shell_body_is_not_answered_from_the_memo(tmp_path: Path):
    pipefile(tmp_path, """
        import os
        LEVEL = os.environ.get("LEVEL", "1")
        rule z:
            output: "z.txt"
            shell: echo {LEVEL} > {output}
    """)
    ok(tmp_path)
    assert _memo_answered(tmp_path)
    r = ok(tmp_path, "-v", env={"LEVEL": "2"})
    assert MEMO not in r.err and r.ran == {"z"}, str(r)
    assert (tmp_path / "z.txt").read_text() == "2\n"


def test_same_content_new_inode_is_decided_the_long_way(tmp_path: Path):
    d = _project(tmp_path)
    ok(d)
    shutil.copy2(d / "src.txt", d / "src.tmp")
    os.replace(d / "src.tmp", d / "src.txt")  # same bytes and mtime, another inode
    assert not _memo_answered(d)  # content unchanged: nothing runs, decided by checksum
    assert _memo_answered(d)  # that no-op left a memo for the new inode


def test_other_targets_and_until_have_their_own_memo(tmp_path: Path):
    d = _project(tmp_path)
    ok(d)
    assert not _memo_answered(d, "a.txt")
    assert _memo_answered(d, "a.txt")
    assert not _memo_answered(d, "--until", "a")
    assert _memo_answered(d, "--until", "a")
    assert _memo_answered(d)  # still good: no job was recorded since


def test_a_run_that_records_anything_retires_every_memo(tmp_path: Path):
    d = _project(tmp_path, CHAIN + """
    rule other:
        output: "other.txt"
        shell: echo other > {output}
    """)
    ok(d)
    assert _memo_answered(d)
    assert ok(d, "other.txt").ran == {"other"}
    assert not _memo_answered(d)
    assert _memo_answered(d)


def test_force_and_force_all_never_use_the_memo(tmp_path: Path):
    d = _project(tmp_path)
    ok(d)
    assert ok(d, "--force", "b").ran == {"b", "all"}
    assert ok(d, "-B").ran == {"a", "b", "all"}


@pytest.mark.parametrize("text", [
    # an input function may read anything: its result is not data pyrule can compare
    """
    rule all:
        input: lambda w: ["a.txt"]
    rule a:
        output: "a.txt"
        input: "src.txt"
        shell: cat {input} > {output}
    """,
    # a directory's fingerprint is its contents, which its stat does not show
    """
    rule a:
        output: directory("outdir")
        input: "src.txt"
        shell: mkdir -p {output}; cp {input} {output}/
    """,
])
def test_no_memo_where_stat_cannot_prove_nothing_changed(tmp_path: Path, text: str):
    d = _project(tmp_path, text)
    ok(d)
    assert not _memo_answered(d)
    assert not _memo_answered(d)
    assert _memos(d) == 0


SLOW = """
    rule slow:
        output: "slow.txt"
        shell: sleep 1.5; echo done > {output}
"""


def test_a_job_running_in_another_process_is_waited_for_not_answered_from_the_memo(tmp_path: Path):
    d = _project(tmp_path, SLOW)
    ok(d)
    assert _memo_answered(d)
    other = spawn(d, "-B")
    try:
        wait_for(lambda: not (d / "slow.txt").exists(), what="the forced run to start its job")
        r = pyrule(d, "-v")
        assert r.rc == 0 and MEMO not in r.err, str(r)
        assert (d / "slow.txt").read_text() == "done\n"  # it waited for the other run's job
    finally:
        assert other.wait(timeout=60) == 0


def _as_before_memos(d: Path) -> None:
    """Make the store one that a pyrule without memos made: no generation, no memos, no ctimes."""
    with sqlite3.connect(d / ".pyrule" / "state.db") as db:
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
            db.execute(f"DROP TRIGGER {name}")
        db.execute("DROP TABLE noop_memo")
        db.execute("DROP TABLE meta")
        db.execute("ALTER TABLE files DROP COLUMN ctime_ns")  # nor ctime in the fingerprint cache


def test_a_store_written_by_another_program_retires_the_memo(tmp_path: Path):
    d = _project(tmp_path)
    ok(d)
    with sqlite3.connect(d / ".pyrule" / "state.db") as db:  # e.g. a pyrule from before memos
        db.execute("UPDATE jobs SET digest='0' WHERE name='b'")
    r = ok(d, "-v")
    assert MEMO not in r.err and r.ran == {"b"}, str(r)


@pytest.mark.parametrize("name", ["proj", "odd %41?#name"])  # SQLite's URI escapes
@pytest.mark.parametrize("old_store", [False, True], ids=["memo", "store-from-before-memos"])
def test_a_dry_run_in_a_read_only_directory(tmp_path: Path, read_only, old_store: bool, name: str):
    (tmp_path / name).mkdir()
    d = _project(tmp_path / name)
    ok(d)
    if old_store:
        _as_before_memos(d)
    read_only(d)
    r = ok(d, "-n", "-v")
    assert r.out.strip() == "nothing to do: all 2 job(s) up to date"
    assert (MEMO in r.err) is not old_store, str(r)


def test_an_old_store_gets_memos_once_written(tmp_path: Path):
    d = _project(tmp_path)
    ok(d)
    _as_before_memos(d)
    assert not _memo_answered(d, "-n")  # read-only: no tables, no memo, no error
    assert not _memo_answered(d)  # a run creates the tables and leaves a memo
    assert _memo_answered(d)


def test_temp_outputs_removed_after_use_stay_removed(tmp_path: Path):
    d = _project(tmp_path, """
    rule b:
        output: "b.txt"
        input: "a.txt"
        shell: cat {input} > {output}
    rule a:
        output: temp("a.txt")
        input: "src.txt"
        shell: cat {input} > {output}
    """)
    ok(d)
    assert not (d / "a.txt").exists()
    assert _memo_answered(d)
    time.sleep(0.01)
    write(d / "src.txt", "new\n")
    assert ok(d).ran == {"a", "b"}
    assert (d / "b.txt").read_text() == "new\n" and not (d / "a.txt").exists()
    assert _memo_answered(d)


def test_pyrule_noop_memo_0_decides_the_long_way_and_leaves_no_memo(tmp_path: Path):
    d = _project(tmp_path)
    off = {"PYRULE_NOOP_MEMO": "0"}
    ok(d, env=off)
    assert _memos(d) == 0
    r = ok(d, "-v", env=off)
    assert MEMO not in r.err and "nothing to do: all 2 job(s) up to date" in r.err
    assert _memos(d) == 0


def test_a_failed_run_leaves_no_memo(tmp_path: Path):
    d = _project(tmp_path, """
    rule all:
        input: "good.txt", "bad.txt"
    rule good:
        output: "good.txt"
        shell: echo good > {output}
    rule bad:
        output: "bad.txt"
        shell: exit 3
    """)
    assert pyrule(d, "-k").rc == 1
    assert _memos(d) == 0
    assert pyrule(d, "-k", "-v").rc == 1  # still failing: decided the long way, reruns bad
    assert ok(d, "good.txt").ran == set()
    assert _memo_answered(d, "good.txt")


def test_many_paths_over_several_chunks(tmp_path: Path):
    """More paths than one digest covers (4096): a change in any chunk is seen."""
    d = _project(tmp_path, """
    N = 5000
    rule all:
        input: expand("out/{i}.txt", i=range(N))
    rule copy:
        output: "out/{i}.txt"
        input: "src.txt"
        shell: cp {input} {output}
    """)
    ok(d, "-j", "2", timeout=300)
    assert _memo_answered(d)
    os.remove(d / "out" / "4999.txt")  # past the first chunk
    r = ok(d, "-v")
    assert MEMO not in r.err and r.ran == {"copy[i=4999]"}, str(r)
    assert _memo_answered(d)


def test_a_chmod_alone_rehashes_but_reruns_nothing(tmp_path: Path):
    d = _project(tmp_path)
    ok(d)
    os.chmod(d / "src.txt", 0o600)  # ctime moves, content does not
    r = ok(d, "-v")
    assert MEMO not in r.err and r.ran == set(), str(r)
    assert _memo_answered(d)


def test_a_store_from_before_ctime_trusts_its_fingerprints_once(tmp_path: Path):
    """Rows recorded without ctime are trusted on size, mtime and inode (as they were), and
    get their ctime: upgrading re-hashes nothing."""
    d = _project(tmp_path)
    ok(d)
    with sqlite3.connect(d / ".pyrule" / "state.db") as db:
        db.execute("UPDATE files SET ctime_ns = NULL")
    r = ok(d, "-v", env={"PYRULE_NOOP_MEMO": "0"})
    assert r.ran == set(), str(r)
    with sqlite3.connect(d / ".pyrule" / "state.db") as db:
        assert db.execute("SELECT count(*) FROM files WHERE ctime_ns IS NULL").fetchone()[0] == 0
