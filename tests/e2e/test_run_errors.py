"""Runs that meet an error outside the jobs' own code (an input that cannot be read, an output
that cannot be placed, a body too long for exec, a file where .pyrule/ wants a directory, a bug
in pyrule itself): each is a clear error or a failed job, never "internal error" for these, and
the store records the truth: the run failed, no job is left marked running. Real `pyrule`
processes on real files."""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path

import pytest
from harness import ok, pipefile, pyrule, write


def _record(d: Path) -> tuple[str, list[str]]:
    """The last run's status in the store, and the jobs it has marked running."""
    db = sqlite3.connect(d / ".pyrule" / "state.db")
    try:
        status = db.execute("SELECT status FROM runs ORDER BY started DESC LIMIT 1").fetchone()[0]
        running = [r[0] for r in db.execute("SELECT name FROM running")]
    finally:
        db.close()
    return status, running


def _assert_failed_run(r, job: str, why: str) -> None:
    assert r.rc == 1, r
    assert "Traceback" not in r.err and "internal error" not in r.err, r
    assert f"FAILED {job}: {why}" in r.err, r
    assert _record(r.cwd) == ("failed", [])
    stats = r.stats()
    assert stats["status"] == "failed"
    assert stats["totals"]["failed"] == 1
    assert r.jobs()[job]["status"] == "failed" and why in r.jobs()[job]["reason"]


CAT = """
    rule all:
        input: "out.txt", "other.txt"

    rule copy:
        input: "in.txt"
        output: "out.txt"
        shell: cat {input} > {output}

    rule other:
        output: "other.txt"
        shell: echo other > {output}
"""


def test_a_socket_as_input_fails_its_job(tmp_path: Path):
    pipefile(tmp_path, CAT)
    s = socket.socket(socket.AF_UNIX)  # open() of it fails (ENXIO), for root too
    s.bind(str(tmp_path / "in.txt"))
    try:
        r = pyrule(tmp_path, "-k")
        _assert_failed_run(r, "copy", "cannot read input in.txt")
        assert (tmp_path / "other.txt").read_text() == "other\n"  # the rest of the run went on
        assert "all" not in r.ran
        status = ok(tmp_path, "--status").out
        assert "(copy): failed in the last run (cannot read input in.txt" in status
    finally:
        s.close()


def test_a_fifo_as_input_fails_its_job_instead_of_hanging(tmp_path: Path):
    pipefile(tmp_path, CAT)
    write(tmp_path / "in.txt", "one\n")
    ok(tmp_path)
    os.unlink(tmp_path / "in.txt")
    os.mkfifo(tmp_path / "in.txt")  # reading it would wait for a writer forever
    assert "copy: cannot read input in.txt: not a regular file or directory" in ok(tmp_path, "-n", timeout=20).out
    r = pyrule(tmp_path, timeout=20)
    _assert_failed_run(r, "copy", "cannot read input in.txt: not a regular file or directory")


def test_an_output_under_a_file_fails_its_job(tmp_path: Path):
    pipefile(tmp_path, """
        rule make:
            output: "sub/out.txt"
            shell: echo hi > {output}
    """)
    write(tmp_path / "sub", "a file where the output's directory should be\n")
    r = pyrule(tmp_path)
    _assert_failed_run(r, "make", "cannot start: cannot create directory sub for its outputs: sub is not a directory")
    assert (tmp_path / "sub").read_text().startswith("a file")


def test_a_shell_body_over_128_kib_runs(tmp_path: Path):
    word = "x" * 140_000  # over MAX_ARG_STRLEN: `bash -c BODY` fails with E2BIG
    pipefile(tmp_path, f"""
        rule big:
            output: "out.txt"
            shell: echo {word} | wc -c > {{output}}
    """)
    ok(tmp_path)
    assert (tmp_path / "out.txt").read_text().strip() == "140001"
    assert _record(tmp_path) == ("ok", [])
    left = [p for p in (tmp_path / ".pyrule").rglob("*.sh")]
    assert left == []  # the script file is gone with the job


