"""`pyrule --executor slurm` against the REAL single-node Slurm test cluster (fixture slurm_cluster).

Every test runs the real `pyrule` command in a subprocess with SLURM_CONF from the fixture.
The non-slow tests take ~30-40 s.  test_time_limit_is_a_clear_failure (slow) waits for a
Slurm TIMEOUT (60-90 s: one-minute limit resolution, limits checked every ~30 s); its pyrule
run is started when this module starts (fixture _timeout_run) so that the wait overlaps the
other tests, and the test itself runs last.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

PYRULE = [sys.executable, "-m", "pyrule"]
TIMEOUT_TEST = "test_time_limit_is_a_clear_failure"


def _env(cluster) -> dict[str, str]:
    """The environment of a pyrule run: the cluster's (SLURM_CONF), or ours when cluster is None."""
    env = dict(cluster.env if cluster is not None else os.environ)
    env.pop("PYRULE_REPORT", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    env["NO_COLOR"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def fake_sbatch(d: Path) -> str:
    """A PATH holding only an `sbatch` that fails if called: for tests of what pyrule does
    before it submits anything (building arguments, reading options), which need no cluster."""
    bin_dir = d / "fake-bin"
    bin_dir.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text("#!/bin/sh\necho 'fake sbatch: not a cluster' >&2\nexit 99\n")
    sbatch.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"


def pipefile(d: Path, text: str) -> None:
    (d / "Pipefile").write_text(textwrap.dedent(text).lstrip())


def pyrule(cluster, d: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*PYRULE, *args], cwd=d, env=_env(cluster), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def start_pyrule(cluster, d: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*PYRULE, *args], cwd=d, env=_env(cluster), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def last_stats(d: Path) -> dict:
    runs = sorted((d / ".pyrule" / "runs").glob("*/stats.json"))
    assert runs, f"no stats.json under {d}"
    return json.loads(runs[-1].read_text())


def jobs_of(d: Path) -> dict[str, dict]:
    return {j["job"]: j for j in last_stats(d)["jobs"]}


def slurm_jobs_in(cluster, d: Path) -> dict[str, tuple[str, str]]:
    """Every Slurm job (squeue -t all) whose working directory is d: {id: (state, name)}."""
    out = cluster.run("squeue", "-h", "-t", "all", "-o", "%i|%T|%Z|%j").stdout
    jobs = {}
    for line in out.splitlines():
        jid, state, wd, name = line.strip().split("|", 3)
        if os.path.realpath(wd) == os.path.realpath(d):
            jobs[jid] = (state, name)
    return jobs


def wait_running(cluster, d: Path, name: str, marker: Path, timeout: float = 30) -> str:
    """Wait until the Slurm job `name` of project d runs and has written `marker`; its id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [jid for jid, (state, n) in slurm_jobs_in(cluster, d).items() if n == name and state == "RUNNING"]
        if running and marker.exists():
            return running[0]
        time.sleep(0.1)
    raise AssertionError(f"job {name} not running in {d} after {timeout} s: {slurm_jobs_in(cluster, d)}")


SLEEPER = """
    SLEEP ?= 60
    rule slow:
        output: "slow.txt"
        shell:
            echo partial > {output}; sleep {SLEEP}; echo done >> {output}
"""


@pytest.fixture(scope="module", autouse=True)
def _timeout_run(request, tmp_path_factory):
    """Start the pyrule run whose job hits its time limit first, so its 60-90 s overlap the rest."""
    if not any(item.name == TIMEOUT_TEST for item in request.session.items):
        yield None  # deselected (e.g. -m "not slow")
        return
    # Asked for here, not as an argument: the tests that need no cluster must not wait for one.
    slurm_cluster = request.getfixturevalue("slurm_cluster")
    d = tmp_path_factory.mktemp("slurm-timeout")
    pipefile(d, """
        rule limited:
            output: "limited.txt"
            resources: runtime = 1
            shell:
                echo started; sleep 300; echo never > {output}
    """)
    proc = start_pyrule(slurm_cluster, d, "--executor", "slurm")
    yield proc, d
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)
    for jid in slurm_jobs_in(slurm_cluster, d):
        slurm_cluster.run("scancel", jid, check=False)


# --- running ---------------------------------------------------------------------------------


def test_shell_and_python_bodies_run_on_slurm(slurm_cluster, tmp_path):
    pipefile(tmp_path, """
        SAMPLES ?= ["a", "b"]
        SUFFIX ?= "!"

        rule all:
            input: expand("up/{s}.txt", s=SAMPLES)

        rule make:
            output: "raw/{s}.txt"
            shell:
                sleep 0.2; echo "sample {wildcards.s}" > {output}

        rule upper:
            output: "up/{s}.txt"
            input: "raw/{s}.txt"
            python:
                import os
                data = open(input[0]).read().strip()
                block = bytearray(30_000_000)  # something for the peak RSS to see
                report("chars", len(data))
                report("on_slurm", "SLURM_JOB_ID" in os.environ)
                open(output[0], "w").write(data.upper() + SUFFIX + "\\n")
    """)
    r = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "-j", "4", "SUFFIX=?")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "raw" / "a.txt").read_text() == "sample a\n"
    # The override reached the node that ran the python body.
    assert (tmp_path / "up" / "b.txt").read_text() == "SAMPLE B?\n"
    jobs = jobs_of(tmp_path)
    ran = {n: j for n, j in jobs.items() if j["status"] == "ran"}
    assert set(ran) == {"make[s=a]", "make[s=b]", "upper[s=a]", "upper[s=b]"}
    for name, j in ran.items():
        assert j["exit_code"] == 0
        assert j["wall_s"] > 0, name
        assert j["peak_rss_bytes"] > 0, name
        assert j["reported"]["slurm_job_id"].replace("_", "", 1).isdigit()  # "ID", or "ID_TASK" in an array
    assert ran["upper[s=a]"]["peak_rss_bytes"] > 30_000_000
    assert ran["upper[s=a]"]["reported"]["chars"] == "8"
    assert ran["upper[s=a]"]["reported"]["on_slurm"] == "True"
    ids = [j["reported"]["slurm_job_id"] for j in ran.values()]
    assert len(set(ids)) == 4
    assert set(slurm_cluster.wait(ids).values()) == {"COMPLETED"}

    runs = set((tmp_path / ".pyrule" / "runs").glob("*/stats.json"))
    mtime = (tmp_path / "up" / "a.txt").stat().st_mtime_ns
    again = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "-j", "4", "SUFFIX=?")
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout + again.stderr
    for new in set((tmp_path / ".pyrule" / "runs").glob("*/stats.json")) - runs:  # if a no-op run records one
        assert not [j for j in json.loads(new.read_text())["jobs"] if j["status"] == "ran"]
    assert (tmp_path / "up" / "a.txt").stat().st_mtime_ns == mtime


def test_failures_show_slurm_state_and_keep_going(slurm_cluster, tmp_path):
    pipefile(tmp_path, """
        rule all:
            input: "after_bad.txt", "ok.txt", "pyfail.txt"

        rule bad:
            output: "bad.txt"
            shell:
                echo "about to fail" >&2; exit 3

        rule after_bad:
            output: "after_bad.txt"
            input: "bad.txt"
            shell: cp {input} {output}

        rule ok:
            output: "ok.txt"
            priority: -1
            shell: sleep 1; echo ok > {output}

        rule pyfail:
            output: "pyfail.txt"
            python:
                raise ValueError("broken body")
    """)
    r = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "bad.txt")
    assert r.returncode == 1, r.stderr
    assert "FAILED bad: exit code 3: Slurm job" in r.stderr
    assert "FAILED (NonZeroExitCode)" in r.stderr
    assert "about to fail" in r.stderr  # the log's tail
    assert "Traceback" not in r.stderr

    k = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "-k")
    assert k.returncode == 1, k.stderr
    jobs = jobs_of(tmp_path)
    assert jobs["ok"]["status"] == "ran"
    assert (tmp_path / "ok.txt").read_text() == "ok\n"
    assert jobs["bad"]["status"] == "failed"
    assert jobs["after_bad"]["status"] == "skipped"
    assert jobs["pyfail"]["status"] == "failed"
    assert "Slurm job" in jobs["pyfail"]["reason"] and "FAILED" in jobs["pyfail"]["reason"]
    assert "ValueError: broken body" in k.stderr  # the traceback of the body, from its log


def test_resources_and_options_map_to_sbatch(slurm_cluster, tmp_path):
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""
        [tool.pyrule.slurm]
        account = "projacct"
        partition = "debug"
    """))
    pipefile(tmp_path, """
        rule all:
            input: "res.txt", "plain.txt"

        rule res:
            output: "res.txt"
            resources: cores = 2, mem = "200M", runtime = "90s"
            slurm: account = "ruleacct", extra = "--comment=pyrule-test"
            shell: echo $SLURM_CPUS_PER_TASK > {output}

        rule plain:
            output: "plain.txt"
            shell: echo plain > {output}
    """)
    r = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "--slurm-partition", "other")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "res.txt").read_text() == "2\n"
    jobs = jobs_of(tmp_path)
    res = slurm_cluster.show_job(jobs["res"]["reported"]["slurm_job_id"])
    assert res["NumCPUs"] == "2"
    assert res["MinMemoryNode"] == "200M"
    assert res["TimeLimit"] == "00:02:00"  # 90 s, rounded up to whole minutes
    assert res["Partition"] == "other"  # --slurm-partition beats pyproject.toml
    assert res["Account"] == "ruleacct"  # the rule's slurm: beats pyproject.toml
    assert res["Comment"] == "pyrule-test"
    assert res["WorkDir"] == str(tmp_path)
    assert res["StdOut"] == str(tmp_path / ".pyrule" / "logs" / "res" / "res.log")
    plain = slurm_cluster.show_job(jobs["plain"]["reported"]["slurm_job_id"])
    assert (plain["Partition"], plain["Account"], plain["TimeLimit"]) == ("other", "projacct", "UNLIMITED")
    assert plain["NumCPUs"] == "1"
    # The generated script names the sbatch command it was submitted with.
    script = (tmp_path / ".pyrule" / "slurm" / "res.a1.sh").read_text()
    assert "--cpus-per-task=2 --mem=200M --time=2" in script
    assert "--partition=other --account=ruleacct --comment=pyrule-test" in script


