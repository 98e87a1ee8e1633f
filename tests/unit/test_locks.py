"""Job locks: exclusive outputs, shared inputs, freed on release and on process death."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from pyrule.locks import JobLock


def test_outputs_exclude_each_other_even_in_one_process(tmp_path: Path):
    a = JobLock(str(tmp_path), ["out/a.txt"])
    b = JobLock(str(tmp_path), ["out/a.txt", "out/b.txt"])
    c = JobLock(str(tmp_path), ["out/c.txt"])
    assert a.try_acquire()
    assert not b.try_acquire() and not b.held
    assert c.try_acquire()
    a.release()
    assert b.try_acquire()
    # b gave back nothing it had not taken when it was refused; now it holds both
    assert not JobLock(str(tmp_path), ["out/b.txt"]).try_acquire()
    b.release()
    c.release()


def test_shared_inputs(tmp_path: Path):
    r1 = JobLock(str(tmp_path), ["x"], shared=["in.txt"])
    r2 = JobLock(str(tmp_path), ["y"], shared=["in.txt"])
    w = JobLock(str(tmp_path), ["in.txt"])
    assert r1.try_acquire() and r2.try_acquire()  # readers share
    assert not w.try_acquire()  # nobody rebuilds an input that is being read
    r1.release()
    assert not w.try_acquire()
    r2.release()
    assert w.try_acquire()
    r3 = JobLock(str(tmp_path), ["z"], shared=["in.txt"])
    assert not r3.try_acquire()  # nor is it read while being rebuilt
    z = JobLock(str(tmp_path), ["z"])
    assert z.try_acquire()  # r3, refused, gave its own output back
    z.release()
    w.release()


def test_a_dead_holder_frees_its_locks(tmp_path: Path):
    code = textwrap.dedent(f"""
        import os, sys
        from pyrule.locks import JobLock
        lock = JobLock({str(tmp_path)!r}, ["out.txt"])
        assert lock.try_acquire()
        print("held", flush=True)
        sys.stdin.read()
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline() == "held\n"
        mine = JobLock(str(tmp_path), ["out.txt"])
        assert not mine.try_acquire()
        p.kill()
        p.wait(timeout=30)
        assert mine.try_acquire()
        mine.release()
    finally:
        p.kill()
        p.wait(timeout=30)


def test_a_fresh_project_creates_at_most_64_lock_files(tmp_path: Path):
    # Each lock file is one file creation (0.25-0.7 ms on some disks) the first time a project
    # uses it: 2,000 jobs' paths spread over all 64 files, and no more files than that.
    for i in range(2000):
        lock = JobLock(str(tmp_path), [f"out/{i}.txt"], shared=[f"in/{i}.txt"])
        assert lock.try_acquire()
        lock.release()
    files = sorted(p.name for p in (tmp_path / "locks").iterdir())
    assert files == [f"jobs-{n:02x}.lock" for n in range(64)]
