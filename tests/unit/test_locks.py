"""Unit tests of the locks (pyrule/locks.py), with real lock files and real kernel locks, taken in
this process (mutation testing counts only in-process calls). First the job locks' promises as a
whole (exclusive outputs, shared inputs, freed on release and on process death), then each one
pinned alone: the other side is a second lock object, whose open file description excludes ours as
another process's would, or a forked child where the process matters."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyrule.locks import JobLock, ProjectLock, open_dir


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


# --- each promise alone: which file and byte a key locks, descriptors, the project lock ---------


def lock_files(root: Path) -> list[str]:
    return sorted(os.listdir(root / "locks"))


def file_of(root: Path, key: str) -> str:
    """The lock file a key's lock is in: the one its first lock creates."""
    probe = root / "probe"
    lock = JobLock(str(probe), [key])
    assert lock.try_acquire()
    lock.release()
    (name,) = lock_files(probe)
    shutil.rmtree(probe)
    return name


def locked_bytes(path: Path) -> list[tuple[int, int, int]]:
    """(type, start, length) of the locks others hold on `path`, seen from a new open file
    description, in order. F_OFD_GETLK names one conflicting lock of a range (not the lowest
    when several processes hold some), so the ranges either side of each are probed again."""
    fd = os.open(path, os.O_RDWR)
    try:
        found, ranges = [], [(0, 0)]  # (start, length; 0: to the end)
        while ranges:
            start, length = ranges.pop()
            probe = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, start, length, 0)
            kind, _, lstart, llen, _ = struct.unpack("hhqqi4x", fcntl.fcntl(fd, fcntl.F_OFD_GETLK, probe))
            if kind == fcntl.F_UNLCK:
                continue
            found.append((kind, lstart, llen))
            if lstart > start:
                ranges.append((start, lstart - start))
            if llen and (not length or lstart + llen < start + length):
                ranges.append((lstart + llen, 0 if not length else start + length - lstart - llen))
        return sorted(found, key=lambda f: f[1])
    finally:
        os.close(fd)


