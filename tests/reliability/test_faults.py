"""Fault injection: kill pyrule at chosen and at random moments in a 3N-job run, rerun, and check
that nothing is ever left partial or wrong.

The workflow has three layers of N jobs (a: shell, b: Python body, c: shell; b and c read two
outputs of the layer before). Each output is four lines derived from its inputs' contents and
written in two chunks with a pause between (PAUSE = 0.5 s), so that a kill can land between the
chunks and leave a half-written file. Every job appends its pid to pids.txt. CI builds N = 12
(36 jobs), the soak N = 40 (120 jobs).

A trial is one signal (or two, for the double Ctrl-C) sent to a running `pyrule`. Even trials
are aimed: the signal goes as soon as an output of this run is seen half-written (so the kill
lands mid-write, and the trial asserts it did); odd trials wait a seeded-random delay (any
moment: start-up, deciding, recording). After each trial:

- SIGKILL: every job process of the killed run dies at once (parent-death signal), and every
  output that is not complete and correct is marked in the state store as belonging to a job
  that was running (so the next run removes and rebuilds it);
- SIGTERM, SIGINT, SIGINT+SIGINT: pyrule exits 143/130, no job process (nor any member of its
  process group) survives, every output present is complete and correct (no partial file is
  left), and nothing is left marked as running.

A campaign is a run of trials on one project (each trial's run is the next one's rerun); at its
end `pyrule` runs to completion and the tree must equal a clean build byte for byte (so every
half-written output was rebuilt), and a further `pyrule -n` must find nothing to do. Every aimed
trial must have landed (pyrule still running, a job mid-write), and after SIGKILL have left that
output half-written. CI: 3 trials per signal (a few seconds each); --soak: 200 per signal.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from harness import group_members, ok, pipefile, spawn
from reliability_util import base_seed, count, read_pids, record, running_rows, soak_enabled, tree, wait_dead

N = 100  # the Pipefile's default; the test sets N and PAUSE on the command line (see sizes())
M = 1000003
LAYERS = ("a", "b", "c")
JOBS = "-j4"

PIPEFILE = f"""
    N ?= {N}
    PAUSE ?= 0.01
    default: all

    python:
        def fold(paths, salt):
            h = salt
            for p in paths:
                with open(p) as f:
                    for line in f:
                        _, _, k, v = line.split()
                        h = (h * 31 + int(v) + int(k)) % {M}
            return h

    rule all:
        input: expand("c/{{i}}.txt", i=range(N))

    rule a:
        output: "a/{{i}}.txt"
        shell:
            echo $$ >> pids.txt
            h=$(( ({{wildcards.i}} * 7919 + 13) % {M} ))
            printf 'a %s 0 %s\\na %s 1 %s\\n' {{wildcards.i}} $h {{wildcards.i}} $(( (h + 7) % {M} )) >> {{output}}
            sleep {{PAUSE}}
            printf 'a %s 2 %s\\na %s 3 %s\\n' {{wildcards.i}} $(( (h + 14) % {M} )) {{wildcards.i}} $(( (h + 21) % {M} )) >> {{output}}

    rule b:
        output: "b/{{i}}.txt"
        input: "a/{{i}}.txt", lambda w: f"a/{{(int(w.i) + 1) % N}}.txt"
        python:
            import os, time
            fd = os.open("pids.txt", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(fd, b"%d\\n" % os.getpid())
            os.close(fd)
            i, h = wildcards.i, fold(input, 17)
            with open(output[0], "w") as f:
                f.write(f"b {{i}} 0 {{h}}\\nb {{i}} 1 {{(h + 7) % {M}}}\\n")
                f.flush()
                time.sleep(PAUSE)
                f.write(f"b {{i}} 2 {{(h + 14) % {M}}}\\nb {{i}} 3 {{(h + 21) % {M}}}\\n")

    rule c:
        output: "c/{{i}}.txt"
        input: "b/{{i}}.txt", lambda w: f"b/{{(int(w.i) + 7) % N}}.txt"
        shell:
            echo $$ >> pids.txt
            h=29
            for f in {{input}}; do
                while read -r _ _ k v; do h=$(( (h * 31 + v + k) % {M} )); done < "$f"
            done
            printf 'c %s 0 %s\\nc %s 1 %s\\n' {{wildcards.i}} $h {{wildcards.i}} $(( (h + 7) % {M} )) >> {{output}}
            sleep {{PAUSE}}
            printf 'c %s 2 %s\\nc %s 3 %s\\n' {{wildcards.i}} $(( (h + 14) % {M} )) {{wildcards.i}} $(( (h + 21) % {M} )) >> {{output}}
"""


def _lines(layer: str, i: int, h: int) -> str:
    return "".join(f"{layer} {i} {k} {(h + 7 * k) % M}\n" for k in range(4))


def _fold(texts: list[str], salt: int) -> int:
    h = salt
    for text in texts:
        for line in text.splitlines():
            _, _, k, v = line.split()
            h = (h * 31 + int(v) + int(k)) % M
    return h


def expected_outputs(n: int = N) -> dict[str, bytes]:
    """What a correct build holds (`pyrule N=n` for another size), computed independently of pyrule."""
    a = {i: _lines("a", i, (i * 7919 + 13) % M) for i in range(n)}
    b = {i: _lines("b", i, _fold([a[i], a[(i + 1) % n]], 17)) for i in range(n)}
    c = {i: _lines("c", i, _fold([b[i], b[(i + 7) % n]], 29)) for i in range(n)}
    out = {}
    for layer, texts in zip(LAYERS, (a, b, c)):
        for i, text in texts.items():
            out[f"{layer}/{i}.txt"] = text.encode()
    return out


SIGNALS = {
    "KILL": [signal.SIGKILL],
    "TERM": [signal.SIGTERM],
    "INT": [signal.SIGINT],
    "INT-INT": [signal.SIGINT, signal.SIGINT],
}
EXIT_CODES = {  # 0: the run ended before the signal; -15: SIGTERM before pyrule's handlers were set
    "KILL": {-9, 0},
    "TERM": {143, 0, -15},
    "INT": {130, 0},
    "INT-INT": {130, 0},
}
LANDED = {"KILL": {-9}, "TERM": {143}, "INT": {130}, "INT-INT": {130}}  # an aimed trial's exit
PER_CAMPAIGN = 25


def sizes(config: pytest.Config) -> tuple[int, float]:
    """(N, PAUSE). The pause between an output's two chunks must outlast the time from seeing
    the first chunk to the job's death (the test's poll, the signal, and after SIGKILL the
    watchdog's 0.2 s poll for shell jobs), so that an aimed kill leaves the output half-written."""
    return (40, 0.5) if soak_enabled(config) else (12, 0.5)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "campaign" not in metafunc.fixturenames:
        return
    trials = count(metafunc.config, "--trials", 3, 200)
    params = []
    for name in SIGNALS:
        for c, start in enumerate(range(0, trials, PER_CAMPAIGN)):
            params.append(pytest.param(name, c, min(PER_CAMPAIGN, trials - start), id=f"{name}-{c}"))
    metafunc.parametrize(("signame", "campaign", "kills"), params)


@pytest.fixture(scope="module")
def setup(request: pytest.FixtureRequest) -> tuple[dict[str, bytes], list[str]]:
    """What a correct build holds, and pyrule's arguments (jobs, N, PAUSE)."""
    n, pause = sizes(request.config)
    return expected_outputs(n), [JOBS, f"N={n}", f"PAUSE={pause}"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, setup) -> tuple[dict[str, bytes], float]:
    """A clean build (its tree, and how long it took)."""
    expected, args = setup
    d = tmp_path_factory.mktemp("clean")
    pipefile(d, PIPEFILE)
    t0 = time.monotonic()
    ok(d, *args, timeout=300)
    took = time.monotonic() - t0
    built = tree(d, skip_files=("pids.txt",))
    built.pop("Pipefile")
    assert built == expected, "a clean build differs from the independently computed outputs"
    return built, took


def _outputs(d: Path) -> dict[str, bytes]:
    out = {}
    for layer in LAYERS:
        for p in (d / layer).glob("*") if (d / layer).is_dir() else ():
            try:
                out[f"{layer}/{p.name}"] = p.read_bytes()
            except FileNotFoundError:  # removed meanwhile (while a run is going on)
                pass
    return out


def _wrong(d: Path, expected: dict[str, bytes]) -> list[str]:
    """Outputs present that are not complete and correct."""
    return sorted(p for p, data in _outputs(d).items() if expected.get(p) != data)


def _half_written(d: Path, expected: dict[str, bytes], since_ns: int) -> str | None:
    """An output written since since_ns that holds its first chunk only (its job is mid-write)."""
    for p in _wrong(d, expected):
        try:
            st = (d / p).stat()
        except FileNotFoundError:
            continue
        if st.st_mtime_ns >= since_ns and expected.get(p, b"").startswith((d / p).read_bytes() or b"-"):
            return p
    return None


def _aim(p: subprocess.Popen, d: Path, expected: dict[str, bytes], since_ns: int) -> str | None:
    """Wait until an output of this run is half-written; None if the run ended first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if p.poll() is not None:
            return None
        half = _half_written(d, expected, since_ns)
        if half is not None:
            return half
        time.sleep(0.005)
    return None


def test_kill_trials(tmp_path: Path, reference, setup, signame: str, campaign: int, kills: int):
    ref, took = reference
    expected, args = setup
    seed = base_seed() + 7919 * campaign + sum(map(ord, signame))
    rng = random.Random(seed)
    d = tmp_path / "proj"
    d.mkdir()
    pipefile(d, PIPEFILE)
    landed = partial_seen = wipes = startup = aimed = 0
    for trial in range(kills):
        where = f"{signame} campaign {campaign} trial {trial} (seed {seed})"
        done = len(_outputs(d)) - len(_wrong(d, expected))
        if done > 0.7 * len(expected):  # keep work in front of the kills: rebuild from nothing
            for layer in LAYERS:
                shutil.rmtree(d / layer, ignore_errors=True)
            wipes += 1
            done = 0
        before = len(read_pids(d / "pids.txt"))
        errf = open(d.parent / f"stderr-{trial}.txt", "w+")
        since = time.time_ns()
        p = spawn(d, *args, stderr=errf)
        half = None
        try:
            if trial % 2 == 0:  # aimed: at a job mid-write
                aimed += 1
                half = _aim(p, d, expected, since)
                assert half is not None, f"{where}: no output was ever seen half-written (rc {p.poll()})"
                go = True
            else:
                delay = rng.uniform(0.1, 0.4 + took * (1 - done / len(expected)))
                try:
                    p.wait(timeout=delay)
                    go = False
                except subprocess.TimeoutExpired:
                    go = True
            if go:
                landed += 1
                for k, signum in enumerate(SIGNALS[signame]):
                    if k:
                        time.sleep(rng.uniform(0.01, 0.3))
                    if p.poll() is None:
                        p.send_signal(signum)
            try:
                p.communicate(timeout=90)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{where}: pyrule did not exit within 90 s of the signal")
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate(timeout=30)
        errf.seek(0)
        err = errf.read()
        errf.close()
        pids = read_pids(d / "pids.txt")[before:]
        # A Ctrl-C while Python itself starts (imports, before any pyrule code) ends the
        # interpreter with its own message, and nothing has run: allowed, and counted.
        in_startup = signame.startswith("INT") and not pids and p.returncode in (1, -2) and (
            "KeyboardInterrupt" in err or "init_import_site" in err)
        startup += in_startup
        if not in_startup:
            assert p.returncode in EXIT_CODES[signame], f"{where}: exit {p.returncode}\n{err}"
            assert "Traceback" not in err, f"{where}:\n{err}"
        if half is not None:  # the signal landed while a job was mid-write
            assert p.returncode in LANDED[signame], f"{where}: an aimed signal did not land: exit {p.returncode}\n{err}"
        assert "internal error" not in err, f"{where}:\n{err}"
        survivors = wait_dead(pids, 3.0)
        assert not survivors, f"{where}: job processes survived pyrule: {survivors}"
        wrong = _wrong(d, expected)
        if signame == "KILL":
            # Partial outputs are expected after kill -9; each must be marked incomplete.
            marked = {o for _, outs in running_rows(d) for o in outs}
            unmarked = [w for w in wrong if w not in marked]
            assert not unmarked, f"{where}: partial outputs not marked as running in the store: {unmarked}"
            if half is not None:
                assert half in wrong, f"{where}: {half} was half-written at the kill, yet complete after it"
            partial_seen += len(wrong)
        else:
            left = [pid for pid in pids if group_members(pid)]
            assert not left, f"{where}: members of job process groups survived: {left}"
            assert not wrong, f"{where}: partial or wrong outputs left after the signal: {wrong}\n{err}"
            assert running_rows(d) == [], f"{where}: jobs left marked as running\n{err}"
    final = ok(d, *args, timeout=300)
    assert "Traceback" not in final.err
    built = tree(d, skip_files=("pids.txt",))
    built.pop("Pipefile")
    # Every output half-written by a kill was rebuilt (a partial one adopted would differ here).
    assert built == ref, f"{signame} campaign {campaign} (seed {seed}): the final tree differs from a clean build: " \
        f"{sorted(k for k in set(built) | set(ref) if built.get(k) != ref.get(k))[:10]}"
    again = ok(d, *args, "-n", "-q")
    assert again.out.strip() == "", f"a finished build is not up to date:\n{again.out}"
    assert running_rows(d) == [], "jobs of killed runs are still marked as running after a full build"
    assert landed >= aimed
    if signame == "KILL":
        assert partial_seen >= aimed, f"aimed kills left {partial_seen} partial output(s) in {aimed} trial(s)"
    record("faults", signal=signame, campaign=campaign, seed=seed, trials=kills, aimed=aimed, landed=landed,
           survived=kills, partial_after_kill=partial_seen, wipes=wipes, in_python_startup=startup, lost=0,
           jobs=len(expected))


def test_expected_outputs_are_what_the_pipefile_describes():
    """The independent model of the workflow is not vacuous: every output has 4 full lines."""
    expected = expected_outputs()
    assert len(expected) == 3 * N
    assert all(data.count(b"\n") == 4 for data in expected.values())
