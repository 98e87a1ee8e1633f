"""The cache of job results (docs/cache.md) through the `pyrule` command: real projects, real
processes. What a job's command did is seen through a side-effect file outside its outputs."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from harness import ok, pipefile, pyrule, write

STEP = """
    NORM ?= "l1"

    rule index:
        output: "ref.idx"
        input: "ref.fa"
        shell: cat {input} > {output}; echo {NORM} >> {output}; echo ran >> {SIDE}
"""


def _project(d: Path, side: Path, text: str = STEP) -> Path:
    pipefile(d, f'SIDE = "{side}"\n' + textwrap.dedent(text).lstrip("\n"), dedent=False)
    write(d / "ref.fa", ">chr1\nACGT\n")
    return d


def _runs(side: Path) -> int:
    return len(side.read_text().splitlines()) if side.exists() else 0


def test_a_second_project_restores_the_step_without_running_it(tmp_path: Path):
    cache, side = tmp_path / "cache", tmp_path / "side.txt"
    one = _project(tmp_path / "one", side)
    r = ok(one, "--cache", str(cache))
    assert r.ran == {"index"} and _runs(side) == 1
    two = _project(tmp_path / "two", side)
    r = ok(two, "--cache", str(cache))
    assert _runs(side) == 1  # the command never ran
    assert (two / "ref.idx").read_text() == (one / "ref.idx").read_text()
    assert "index: restored from cache " in r.err
    job = r.jobs()["index"]
    assert job["status"] == "up-to-date" and job["reason"].startswith("restored from cache ")
    log = Path(r.run_dir, "run.log").read_text()
    assert "cache index: restored from cache " in log
    # recorded as if it had run: the next run finds it up to date by its own signature
    assert "nothing to do: all 1 job(s) up to date" in ok(two, "--cache", str(cache)).err
    assert ok(two, "-n", "--why", "ref.idx").out.count("signature unchanged") == 1
    # the restored file is a copy of its own, not a link into the cache
    assert os.stat(two / "ref.idx").st_nlink == 1


def test_switching_a_parameter_back_is_free(tmp_path: Path):
    cache, side = tmp_path / "cache", tmp_path / "side.txt"
    d = _project(tmp_path / "p", side)
    env = {"PYRULE_CACHE": str(cache)}  # the environment variable works as --cache does
    for norm in ("l1", "l2", "l1"):
        ok(d, f"NORM={norm}", env=env)
        assert (d / "ref.idx").read_text().endswith(f"{norm}\n")
    assert _runs(side) == 2


def test_a_flipped_byte_in_a_blob_is_refused_and_rebuilt(tmp_path: Path):
    cache, side = tmp_path / "cache", tmp_path / "side.txt"
    ok(_project(tmp_path / "one", side), "--cache", str(cache))
    blobs = [p for p in (cache / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    blob = blobs[0]
    os.chmod(blob, 0o644)
    data = bytearray(blob.read_bytes())
    data[0] ^= 0x20
    blob.write_bytes(bytes(data))
    two = _project(tmp_path / "two", side)
    r = ok(two, "--cache", str(cache))
    assert "refused" in r.err and "does not match its hash" in r.err
    assert r.ran == {"index"} and _runs(side) == 2
    assert (two / "ref.idx").read_text() == ">chr1\nACGT\nl1\n"
    # republished whole: a third project restores it
    r = ok(_project(tmp_path / "three", side), "--cache", str(cache))
    assert _runs(side) == 2 and "restored from cache" in r.err


def test_opt_out_temp_and_directory_outputs(tmp_path: Path):
    cache, side = tmp_path / "cache", tmp_path / "side.txt"
    text = """
        default: all

        rule all:
            input: "tree", "final.txt"

        rule tree:
            output: directory("tree")
            shell: mkdir -p {output}/sub; echo t > {output}/sub/x; echo tree >> {SIDE}

        rule mid:
            output: temp("mid.txt")
            shell: echo m > {output}; echo mid >> {SIDE}

        rule final:
            output: "final.txt"
            input: "mid.txt"
            cache: False
            shell: cat {input} > {output}; echo final >> {SIDE}
    """
    ok(_project(tmp_path / "one", side, text), "--cache", str(cache))
    two = _project(tmp_path / "two", side, text)
    ok(two, "--cache", str(cache))
    lines = side.read_text().split()
    assert lines.count("tree") == 1  # a directory output is cached, as a manifest of its files
    assert lines.count("mid") == 2 and lines.count("final") == 2  # temp(): not cached; cache: false
    assert (two / "tree/sub/x").read_text() == "t\n"


def test_pipefile_cache_info_and_prune(tmp_path: Path):
    cache, side = tmp_path / "cache", tmp_path / "side.txt"
    d = _project(tmp_path / "p", side, f'cache: "{cache}"\n' + textwrap.dedent(STEP))
    ok(d)
    ok(d, "NORM=l2")
    info = ok(d, "--cache-info").out
    assert "entries: 2" in info and "hit rate of the last run: 0%" in info
    d2 = _project(tmp_path / "q", side, f'cache: "{cache}"\n' + textwrap.dedent(STEP))
    ok(d2)
    info = ok(tmp_path, "--cache-info", "--cache", str(cache)).out  # no Pipefile needed
    assert "hit rate of the last run: 100% (1 hit(s), 0 miss(es), 0 refused)" in info
    r = ok(tmp_path, "--cache-prune", "0", env={"PYRULE_CACHE": str(cache)})
    assert "pruned 2 entries" in r.out and "entries: 0" in r.out
    assert pyrule(d, "--cache", "", "--cache-info").rc == 2  # '' turns it off: no cache to look at


def test_pruning_while_another_run_restores_loses_nothing(tmp_path: Path):
    cache, side = tmp_path / "cache", tmp_path / "side.txt"
    big = """
        rule big:
            output: "big.bin", "small.txt"
            input: "ref.fa"
            shell: head -c 30000000 /dev/urandom > {output[0]}; cat {input} > {output[1]}; echo ran >> {SIDE}
    """
    import subprocess
    import sys

    src = _project(tmp_path / "src", side, textwrap.dedent(big))
    ok(src, "--cache", str(cache))
    want = (src / "big.bin").read_bytes()
    pruner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pyrule.cache import Cache
        c = Cache({str(cache)!r})
        end = time.monotonic() + 4
        while time.monotonic() < end:
            c.prune(0)
    """)], env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    try:
        for i in range(6):
            p = _project(tmp_path / f"r{i}", side, textwrap.dedent(big))
            r = ok(p, "--cache", str(cache))
            got = (p / "big.bin").read_bytes()
            if r.jobs()["big"]["status"] == "ran":  # its blob was pruned first: it ran, and published anew
                assert len(got) == 30_000_000
                want = got
            else:  # restored: whole, the last published content
                assert r.jobs()["big"]["reason"].startswith("restored from cache")
                assert got == want
            assert (p / "small.txt").read_text() == ">chr1\nACGT\n"
    finally:
        pruner.wait(timeout=60)