def open_fds(under: Path) -> set[int]:
    """This process's descriptors open on files under `under`."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(under)):
                found.add(int(fd))
        except FileNotFoundError:  # the one listdir used
            pass
    return found


def test_one_key_locks_one_byte_of_one_file(tmp_path: Path):
    lock = JobLock(str(tmp_path), ["out/a.txt"])
    assert lock.try_acquire() and lock.held
    (name,) = lock_files(tmp_path)
    assert name in {f"jobs-{n:02x}.lock" for n in range(64)}
    ((kind, start, length),) = locked_bytes(tmp_path / "locks" / name)
    assert kind == fcntl.F_WRLCK and length == 1 and 0 <= start < 1 << 56
    lock.release()
    assert not lock.held and locked_bytes(tmp_path / "locks" / name) == []


def test_a_key_is_placed_by_its_text_alone(tmp_path: Path):
    a, b = JobLock(str(tmp_path / "one"), ["k"]), JobLock(str(tmp_path / "two"), ["k"])
    assert a.try_acquire() and b.try_acquire()
    (name,) = lock_files(tmp_path / "one")
    assert lock_files(tmp_path / "two") == [name]
    assert locked_bytes(tmp_path / "one" / "locks" / name) == locked_bytes(tmp_path / "two" / "locks" / name)
    a.release()
    b.release()


def test_keys_that_are_not_utf8_are_locked_too(tmp_path: Path):
    key = os.fsdecode(b"out/\xff.txt")  # a file name that is not UTF-8: a surrogate escape
    a = JobLock(str(tmp_path), [key])
    assert a.try_acquire()
    assert not JobLock(str(tmp_path), [key]).try_acquire()
    assert JobLock(str(tmp_path), [os.fsdecode(b"out/\xfe.txt")]).try_acquire()
    a.release()


@pytest.mark.parametrize("how", ["new directory", "existing directory", "dir_fd"])
def test_lock_files_are_made_readable_by_all(tmp_path: Path, how: str):
    if how != "new directory":
        (tmp_path / "locks").mkdir()
    fd = open_dir(str(tmp_path)) if how == "dir_fd" else None
    old = os.umask(0o022)
    try:
        lock = JobLock(str(tmp_path), ["a"], dir_fd=fd)
        assert lock.try_acquire()
    finally:
        os.umask(old)
        if fd is not None:
            os.close(fd)
    lock.release()
    (name,) = lock_files(tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / "locks" / name).st_mode) == 0o644


def test_an_output_also_named_as_input_stays_exclusive(tmp_path: Path):
    both = JobLock(str(tmp_path), ["x"], shared=["x"])
    assert both.try_acquire()
    assert not JobLock(str(tmp_path), ["y"], shared=["x"]).try_acquire()
    both.release()
    reader = JobLock(str(tmp_path), ["y"], shared=["x"])
    assert reader.try_acquire()
    reader.release()


def test_many_keys_in_one_file_are_all_locked(tmp_path: Path):
    keys = [f"out/{i}" for i in range(300)]  # some fall into one file (64 files)
    lock = JobLock(str(tmp_path), keys, shared=[f"in/{i}" for i in range(300)])
    assert lock.try_acquire()
    for k in keys[::37] + ["in/5"]:
        assert not JobLock(str(tmp_path), [k]).try_acquire(), k
    reader = JobLock(str(tmp_path), ["z"], shared=["in/5"])
    assert reader.try_acquire()  # shared: others may read too
    reader.release()
    lock.release()
    for k in keys[::37] + ["in/5"]:
        other = JobLock(str(tmp_path), [k])
        assert other.try_acquire(), k
        other.release()


def test_a_refusal_gives_back_every_lock_taken_before_it(tmp_path: Path):
    keys = [f"out/{i}" for i in range(40)]
    last = max(keys, key=lambda k: file_of(tmp_path, k))  # taken after keys in other files
    blocker = JobLock(str(tmp_path), [last])
    assert blocker.try_acquire()
    lock = JobLock(str(tmp_path), keys)
    assert not lock.try_acquire() and not lock.held
    blocker.release()
    for name in lock_files(tmp_path):
        assert locked_bytes(tmp_path / "locks" / name) == [], name
    assert lock.try_acquire() and lock.held  # and it can try again
    lock.release()


def test_release_without_holding_does_nothing(tmp_path: Path):
    lock = JobLock(str(tmp_path), ["a"])
    assert lock.held is False
    lock.release()
    assert lock.try_acquire() and lock.held is True
    lock.release()
    assert lock.held is False
    lock.release()
    assert lock.held is False
    again = JobLock(str(tmp_path), ["a"])
    assert again.try_acquire()
    again.release()


def test_release_frees_locks_a_forked_child_still_shares(tmp_path: Path):
    lock = JobLock(str(tmp_path), ["a"], shared=["b"])
    assert lock.try_acquire()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child keeps copies of the descriptors open until told to go
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    try:
        os.close(r)
        lock.release()
        other = JobLock(str(tmp_path), ["a", "b"])
        assert other.try_acquire()
        other.release()
    finally:
        os.close(w)
        os.waitpid(pid, 0)


def test_no_descriptor_is_left_open(tmp_path: Path):
    blocker = JobLock(str(tmp_path), ["k9"])
    assert blocker.try_acquire()
    for _ in range(3):
        lock = JobLock(str(tmp_path), [f"k{i}" for i in range(10)], shared=["s"])
        assert not lock.try_acquire()
    blocker.release()
    lock = JobLock(str(tmp_path), [f"k{i}" for i in range(10)], shared=["s"])
    assert lock.try_acquire()
    lock.release()
    assert open_fds(tmp_path) == set()


def test_descriptors_are_not_inherited_by_programs(tmp_path: Path):
    lock = JobLock(str(tmp_path), ["a", "b"], shared=["c"])
    assert lock.try_acquire()
    fds = open_fds(tmp_path / "locks")
    assert fds and not any(os.get_inheritable(fd) for fd in fds)
    lock.release()


def test_the_lock_directory_is_made_anew_without_a_dir_fd(tmp_path: Path):
    lock = JobLock(str(tmp_path), ["a"])
    assert lock.try_acquire()
    lock.release()
    shutil.rmtree(tmp_path)  # .pyrule/ deleted meanwhile
    assert lock.try_acquire()
    assert len(lock_files(tmp_path)) == 1
    lock.release()


def test_locks_are_taken_through_the_runs_directory(tmp_path: Path):
    fd = open_dir(str(tmp_path))
    try:
        assert stat.S_ISDIR(os.fstat(fd).st_mode) and not os.get_inheritable(fd)
        assert os.path.samestat(os.fstat(fd), os.stat(tmp_path / "locks"))
        assert open_dir(str(tmp_path)) != fd  # a second open of the existing directory (closed below)
        lock = JobLock(str(tmp_path / "elsewhere"), ["a"], dir_fd=fd)
        assert lock.try_acquire()
        assert len(lock_files(tmp_path)) == 1 and not (tmp_path / "elsewhere").exists()
        lock.release()
        shutil.rmtree(tmp_path / "locks")
        with pytest.raises(FileNotFoundError):  # never in a directory made anew, where nobody else's locks are
            lock.try_acquire()
        assert not lock.held and not (tmp_path / "locks").exists()
    finally:
        os.close(fd)


def test_a_lock_file_deleted_after_opening_guards_nothing_so_is_refused(tmp_path: Path):
    # What a lock file unlinked between our open and our lock looks like: a name that opens a
    # file with no links left (/proc/self/fd/N of a deleted file).
    deleted = tmp_path / "deleted"
    gone = os.open(deleted, os.O_RDWR | os.O_CREAT)
    os.unlink(deleted)
    name = file_of(tmp_path, "a")
    (tmp_path / "locks").mkdir()
    os.symlink(f"/proc/self/fd/{gone}", tmp_path / "locks" / name)
    try:
        lock = JobLock(str(tmp_path), ["a"])
        assert not lock.try_acquire() and not lock.held
        assert open_fds(tmp_path / "locks") == set() and len(open_fds(tmp_path)) == 1  # only ours
    finally:
        os.close(gone)


def test_an_error_other_than_a_held_lock_is_raised_with_everything_given_back(tmp_path: Path):
    keys = [f"k{i}" for i in range(20)]
    files = {k: file_of(tmp_path, k) for k in keys}
    last = max(files.values())
    (tmp_path / "locks").mkdir()
    os.symlink(tmp_path / "nowhere" / "x", tmp_path / "locks" / last)  # cannot be created: ENOENT
    lock = JobLock(str(tmp_path), keys)
    with pytest.raises(FileNotFoundError):
        lock.try_acquire()
    assert not lock.held and open_fds(tmp_path) == set()
    for name in set(files.values()) - {last}:
        assert locked_bytes(tmp_path / "locks" / name) == [], name


def test_the_project_lock_shared_and_exclusive(tmp_path: Path):
    a, b, c = ProjectLock(str(tmp_path)), ProjectLock(str(tmp_path)), ProjectLock(str(tmp_path))
    try:
        assert not os.get_inheritable(a.fd)
        assert a.take(fcntl.LOCK_SH) and b.take(fcntl.LOCK_SH | fcntl.LOCK_NB)  # runs share it
        assert not c.take(fcntl.LOCK_EX | fcntl.LOCK_NB)
        a.close()
        assert a.fd == -1
        a.close()  # twice is harmless
        assert not c.take(fcntl.LOCK_EX | fcntl.LOCK_NB)
        b.close()
        assert c.take(fcntl.LOCK_EX | fcntl.LOCK_NB)
        d = ProjectLock(str(tmp_path))
        assert not d.take(fcntl.LOCK_SH | fcntl.LOCK_NB)
        d.close()
    finally:
        for lock in (a, b, c):
            lock.close()


def test_the_project_lock_is_on_a_directory(tmp_path: Path):
    (tmp_path / "f").write_text("")
    with pytest.raises(NotADirectoryError):
        ProjectLock(str(tmp_path / "f"))
    lock = ProjectLock()
    try:
        assert os.path.samestat(os.fstat(lock.fd), os.stat("."))
    finally:
        lock.close()


# --- whole files: a command over a whole graph's outputs (--touch, --delete-all-output) ---------


def test_whole_files_lock_each_free_file_with_one_lock(tmp_path: Path):
    keys = [f"out/{i}.txt" for i in range(5000)]  # every one of the 64 files, ~80 keys each
    lock = JobLock(str(tmp_path), keys, whole_files=True)
    assert lock.try_acquire() and lock.held
    names = lock_files(tmp_path)
    assert len(names) == 64
    for name in names:  # one lock from byte 0 to the end: not a byte per key
        assert locked_bytes(tmp_path / "locks" / name) == [(fcntl.F_WRLCK, 0, 0)], name
    # so another process can take none of them, nor any other key (it waits, as for a job)
    assert not JobLock(str(tmp_path), ["out/17.txt"]).try_acquire()
    assert not JobLock(str(tmp_path), ["unrelated"]).try_acquire()
    lock.release()
    for name in names:
        assert locked_bytes(tmp_path / "locks" / name) == [], name
    assert JobLock(str(tmp_path), ["unrelated"]).try_acquire()


def test_whole_files_are_refused_a_key_another_holds(tmp_path: Path):
    keys = [f"out/{i}.txt" for i in range(300)]
    other = JobLock(str(tmp_path), [keys[123]])
    assert other.try_acquire()
    lock = JobLock(str(tmp_path), keys, whole_files=True)
    assert not lock.try_acquire() and not lock.held
    for name in lock_files(tmp_path):  # it gave back all it took; only the other's byte is locked
        assert len(locked_bytes(tmp_path / "locks" / name)) == (name == file_of(tmp_path, keys[123]))
    other.release()


def test_a_file_another_holds_an_unrelated_key_in_is_locked_byte_by_byte(tmp_path: Path):
    keys = [f"out/{i}.txt" for i in range(300)]
    crowded = file_of(tmp_path, keys[0])
    unrelated = next(k for k in (f"elsewhere/{i}" for i in range(10_000)) if file_of(tmp_path, k) == crowded)
    other = JobLock(str(tmp_path), [unrelated])
    assert other.try_acquire()
    lock = JobLock(str(tmp_path), keys, whole_files=True)
    assert lock.try_acquire()  # not refused for a key it does not want
    mine = [k for k in keys if file_of(tmp_path, k) == crowded]
    assert len(locked_bytes(tmp_path / "locks" / crowded)) == len(mine) + 1  # its bytes and the other's
    for k in mine:
        assert not JobLock(str(tmp_path), [k]).try_acquire(), k
    lock.release()
    other.release()