def test_sbatch_args_for_gpus_memory_and_time(tmp_path, monkeypatch):
    from pyrule.executors.base import JobSpec
    from pyrule.executors.slurm import SlurmExecutor

    monkeypatch.setenv("PATH", fake_sbatch(tmp_path))
    ex = SlurmExecutor(partition="p1", project_dir=str(tmp_path))
    spec = JobSpec(name="j", workdir=str(tmp_path), log_path="l%j.log", env={}, shell="true",
                   resources={"cores": 3, "mem": int(1.5 * 2**30), "gpus": 2, "runtime": 3601,
                              "slurm": {"qos": "high", "constraint": "avx2", "extra": "--exclusive --nice=5"}})
    args, limit, mem = ex.sbatch_args(spec, str(tmp_path), str(tmp_path / "l%j.log"))
    assert "--cpus-per-task=3" in args and "--mem=1536M" in args and "--gres=gpu:2" in args
    assert "--time=61" in args and (limit, mem) == (61, 1536)
    assert "--partition=p1" in args and "--qos=high" in args and "--constraint=avx2" in args
    assert args[-2:] == ["--exclusive", "--nice=5"]
    assert f"--output={tmp_path}/l%%j.log" in args  # no %j expansion by sbatch


def test_bad_partition_fails_with_sbatchs_message(slurm_cluster, tmp_path):
    pipefile(tmp_path, """
        rule nopart:
            output: "x.txt"
            slurm: partition = "nosuch"
            shell: echo x > {output}
    """)
    r = pyrule(slurm_cluster, tmp_path, "--executor", "slurm")
    assert r.returncode == 1, r.stderr
    assert "FAILED nopart: exit code 1: sbatch refused the job: invalid partition specified: nosuch" in r.stderr
    assert "Traceback" not in r.stderr
    assert "invalid partition" in (tmp_path / ".pyrule" / "logs" / "nopart" / "nopart.log").read_text()


