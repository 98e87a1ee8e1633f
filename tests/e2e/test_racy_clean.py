"""Racily clean fingerprints (git's "racy git"): a file fingerprinted within its file system's
timestamp granularity of its own mtime/ctime may change again with the same size, mtime, ctime
and inode; its content is verified the next time, and the no-op memo never answers from it.

The real case needs a file system with 1-second timestamps: ext4 with 128-byte inodes, made in a
file and loop-mounted (root only; skipped with the reason otherwise). That a racy fingerprint is
stored for verification, on any file system, in process: tests/unit/test_decide.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from harness import mount, ok, pipefile, pyrule

COPY = """
    rule copy:
        output: "out.txt"
        input: "in.txt"
        shell: cat {input} > {output}
"""


@pytest.fixture
def coarse_fs(tmp_path: Path):
    """A loop-mounted ext4 with 128-byte inodes (timestamps in whole seconds)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to loop-mount an ext4 image")
    if not shutil.which("mkfs.ext4"):
        pytest.skip("needs mkfs.ext4 (e2fsprogs)")
    img, d = tmp_path / "ext4.img", tmp_path / "mnt"
    d.mkdir()
    with open(img, "wb") as f:
        f.truncate(16 << 20)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", "-I", "128", str(img)], capture_output=True, text=True, timeout=60)
    if made.returncode != 0:
        pytest.skip(f"mkfs.ext4 -I 128 failed: {made.stderr.strip()}")
    if not mount("-o", "loop", str(img), str(d)):
        pytest.skip("cannot loop-mount an ext4 image here (no loop device, or mount -o loop refused)")
    yield d
    for _ in range(50):  # a pyrule that had its cwd there may still be exiting
        if subprocess.run(["umount", str(d)], capture_output=True, timeout=60).returncode == 0:
            break
        time.sleep(0.1)


def _at_start_of_a_second() -> None:
    time.sleep(1 - time.time() % 1 + 0.01)


@pytest.mark.ci_may_skip("could not write twice within one second")  # a loaded machine: no missing component
@pytest.mark.slow  # waits for whole seconds
@pytest.mark.parametrize("memo", ["memo", "no-memo"])
def test_a_same_size_edit_within_the_same_second_is_seen(coarse_fs: Path, memo: str):
    env = {"PYRULE_NOOP_MEMO": "0"} if memo == "no-memo" else None
    d = coarse_fs / "proj"
    d.mkdir()
    pipefile(d, COPY)
    src = d / "in.txt"
    for _ in range(5):  # until the edit lands in the same second as the first write
        shutil.rmtree(d / ".pyrule", ignore_errors=True)
        (d / "out.txt").unlink(missing_ok=True)
        _at_start_of_a_second()
        src.write_text("aaa\n")
        first = os.stat(src)
        assert first.st_mtime_ns % 1_000_000_000 == 0, "not a file system with 1-second timestamps"
        ok(d, env=env)  # with the memo on, the build would leave one
        src.write_text("bbb\n")
        again = os.stat(src)
        if (again.st_mtime_ns, again.st_ctime_ns, again.st_size) == (first.st_mtime_ns, first.st_ctime_ns, first.st_size):
            break
    else:
        pytest.skip("could not write twice within one second (a slow machine)")
    r = ok(d, env=env)
    assert r.ran == {"copy"}, str(r)
    assert (d / "out.txt").read_text() == "bbb\n"
    # Once the second is over the fingerprint is trusted again: no re-hash, nothing to do.
    time.sleep(1 - time.time() % 1 + 1.01)
    assert ok(d, env=env).ran == set()
    r = ok(d, "-v", env=env)
    assert r.ran == set(), str(r)
    if memo == "memo":
        assert "no-op memo" in r.err, str(r)


def test_pyrule_on_a_normal_file_system_still_leaves_and_uses_its_memo(tmp_path: Path):
    """The racy check must not cost the no-op its memo where timestamps are fine-grained."""
    pipefile(tmp_path, COPY)
    (tmp_path / "in.txt").write_text("aaa\n")
    assert ok(tmp_path).ran == {"copy"}
    r = pyrule(tmp_path, "-v")
    assert r.rc == 0 and "no-op memo" in r.err, str(r)
