"""`pyrule --executor slurm --detach` on the REAL Slurm test cluster: the whole job graph is
submitted at once (Slurm dependencies between the jobs), pyrule exits while the jobs are pending
or running, `--status` shows their Slurm states, and a later `pyrule --executor slurm` collects
them: nothing submitted twice, and a detached job that failed is reported and submitted again
(only it). sbatch calls are counted with a PATH wrapper (test_arrays.counting_sbatch); each
job's Slurm jobs are found by the project directory (test_reattach.tasks_in)."""

from __future__ import annotations

import os
import time

from harness import ok, pipefile, pyrule
from test_arrays import counting_sbatch
from test_arrays import sbatch_calls as logged
from test_reattach import tasks_in

from pyrule.executors.slurm import FINAL_STATES

FAN = 14
CHAIN = 5


def sbatch_calls(log) -> list[str]:
    """The sbatch calls logged since the last look (the log is emptied)."""
    calls = logged(log)
    log.unlink(missing_ok=True)
    return calls


def graph(d, fail: int | None = None) -> None:
    """A fan-out (dtseed, then FAN dtfan jobs reading its output) and a chain of CHAIN jobs
    (rules dtchain0, dtchain1, ...: each appends to the one before): 1 + FAN + CHAIN jobs.
    `fail`: that fan job fails the first time it runs (a marker file says it ran)."""
    fails = f'if [ {{i}} = {fail} ] && [ ! -e failed.once ]; then touch failed.once; echo boom >&2; exit 3; fi; ' \
        if fail is not None else ""
    chain = "".join(f"""
rule dtchain{n}:
    input: "chain/{n - 1}.txt"
    output: "chain/{n}.txt"
    shell: sleep 1; cat {{input}} > {{output}}; echo {n} >> {{output}}
""" for n in range(1, CHAIN))
    pipefile(d, f"""
rule all:
    input: [f"fan/{{i}}.txt" for i in range({FAN})], "chain/{CHAIN - 1}.txt"

rule dtseed:
    output: "seed.txt"
    shell: sleep 3; echo seed > {{output}}

rule dtfan:
    input: "seed.txt"
    output: "fan/{{i}}.txt"
    shell: {fails}sleep 2; echo "fan {{i}} $(cat {{input}})" > {{output}}

rule dtchain0:
    output: "chain/0.txt"
    shell: sleep 2; echo 0 > {{output}}
""" + chain, dedent=False)


def accounted(cluster, d, n: int) -> list[tuple[str, str]]:
    """The job completion log's (sacct -c) rows of this project's jobs (all named dt...):
    (id, name); waits until it has n (it is written as each job ends)."""
    def rows():
        out = cluster.run("sacct", "-c", "-n", "--parsable2", "-o", "jobid,jobname,state,workdir").stdout
        return [(jid, name) for jid, name, _state, wd in (ln.split("|", 3) for ln in out.splitlines() if ln.count("|") == 3)
                if name.startswith("dt") and os.path.realpath(wd) == os.path.realpath(d)]
    deadline = time.monotonic() + 20
    while len(found := rows()) < n and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


def check_outputs(d) -> None:
    for i in range(FAN):
        assert (d / "fan" / f"{i}.txt").read_text() == f"fan {i} seed\n"
    assert (d / "chain" / f"{CHAIN - 1}.txt").read_text() == "".join(f"{n}\n" for n in range(CHAIN))


def wait_final(cluster, d, n: int, timeout: float = 180) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        tasks = tasks_in(cluster, d)
        if len(tasks) == n and set(tasks.values()) <= FINAL_STATES:
            return tasks
        assert time.monotonic() < deadline, tasks
        time.sleep(1)


def test_detach_submits_the_whole_graph_and_a_later_run_collects(slurm_cluster, tmp_path):
    n = 1 + FAN + CHAIN
    graph(tmp_path)
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    r = ok(tmp_path, "--executor", "slurm", "--detach", env=env)
    # It exits with the jobs still in Slurm's hands, every one submitted once.
    tasks = tasks_in(slurm_cluster, tmp_path)
    assert len(tasks) == n, (tasks, r.err)
    assert not set(tasks.values()) <= FINAL_STATES, tasks
    made = sbatch_calls(calls)
    assert sum("--dependency=afterok:" in c for c in made) >= CHAIN, made  # the chain's links, the fan
    assert f"detached: {n} job(s) submitted to slurm" in r.err, r.err
    assert "pyrule --status" in r.err and "pyrule --executor slurm" in r.err
    assert r.jobs()["dtfan[i=0]"]["status"] == "submitted"
    assert not (tmp_path / "chain" / f"{CHAIN - 1}.txt").exists()

    # --status: their Slurm states, changing nothing
    st = ok(tmp_path, "--status", env=slurm_cluster.env)
    lines = [ln for ln in st.out.splitlines() if ": detached, " in ln]
    assert len(lines) == n, st.out
    assert all(any(w in ln for w in ("pending", "running", "done")) for ln in lines), st.out
    assert f"(dtchain{CHAIN - 1}): detached, pending" in st.out, st.out  # waits for its dependency
    assert f"detached: {n} target(s) in its executor's hands" in st.out
    dry = ok(tmp_path, "-n", env=slurm_cluster.env)
    assert "dtfan[i=0]: submitted by detached run " in dry.out and "pyrule --executor slurm collects it" in dry.out

    # the collecting run: adopts them all, submits nothing
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    c = ok(tmp_path, "--executor", "slurm", env=env, timeout=300)
    assert sbatch_calls(calls) == [], c.err
    assert c.err.count("adopted Slurm job") == n, c.err
    check_outputs(tmp_path)
    after = tasks_in(slurm_cluster, tmp_path)
    assert set(after) == set(tasks) and set(after.values()) == {"COMPLETED"}, after  # each job ran once
    acct = accounted(slurm_cluster, tmp_path, n)
    assert len(acct) == n and len({jid for jid, _ in acct}) == n, acct  # sacct: each job once
    jobs = c.jobs()
    assert all(j["status"] == "ran" for name, j in jobs.items() if name != "all"), jobs
    assert jobs["dtfan[i=3]"]["reported"]["slurm_job_id"] in tasks  # recorded as its own run records it
    assert ok(tmp_path, "--executor", "slurm", env=env).ran == set()