def test_a_wildcard_value_of_250_characters_works(tmp_path: Path):
    pipefile(tmp_path, """
        rule make:
            output: "{x}.txt"
            shell: echo making; echo hi > {output}
    """)
    target = "a" * 250 + ".txt"  # a legal file name; the job's log and report names would not be
    r = ok(tmp_path, target)
    assert (tmp_path / target).read_text() == "hi\n"
    assert _record(tmp_path) == ("ok", [])
    log = r.jobs()[f"make[x={'a' * 250}]"]["log"]
    assert len(os.path.basename(log)) < 255
    assert (tmp_path / log).read_text().split("\n", 1)[1] == "making\n"  # after its header line
    assert "nothing to do" in ok(tmp_path, target).err


@pytest.mark.parametrize("entry", ["locks", "logs", "runs", ""])
def test_a_file_where_pyrule_keeps_a_directory_is_a_clear_error(tmp_path: Path, entry: str):
    pipefile(tmp_path, """
        rule make:
            output: "out.txt"
            shell: echo hi > {output}
    """)
    path = os.path.join(".pyrule", entry) if entry else ".pyrule"
    write(tmp_path / path, "")
    r = pyrule(tmp_path)
    assert r.rc == 2, r
    assert "Traceback" not in r.err and "internal error" not in r.err, r
    assert f"{path} is not a directory" in r.err
    assert f"remove {path} (pyrule creates it again)" in r.err
    assert not (tmp_path / "out.txt").exists()
    os.unlink(tmp_path / path)
    ok(tmp_path)
    assert _record(tmp_path) == ("ok", [])


def _with(directory: Path) -> str:
    """PYTHONPATH with `directory` (its sitecustomize.py) first, then the pyrule under test."""
    return os.pathsep.join(filter(None, [str(directory), os.environ.get("PYTHONPATH")]))


# A bug in pyrule (here: the executor failing to start the second job with an error it does not
# expect, injected by a sitecustomize module) must not leave the run recorded as a success.
FAULT = """
import pyrule.executors.local as local

_start = local.LocalExecutor.start


def start(self, spec):
    if spec.name == "boom":
        raise RuntimeError("injected fault")
    return _start(self, spec)


local.LocalExecutor.start = start
"""


def test_an_internal_error_before_any_job_starts_records_an_error(tmp_path: Path):
    pipefile(tmp_path, """
        rule make:
            output: "out.txt"
            shell: echo hi > {output}
    """)
    fault = write(tmp_path / "fault" / "sitecustomize.py", """
import pyrule.decide as decide

def decide_all(self, jobs):
    raise RuntimeError("injected fault")

decide.Decider.decide_all = decide_all
""")
    r = pyrule(tmp_path, env={"PYTHONPATH": _with(fault.parent)}, timeout=20)
    assert r.rc == 3 and "internal error: RuntimeError: injected fault" in r.err, r
    assert _record(tmp_path) == ("error", [])
    ok(tmp_path)
    assert _record(tmp_path) == ("ok", [])


def test_an_internal_error_never_records_success(tmp_path: Path):
    pipefile(tmp_path, """
        rule slow:
            output: "slow.txt"
            priority: 10
            shell: echo partial > {output}; sleep 30; echo done >> {output}

        rule boom:
            output: "boom.txt"
            shell: echo hi > {output}
    """)
    fault = write(tmp_path / "fault" / "sitecustomize.py", FAULT)
    r = pyrule(tmp_path, "-j", "2", "slow.txt", "boom.txt", env={"PYTHONPATH": _with(fault.parent)}, timeout=20)
    assert r.rc == 3 and "internal error: RuntimeError: injected fault" in r.err, r
    assert "start slow" in r.err  # it was running when the error came
    assert _record(tmp_path) == ("error", [])
    stats = r.stats()
    assert stats["status"] == "error"
    jobs = {j["job"]: (j["status"], j["reason"]) for j in stats["jobs"]}
    assert jobs == {"slow": ("failed", "stopped: pyrule met an internal error"),
                    "boom": ("failed", "not started: pyrule met an internal error")}
    assert not (tmp_path / "slow.txt").exists()  # stopped, and its partial output removed
    status = ok(tmp_path, "--status", "slow.txt", "boom.txt").out
    assert "incomplete" not in status and "slow.txt (slow): failed in the last run" in status
    assert ok(tmp_path, "--stats").out.startswith(f"run {os.path.basename(r.run_dir)}: error")