def test_reported_stats_come_back_with_a_restore(tmp_path: Path):
    cache, side = tmp_path / "cache", tmp_path / "side.txt"
    text = """
        rule count:
            output: "n.txt"
            input: "ref.fa"
            shell: wc -l < {input} > {output}; printf 'reads\\t2\\n' >> "$PYRULE_REPORT"; echo ran >> {SIDE}
    """
    r = ok(_project(tmp_path / "one", side, text), "--cache", str(cache))
    assert r.jobs()["count"]["reported"] == {"reads": "2"}
    r = ok(_project(tmp_path / "two", side, text), "--cache", str(cache))
    assert _runs(side) == 1
    assert r.jobs()["count"]["reported"] == {"reads": "2"}


def test_python_api_bodies_share_the_cache_across_projects(tmp_path: Path):
    import subprocess
    import sys

    script = textwrap.dedent(f"""
        import sys
        from pyrule import Workflow
        wf = Workflow(sys.argv[1])

        @wf.rule(output="sq.txt", input="ref.fa", params={{"k": 3}})
        def square(input, output, params):
            with open({str(tmp_path / "side.txt")!r}, "a") as f:
                f.write("ran\\n")
            with open(output[0], "w") as f:
                f.write(str(params.k ** 2))

        result = wf.run(["sq.txt"], cache={str(tmp_path / "cache")!r})
        print(result.outcomes["square"].status, result.outcomes["square"].reason)
    """)
    write(tmp_path / "flow.py", script)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    outs = []
    for name in ("one", "two"):
        write(tmp_path / name / "ref.fa", ">chr1\n")
        p = subprocess.run([sys.executable, str(tmp_path / "flow.py"), str(tmp_path / name)], env=env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout)
        assert (tmp_path / name / "sq.txt").read_text() == "9"
    assert _runs(tmp_path / "side.txt") == 1
    assert outs[1].startswith("up-to-date restored from cache ")


def test_a_dry_run_says_what_the_cache_would_restore(tmp_path: Path):
    cache, side = tmp_path / "cache", tmp_path / "side.txt"
    ok(_project(tmp_path / "one", side), "--cache", str(cache))
    two = _project(tmp_path / "two", side)
    assert ok(two, "-n", "-q", "--cache", str(cache)).out.splitlines() == [
        "index: output ref.idx missing; in the cache: would be restored"]
    assert ok(two, "-n", "-q", "--cache", str(cache), "NORM=l2").out.splitlines() == ["index: output ref.idx missing"]
    assert ok(two, "-n", "-q").out.splitlines() == ["index: output ref.idx missing"]  # no cache named
    assert not (two / "ref.idx").exists() and _runs(side) == 1


def test_pyrule_toml_names_the_cache(tmp_path: Path):
    cache, side = tmp_path / "cache", tmp_path / "side.txt"
    for name in ("one", "two"):
        d = _project(tmp_path / name, side)
        write(d / "pyrule.toml", f'cache = "{cache}"\n')
        ok(d)
    assert _runs(side) == 1 and (tmp_path / "two" / "ref.idx").exists()