def test_retries_resubmit(slurm_cluster, tmp_path):
    pipefile(tmp_path, """
        rule flaky:
            output: "flaky.txt"
            retries: 1
            shell:
                if [ ! -e first.done ]; then touch first.done; exit 4; fi; echo fine > {output}
    """)
    r = pyrule(slurm_cluster, tmp_path, "--executor", "slurm")
    assert r.returncode == 0, r.stderr
    assert "flaky failed (exit code 4: Slurm job" in r.stderr and "retrying (2 of 2)" in r.stderr
    assert (tmp_path / "flaky.txt").read_text() == "fine\n"
    job = jobs_of(tmp_path)["flaky"]
    assert job["attempts"] == 2
    states = sorted(state for state, name in slurm_jobs_in(slurm_cluster, tmp_path).values() if name == "flaky")
    assert states == ["COMPLETED", "FAILED"]


@pytest.mark.slow  # over 5 s on a loaded 2-core machine
def test_jobs_option_caps_jobs_in_slurm(slurm_cluster, tmp_path):
    pipefile(tmp_path, """
        rule all:
            input: expand("o/{i}.txt", i=range(4))
        rule one:
            output: "o/{i}.txt"
            resources: cores = 2, mem = "10M"
            shell: date +%s.%N > {output}.start; sleep 1; date +%s.%N > {output}
    """)
    # Locally `-j 1` could not run a cores = 2 job; on Slurm cores and memory are the
    # cluster's business and -j N caps the jobs submitted at once.
    r = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "-j", "1", "o/0.txt")
    assert r.returncode == 0, r.stderr
    r = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "-j", "2")
    assert r.returncode == 0, r.stderr
    spans = [(float((tmp_path / f"o/{i}.txt.start").read_text()), float((tmp_path / f"o/{i}.txt").read_text()))
             for i in range(1, 4)]
    for t, _ in spans:  # never more than 2 running at once
        assert sum(1 for s, e in spans if s <= t < e) <= 2