def test_a_failed_detached_job_is_reported_and_only_it_submitted_again(slurm_cluster, tmp_path):
    n = 1 + FAN + CHAIN
    graph(tmp_path, fail=2)
    ok(tmp_path, "--executor", "slurm", "--detach", env=slurm_cluster.env)
    before = wait_final(slurm_cluster, tmp_path, n)
    assert sorted(before.values()).count("FAILED") == 1, before
    st = ok(tmp_path, "--status", env=slurm_cluster.env)
    assert "(dtfan[i=2]): detached, failed (Slurm job" in st.out, st.out
    assert st.out.count(": detached, done") == n - 1, st.out
    assert not (tmp_path / "fan" / "2.txt").exists()

    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    c = ok(tmp_path, "--executor", "slurm", env=env, timeout=300)
    made = sbatch_calls(calls)
    assert len(made) == 1 and "--job-name=dtfan[i=2]" in made[0], made  # only it
    assert "dtfan[i=2] failed: Slurm job" in c.err and "FAILED" in c.err, c.err
    assert c.err.count("adopted Slurm job") == n - 1, c.err
    check_outputs(tmp_path)
    assert len(tasks_in(slurm_cluster, tmp_path)) == n + 1
    assert len(accounted(slurm_cluster, tmp_path, n + 1)) == n + 1  # the failed one twice, the others once
    assert c.jobs()["dtfan[i=2]"]["status"] == "ran"


def test_detach_again_while_jobs_are_in_flight_adopts_them(slurm_cluster, tmp_path):
    """A second --detach while the first one's jobs are pending or running submits none of them
    again: it takes them over (their dependents wait on their ids), and a later run collects."""
    n = 1 + FAN + CHAIN
    graph(tmp_path)
    ok(tmp_path, "--executor", "slurm", "--detach", env=slurm_cluster.env)
    # the local executor cannot follow them: refused, nothing changed
    local = pyrule(tmp_path, env=slurm_cluster.env)
    assert local.rc == 2 and "of detached run" in local.err and "pyrule --executor slurm" in local.err, local
    assert local.run_dir is None, local
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    again = ok(tmp_path, "--executor", "slurm", "--detach", env=env)
    assert sbatch_calls(calls) == [], again.err
    assert again.err.count("adopted Slurm job") == n, again.err
    c = ok(tmp_path, "--executor", "slurm", env=env, timeout=300)
    assert sbatch_calls(calls) == [], c.err
    check_outputs(tmp_path)
    assert len(tasks_in(slurm_cluster, tmp_path)) == n


def test_a_detached_checkpoint_leaves_its_askers_to_the_collecting_run(slurm_cluster, tmp_path):
    pipefile(tmp_path, """
        default: all.txt

        checkpoint dtsplit:
            output: "names.txt"
            shell: sleep 1; echo "a b" > {output}

        rule dtper:
            output: "out/{x}.txt"
            shell: echo {x} > {output}

        python:
            def per_name(wildcards):
                names = open(checkpoints.dtsplit.get().output[0]).read().split()
                return expand("out/{x}.txt", x=names)

        rule dtall:
            output: "all.txt"
            input: per_name
            shell: cat {input} > {output}
        """)
    r = ok(tmp_path, "--executor", "slurm", "--detach", env=slurm_cluster.env)
    assert "detached: 1 job(s) submitted to slurm" in r.err, r.err
    assert "left for the collecting run" in r.err and "checkpoint dtsplit" in r.err, r.err
    c = ok(tmp_path, "--executor", "slurm", env=slurm_cluster.env, timeout=300)
    assert c.err.count("adopted Slurm job") == 1, c.err
    assert (tmp_path / "all.txt").read_text() == "a\nb\n"


