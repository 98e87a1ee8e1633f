"""Console lines that say only what happened: `--delete-orphans` with every orphan protected says
what it kept and how to remove it (no "removed 0"); the done line shows a job's peak memory only
above the spawner's floor (docs/cli.md "What you see"), while the stats keep every peak."""

from __future__ import annotations

from harness import ok, pipefile, write

from e2e.test_checkpoints import SPLIT, lines

MB = 1024 * 1024

# The checkpoint workflow of test_checkpoints.py, its chunks' outputs protected.
PROTECTED = SPLIT.replace('output: "processed/{part}.txt"', 'output: protected("processed/{part}.txt")')


def test_delete_orphans_with_every_orphan_protected_says_only_what_it_kept(tmp_path):
    pipefile(tmp_path, PROTECTED)
    write(tmp_path / "input.txt", lines(6))
    ok(tmp_path)
    write(tmp_path / "input.txt", lines(4))  # part.002 vanishes: its protected output is an orphan
    ok(tmp_path, "--overwrite-protected")
    r = ok(tmp_path, "--delete-orphans")
    said = r.out + r.err
    assert (tmp_path / "processed/part.002.txt").exists()
    assert "removed" not in said, said
    assert ("kept processed/part.002.txt (made by process[part=part.002], no longer in the graph): it is "
            "protected; --delete-orphans --overwrite-protected removes it") in said, said
    # Removing it says so, with the count of what was removed.
    r = ok(tmp_path, "--delete-orphans", "--overwrite-protected")
    said = r.out + r.err
    assert "removed 1 orphaned output(s) of 1 job(s) no longer in the graph" in said, said
    assert "kept" not in said, said


def _done_line(said: str, job: str) -> str:
    [line] = [ln for ln in said.splitlines() if ln.startswith(f"done  {job} in")]
    return line


def test_the_done_line_shows_a_peak_only_above_the_spawners_floor(tmp_path):
    pipefile(tmp_path, """
        default: small.txt big.txt

        rule small:
            output: "small.txt"
            shell: cat Pipefile > {output}

        rule big:
            output: "big.txt"
            shell: python3 -c "b = bytearray(100 * 2**20); b[::4096] = b'x' * len(b[::4096]); open('{output}', 'w')"
    """)
    r = ok(tmp_path)
    said = r.out + r.err
    assert "peak" not in _done_line(said, "small"), said
    assert ", peak 1" in _done_line(said, "big"), said  # 100M and more
    # The stats keep every measured peak, the small job's too.
    jobs = r.jobs()
    assert 0 < jobs["small"]["peak_rss_bytes"] < 16 * MB, jobs["small"]
    assert jobs["big"]["peak_rss_bytes"] >= 100 * MB, jobs["big"]
    stats = ok(tmp_path, "--stats").out
    [small] = [ln for ln in stats.splitlines() if ln.startswith("small ")]
    assert "M" in small and "—" not in small, stats