def test_sbatch_missing_is_a_clear_usage_error(tmp_path):
    pipefile(tmp_path, """
        rule a:
            output: "a.txt"
            shell: echo a > {output}
    """)
    env = _env(None)
    env["PATH"] = str(tmp_path / "nobin")
    r = subprocess.run([*PYRULE, "--executor", "slurm"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2, r.stderr
    assert "sbatch not found: is this a Slurm cluster? (or use --executor local)" in r.stderr


def test_unknown_profile_key_is_a_usage_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.pyrule.slurm]\npartitoin = "other"\n')
    pipefile(tmp_path, """
        rule a:
            output: "a.txt"
            shell: echo a > {output}
    """)
    env = {**_env(None), "PATH": fake_sbatch(tmp_path)}
    r = subprocess.run([*PYRULE, "--executor", "slurm"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 2, r.stderr
    assert "unknown key 'partitoin' in [tool.pyrule.slurm]" in r.stderr and "did you mean 'partition'" in r.stderr


# --- interruption and restart ----------------------------------------------------------------


def test_sigterm_cancels_slurm_jobs_and_removes_partial_outputs(slurm_cluster, tmp_path):
    pipefile(tmp_path, SLEEPER)
    proc = start_pyrule(slurm_cluster, tmp_path, "--executor", "slurm")
    try:
        jid = wait_running(slurm_cluster, tmp_path, "slow", tmp_path / "slow.txt")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "interrupted" in err
    # pyrule waited for Slurm to stop the job before it removed the partial output.
    assert slurm_cluster.states([jid])[jid] == "CANCELLED"
    assert not (tmp_path / "slow.txt").exists()
    assert not slurm_cluster.run("squeue", "-h", "-j", jid, "-t", "PENDING,RUNNING,COMPLETING", check=False).stdout


def test_restart_after_kill_9_cancels_the_orphaned_slurm_job(slurm_cluster, tmp_path):
    pipefile(tmp_path, SLEEPER)
    proc = start_pyrule(slurm_cluster, tmp_path, "--executor", "slurm")
    try:
        jid = wait_running(slurm_cluster, tmp_path, "slow", tmp_path / "slow.txt")
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert slurm_cluster.states([jid])[jid] == "RUNNING"  # Slurm jobs outlive the pyrule that submitted them

    r = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "SLEEP=0")
    assert r.returncode == 0, r.stderr
    # adopted at first (tests/slurm/test_reattach.py), then cancelled: SLEEP=0 makes another script
    assert f"cancelled Slurm job {jid} (slow) left by a pyrule that died: it runs another script" in r.stderr
    assert "removed its outputs; it will be rebuilt" in r.stderr
    assert slurm_cluster.states([jid])[jid] == "CANCELLED"
    assert (tmp_path / "slow.txt").read_text() == "partial\ndone\n"


def test_cancel_orphans_matches_name_and_directory(slurm_cluster, tmp_path, monkeypatch):
    """An id the dead run never recorded (it died inside sbatch) is found by job name and
    working directory; a recorded id whose Slurm job has another name (ids restart at 1 on a
    fresh cluster) or another directory is left alone."""
    from pyrule.executors.slurm import cancel_orphans

    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.slurm_conf))
    monkeypatch.setenv("PATH", slurm_cluster.env["PATH"])
    other = tmp_path / "other"
    other.mkdir()
    mine = slurm_cluster.sbatch("-J", "count[s=a]", "--wrap", "sleep 60", cwd=tmp_path)
    elsewhere = slurm_cluster.sbatch("-J", "count[s=b]", "--wrap", "sleep 60", cwd=other)
    renamed = slurm_cluster.sbatch("-J", "someone-else", "--wrap", "sleep 60", cwd=tmp_path)
    try:
        cancelled, problems = cancel_orphans([("count[s=a]", 0), ("count[s=b]", 0), ("count[s=c]", int(renamed))],
                                             str(tmp_path))
        assert problems == []
        assert [(name, str(jid)) for name, jid, _ in cancelled] == [("count[s=a]", mine)]
        states = slurm_cluster.states([mine, elsewhere, renamed])
        assert states[mine] == "CANCELLED"
        assert states[elsewhere] in ("PENDING", "RUNNING") and states[renamed] in ("PENDING", "RUNNING")
    finally:
        slurm_cluster.run("scancel", mine, elsewhere, renamed, check=False)