def test_local_rules_are_left_for_the_collecting_run(slurm_cluster, tmp_path):
    """A `local: True` job runs on the machine pyrule runs on: a detached run leaves it, and the
    cluster job that needs it, to the collecting run; the rest is submitted."""
    pipefile(tmp_path, """
        rule all:
            input: "summary.txt", "other.txt"

        rule dtfetch:
            output: "fetched.txt"
            local: True
            shell: echo fetched > {output}

        rule dtsum:
            input: "fetched.txt"
            output: "summary.txt"
            shell: cat {input} > {output}

        rule dtother:
            output: "other.txt"
            shell: sleep 2; echo other > {output}
        """)
    r = ok(tmp_path, "--executor", "slurm", "--detach", env=slurm_cluster.env)
    assert "detached: 1 job(s) submitted" in r.err and "2 job(s) left for the collecting run" in r.err, r.err
    assert not (tmp_path / "fetched.txt").exists()
    c = ok(tmp_path, "--executor", "slurm", env=slurm_cluster.env, timeout=300)
    assert c.err.count("adopted Slurm job") == 1, c.err
    assert (tmp_path / "summary.txt").read_text() == "fetched\n" and (tmp_path / "other.txt").read_text() == "other\n"
    assert c.ran == {"dtfetch", "dtsum", "dtother"}


HOG = 'python3 -c "import time; x = bytearray(100 * 2**20); x[::4096] = b\\"x\\" * len(x[::4096]); time.sleep(3)"'


def test_a_detached_job_out_of_memory_is_resubmitted_as_its_retry(slurm_cluster, tmp_path):
    """Its failed attempt counts, as if the collecting run had made it: `retries: 1` and
    `mem = "80M" * attempt` resubmit it with 160M, once."""
    pipefile(tmp_path, f"""
        rule dtbig:
            output: "big.txt"
            retries: 1
            resources: mem = "80M" * attempt
            shell: {HOG}; echo done > {{output}}
        """)
    ok(tmp_path, "--executor", "slurm", "--detach", env=slurm_cluster.env)
    wait_final(slurm_cluster, tmp_path, 1)
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    c = ok(tmp_path, "--executor", "slurm", env=env, timeout=300)
    made = sbatch_calls(calls)
    assert len(made) == 1 and "--mem=160M" in made[0], made
    said = "OUT_OF_MEMORY" if slurm_cluster.memory_mode == "cgroup" else "FAILED"
    assert "dtbig failed: Slurm job" in c.err and said in c.err, c.err
    assert (tmp_path / "big.txt").read_text() == "done\n"
    assert c.jobs()["dtbig"]["attempts"] == 2


def test_python_bodies_wait_for_their_inputs_too(slurm_cluster, tmp_path):
    """A python: body's job, submitted before its input exists, plans it on the node when its
    dependency has completed."""
    pipefile(tmp_path, """
        rule dtupper:
            input: "again.txt"
            output: "upper.txt"
            python:
                with open(input[0]) as f, open(output[0], "w") as g:
                    g.write(f.read().upper())

        rule dtmake:
            output: "low.txt"
            shell: sleep 2; echo hello > {output}

        rule dtagain:
            input: "low.txt"
            output: "again.txt"
            python:
                with open(input[0]) as f, open(output[0], "w") as g:
                    g.write(f.read() + "again\\n")
        """)
    r = ok(tmp_path, "--executor", "slurm", "--detach", env=slurm_cluster.env)
    assert "detached: 3 job(s) submitted" in r.err, r.err
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    c = ok(tmp_path, "--executor", "slurm", env=env, timeout=300)
    assert sbatch_calls(calls) == [] and c.err.count("adopted Slurm job") == 3, c.err
    assert (tmp_path / "upper.txt").read_text() == "HELLO\nAGAIN\n"


def test_packed_jobs_in_a_detached_run_wait_for_their_pack_and_are_collected(slurm_cluster, tmp_path):
    """Packs (group:) and --detach: a job that needs packed jobs waits for their pack (Slurm knows
    no "ID+I"), --status reads a packed job's state as its pack's, a later run collects them all."""
    pipefile(tmp_path, """
        rule all:
            input: "sum.txt"

        rule sum:
            output: "sum.txt"
            input: expand("p/{i}.txt", i=range(4))
            shell: cat {input} > {output}

        rule part:
            output: "p/{i}.txt"
            group: "parts"
            shell: sleep 2; echo {wildcards.i} > {output}
    """)
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    r = ok(tmp_path, "--executor", "slurm", "--detach", env=env)
    made = sbatch_calls(calls)
    assert len(made) == 2 and any("--dependency=afterok:" in c for c in made), (made, r.err)
    st = ok(tmp_path, "--status", env=slurm_cluster.env)
    assert "Traceback" not in st.err and st.out.count(": detached, ") == 5, st.out + st.err
    c = ok(tmp_path, "--executor", "slurm", env=slurm_cluster.env, timeout=300)
    assert (tmp_path / "sum.txt").read_text() == "0\n1\n2\n3\n", c.err
    assert ok(tmp_path, "--executor", "slurm", env=slurm_cluster.env).ran == set()
