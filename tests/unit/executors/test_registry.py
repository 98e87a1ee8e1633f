"""A third executor is a class and one registry line: registered at run time, the runner, the
scheduler, the store, crash recovery and the command line use it through the Executor
interface, with no change to run.py, schedule.py, state.py or cli.py (issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyrule import Workflow, executors
from pyrule.errors import UsageError
from pyrule.executors.base import Executor, JobResult, JobSpec, read_report, resolve
from pyrule.state import State


class PopenExecutor(Executor):
    """Shell jobs through subprocess, as a plugin might write it: its own budget (`slots`, -j N,
    default 1) of which a job takes one whatever its cores, and its own records in the store."""

    BASE = -(1 << 61)  # its records: BASE - pid, a range of negative numbers apart from Slurm's ids
    unstarted = BASE
    record_now = True
    log: list[tuple] = []  # what the runner asked (recovery has no instance: class-wide)

    def __init__(self, tag: str = "none") -> None:
        self.tag = tag
        self.procs: dict[str, tuple[subprocess.Popen, JobSpec, float]] = {}
        self.most = 0  # jobs running at once, at most

    @classmethod
    def budgets(cls, jobs: int | None, mem: int | None) -> dict[str, float]:
        return {"slots": jobs or 1}

    @classmethod
    def needs(cls, job) -> dict[str, float]:
        return {"slots": 1}

    def prepare(self, spec: JobSpec, job, pipefile: str | None, overrides: list[str]) -> None:
        spec.env = {**spec.env, "THIRD": f"{self.tag}:{job.outputs[0]}:{','.join(overrides)}"}

    @classmethod
    def recorded(cls, handle: int) -> int:
        return cls.BASE - handle

    @classmethod
    def owns(cls, record: int) -> bool:
        return cls.BASE - (1 << 40) < record <= cls.BASE

    @classmethod
    def describe(cls, job) -> str:
        return f"popen job {cls.BASE - job.pgid}"

    @classmethod
    def stop_leftover(cls, job, warn, log) -> None:
        cls.log.append(("stop_leftover", job.name, cls.BASE - job.pgid))
        warn(f"popen: {job.name} left by a pyrule that died")

    def start(self, spec: JobSpec) -> int:
        assert spec.shell is not None, "shell jobs only"
        for d in spec.output_dirs:
            os.makedirs(resolve(spec.workdir, d), exist_ok=True)
        log = resolve(spec.workdir, spec.log_path)
        os.makedirs(os.path.dirname(log), exist_ok=True)
        env = {**os.environ, **spec.env}
        if spec.report_path:
            env["PYRULE_REPORT"] = resolve(spec.workdir, spec.report_path)
        with open(log, "ab") as f:
            p = subprocess.Popen(["bash", "-euo", "pipefail", "-c", spec.shell], cwd=spec.workdir, env=env,
                                 stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[spec.name] = (p, spec, time.time())
        self.most = max(self.most, len(self.procs))
        self.log.append(("start", spec.name))
        return p.pid

    def wait(self, timeout: float | None) -> list[JobResult]:
        # Each running job is on record, as this executor encodes it, durably (record_now).
        state = State(".pyrule", readonly=True)
        try:
            records = {r.name: r.pgid for r in state.running()}
        finally:
            state.close()
        for name, (p, _, _) in self.procs.items():
            assert records[name] == self.recorded(p.pid), (name, records)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            done = []
            for name, (p, spec, start) in list(self.procs.items()):
                if p.poll() is not None:
                    del self.procs[name]
                    end = time.time()
                    reported = read_report(resolve(spec.workdir, spec.report_path)) if spec.report_path else {}
                    done.append(JobResult(name, p.returncode, start, end, end - start, 0.0, 0, reported, p.pid))
            if done or (deadline is not None and time.monotonic() >= deadline):
                return done
            time.sleep(0.01)

    def running(self) -> list[int]:
        return [p.pid for p, _, _ in self.procs.values()]

    def terminate_all(self, grace: float = 5.0) -> None:
        self.kill_all()

    def kill_all(self) -> None:
        for p, _, _ in self.procs.values():
            p.kill()
            p.wait()

    def close(self) -> None:
        self.log.append(("close", self.most))


@pytest.fixture
def popen():
    executors.register("popen", PopenExecutor, options={"tag": "a word the jobs see"}, jobs="slots (default 1)")
    PopenExecutor.log = []
    try:
        yield PopenExecutor
    finally:
        executors.unregister("popen")


def workflow(d: Path, cores: int = 64) -> Workflow:
    wf = Workflow(d)
    # 64 cores: more than this machine has, so the local budgets would refuse it; one slot here.
    wf.rule("part", output="parts/{i}.txt", resources={"cores": cores},
            shell='sleep 0.2; echo "${{THIRD-}}" > {output}; printf "n\\t{wildcards.i}\\n" >> "$PYRULE_REPORT"')
    wf.rule("all", output="all.txt", input=[f"parts/{i}.txt" for i in range(3)], shell="cat {input} > {output}")
    return wf


def test_a_registered_executor_runs_a_workflow_through_the_interface(tmp_path: Path, popen):
    result = workflow(tmp_path).run(["all.txt"], executor="popen", executor_options={"tag": "t"},
                                    overrides=["N=1"])
    assert result.ok, {n: o.reason for n, o in result.outcomes.items()}
    # prepare() ran before each start: the job saw what it put in the spec.
    assert (tmp_path / "all.txt").read_text() == "".join(f"t:parts/{i}.txt:N=1\n" for i in range(3))
    assert result.outcomes["part[i=2]"].reported == {"n": "2"}
    # Its budget (one slot, the default) and needs, not cores: one job at a time.
    assert [e for e in popen.log if e[0] == "close"] == [("close", 1)]
    assert sorted(e[1] for e in popen.log if e[0] == "start") == ["all", *(f"part[i={i}]" for i in range(3))]
    (tmp_path / "all.txt").unlink()
    for i in range(3):
        (tmp_path / f"parts/{i}.txt").unlink()
    popen.log.clear()
    assert workflow(tmp_path).run(["all.txt"], executor="popen", jobs=3).ok  # -j 3: three slots
    assert [e for e in popen.log if e[0] == "close"] == [("close", 3)]


def test_crash_recovery_asks_the_executor_that_recorded_the_job(tmp_path: Path, popen):
    """A job a dead pyrule left marked running, recorded the way the third executor records it:
    the next run (with any executor) has that executor stop it, then removes its outputs."""
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts/1.txt").write_text("half")
    code = ("import sys; from pyrule.state import State; from pyrule.procinfo import start_time\n"
            "s = State('.pyrule'); s.mark_running([('part[i=1]', int(sys.argv[1]), ['parts/1.txt'])], 'r1', "
            "start_time()); s.close()")
    subprocess.run([sys.executable, "-c", code, str(PopenExecutor.recorded(4242))], cwd=tmp_path, check=True,
                   timeout=60)
    result = workflow(tmp_path, cores=1).run(["parts/1.txt"])  # the local executor runs the rebuild
    assert result.ok and result.outcomes["part[i=1]"].status == "ran"
    assert popen.log == [("stop_leftover", "part[i=1]", 4242)]
    assert (tmp_path / "parts/1.txt").read_text() == "\n"  # rebuilt locally, without $THIRD


def test_the_command_line_offers_a_registered_executor(tmp_path: Path, popen, monkeypatch):
    from pyrule.cli import build_parser, check_options, executor_options, main, parse_args

    assert "; with --executor popen: slots (default 1)" in " ".join(build_parser().format_help().split())
    args = parse_args(["--executor", "popen", "--popen-t", "x"])  # abbreviated, as any long option
    assert (args.executor, executor_options(args)) == ("popen", {"tag": "x"})
    with pytest.raises(UsageError, match="--popen-tag x: only with --executor popen"):
        check_options(build_parser().parse_args(["--popen-tag", "x"]))
    (tmp_path / "Pipefile").write_text('V ?= 1\nrule a:\n    output: "a.txt"\n    shell: echo "$THIRD" > {output}\n')
    monkeypatch.chdir(tmp_path)  # main() changes to the project directory: back after the test
    assert main(["-q", "--executor", "popen", "--popen-tag", "cli", "V=2"]) == 0
    assert (tmp_path / "a.txt").read_text() == "cli:a.txt:V=2\n"


def test_an_unknown_executor_is_refused(tmp_path: Path, popen):
    with pytest.raises(UsageError, match="--executor popn: no such executor") as e:
        workflow(tmp_path).run(["all.txt"], executor="popn")
    assert e.value.hint == "did you mean 'popen'?"
    assert not (tmp_path / "parts").exists()


def test_the_stores_records_tell_whose_job_it_was(popen):
    """One integer per running job (state.py's pgid): a local process group (>= 0), a Slurm id
    (-id; UNSUBMITTED before sbatch answered), or the third executor's range within Slurm's
    negative numbers (the later registered is asked first)."""
    from pyrule.executors.local import LocalExecutor
    from pyrule.executors.slurm import UNSUBMITTED, SlurmExecutor
    from pyrule.state import RunningJob

    def running(record: int) -> RunningJob:
        return RunningJob("j", "r1", 1, 0.0, record, [], 0.0)

    assert executors.owner(0) is LocalExecutor and executors.owner(4242) is LocalExecutor
    assert SlurmExecutor.recorded(77) == -77 and SlurmExecutor.unstarted == UNSUBMITTED
    assert executors.owner(-77) is SlurmExecutor and executors.owner(UNSUBMITTED) is SlurmExecutor
    assert executors.owner(PopenExecutor.recorded(77)) is PopenExecutor
    assert [SlurmExecutor.describe(running(r)) for r in (-77, UNSUBMITTED)] == [
        "Slurm job 77", "Slurm job not submitted yet"]
    assert LocalExecutor.describe(running(4242)) == "job pid 4242"
    assert executors.known("slurm") is SlurmExecutor and executors.known("gone") is LocalExecutor


def test_the_registry_imports_on_first_use_and_says_what_it_cannot(popen):
    executors.register("broken", "pyrule.executors.nonesuch:Nope")
    try:
        with pytest.raises(UsageError, match="--executor broken is not available in this version of pyrule") as e:
            executors.get("broken")
        assert e.value.hint == "run without --executor, or update pyrule"
        # Asked first (registered last), unavailable: skipped, not the end of the search.
        from pyrule.executors.slurm import SlurmExecutor

        assert executors.owner(-77) is SlurmExecutor
    finally:
        executors.unregister("broken")
    saved = dict(executors.EXECUTORS)
    try:
        executors.unregister("slurm")  # a record that no executor here claims: the default's
        assert executors.owner(-77).__name__ == "LocalExecutor"
    finally:
        executors.EXECUTORS.clear()
        executors.EXECUTORS.update(saved)
    with pytest.raises(UsageError) as e:
        executors.check("zzz")
    assert e.value.hint == "executors are local, slurm, popen"
    executors.unregister("popen")
    executors.unregister("popen")  # twice: no error
    assert executors.names() == ["local", "slurm"]
    from pyrule.executors import JobSpec, LocalExecutor

    assert (JobSpec.__module__, LocalExecutor.__module__) == ("pyrule.executors.base", "pyrule.executors.local")
    with pytest.raises(AttributeError, match="has no attribute 'SlurmExecutor'"):
        executors.SlurmExecutor  # noqa: B018 - only the interface and the default are exported