def test_run_job_runs_one_python_body_in_process(tmp_path):
    """The hidden `--run-job NAME` that a Slurm job script uses (no cluster needed)."""
    pipefile(tmp_path, """
        N ?= 1
        rule py:
            output: "out/{x}.txt"
            python:
                import os
                if wildcards.x == "bad":
                    raise SystemExit(5)
                open(output[0], "w").write(f"{wildcards.x} {N} {os.getpid()}\\n")
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYRULE_REPORT"}
    r = subprocess.run([*PYRULE, "--run-job", "py[x=a]", "-f", "Pipefile", "--", "N=7", "out/a.txt"], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "a.txt").read_text().startswith("a 7 ")
    r = subprocess.run([*PYRULE, "--run-job", "py[x=bad]", "-f", "Pipefile", "out/bad.txt"], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 5, r.stderr
    r = subprocess.run([*PYRULE, "--run-job", "py[x=zz]", "-f", "Pipefile", "out/a.txt"], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no such job" in r.stderr


# --- last: the slow one ------------------------------------------------------------------------


@pytest.mark.slow
def test_time_limit_is_a_clear_failure(_timeout_run, slurm_cluster):
    assert _timeout_run is not None
    proc, d = _timeout_run
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 1, err
    assert "FAILED limited: exit code" in err
    assert "TIMEOUT: it ran over its time limit (1 min)" in err
    assert not (d / "limited.txt").exists()
    job = jobs_of(d)["limited"]
    assert job["status"] == "failed"
    assert slurm_cluster.states([job["reported"]["slurm_job_id"]])[job["reported"]["slurm_job_id"]] == "TIMEOUT"


def test_overrides_reach_the_node_when_main_is_called_in_process(tmp_path, monkeypatch):
    """`pyrule.cli.main([...])` from another program (here pytest, whose own sys.argv is
    anything but a pyrule command line): the node must get the overrides of the argv given."""
    pipefile(tmp_path, """
        N ?= 1
        rule py:
            output: "out.txt"
            python:
                open(output[0], "w").write(str(N))
    """)
    from pyrule.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", fake_sbatch(tmp_path))
    monkeypatch.setattr(sys, "argv", ["some-program", "--option", "X=9"])
    assert main(["--executor", "slurm", "-q", "N=7"]) == 1  # the fake sbatch refuses the job
    scripts = list((tmp_path / ".pyrule" / "slurm").rglob("*.sh"))
    assert len(scripts) == 1, scripts
    # the body is shipped with the values of the names it uses (pyjob.py): N as the overrides made it
    shipped = json.loads((tmp_path / ".pyrule" / "slurm" / "py.a1.pyjob.json").read_text())
    assert json.loads((tmp_path / shipped["shared"]).read_text())["globals"] == {"N": 7}, shipped
