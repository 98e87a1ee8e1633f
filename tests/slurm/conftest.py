"""Pytest fixture that brings up a REAL single-node Slurm cluster (tests/slurm/cluster.sh).

``slurm_cluster`` (session scope) starts the cluster once per test session and stops it at
the end -- but only if this session started it: a cluster that was already running (started
by hand with ``tests/slurm/cluster.sh start`` or by another session) is reused and left
running.

Environment variables:
  PYRULE_SLURM_INSTALL=1 (or CI=true)  apt-get install Slurm if ``sbatch`` is missing.
  PYRULE_SLURM_REQUIRED=1 (or CI=true) fail instead of skip when Slurm cannot be installed or
                                       started (so CI never hides a broken setup).
  PYRULE_SLURM_DIR                     state directory (default /tmp/pyrule-slurm).
  PYRULE_SLURM_MEMORY                  auto|cgroup|poll, see cluster.sh.

The cluster needs root (slurmctld/slurmd run as root with SlurmUser=root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CLUSTER_SH = Path(__file__).resolve().parent / "cluster.sh"
DEFAULT_STATE_DIR = "/tmp/pyrule-slurm"

# Job states after which a job will not change any more (squeue %T / scontrol JobState).
TERMINAL_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "OUT_OF_MEMORY",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
    }
)

_problems: list[str] = []  # shown in the terminal summary (skip reasons are hidden by -q)


def pytest_terminal_summary(terminalreporter):
    for msg in _problems:
        terminalreporter.write_line(f"SLURM TEST CLUSTER: {msg}", yellow=True, bold=True)


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _unavailable(reason: str):
    _problems.append(reason)
    if _truthy("PYRULE_SLURM_REQUIRED") or _truthy("CI"):
        pytest.fail(f"Slurm test cluster required but unavailable: {reason}", pytrace=False)
    pytest.skip(f"Slurm test cluster unavailable: {reason}")


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass
class SlurmCluster:
    """Handle on the running test cluster."""

    state_dir: Path
    slurm_conf: Path  # value for SLURM_CONF
    env: dict = field(repr=False)  # os.environ + SLURM_CONF: pass as env= to subprocess
    memory_mode: str  # "cgroup" (over-memory -> OUT_OF_MEMORY) or "poll" (-> FAILED 0:9)
    started_here: bool  # True if this session started it (and will stop it)

    def run(self, *args: str, cwd=None, check: bool = True, timeout: float = 30):
        """Run a Slurm client command with SLURM_CONF set; returns CompletedProcess."""
        proc = subprocess.run(list(args), cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def sbatch(self, *args: str, cwd) -> str:
        """``sbatch --parsable ARGS`` in cwd; returns the job id (stdout is "ID" or "ID;cluster")."""
        out = self.run("sbatch", "--parsable", *args, cwd=cwd).stdout.strip()
        return out.split(";")[0]

    def states(self, job_ids) -> dict[str, str]:
        """One squeue call for many jobs: {job_id: STATE}.  Finished jobs are included
        for MinJobAge (300 s); unknown ids are simply missing."""
        ids = ",".join(job_ids)
        out = self.run("squeue", "-h", "-t", "all", "-j", ids, "-o", "%i|%T", check=False).stdout
        result = {}
        for line in out.splitlines():
            jid, _, state = line.strip().partition("|")
            if jid:
                result[jid] = state
        return result

    def wait(self, job_ids, timeout: float = 60, poll: float = 0.2) -> dict[str, str]:
        """Poll squeue until every job is in a terminal state; returns {job_id: STATE}."""
        job_ids = [job_ids] if isinstance(job_ids, str) else list(job_ids)
        deadline = time.monotonic() + timeout
        while True:
            states = self.states(job_ids)
            if all(states.get(j) in TERMINAL_STATES for j in job_ids):
                return states
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs not finished after {timeout} s: {states}")
            time.sleep(poll)

    def wait_state(self, job_id: str, wanted: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.states([job_id]).get(job_id) != wanted:
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} not {wanted} after {timeout} s")
            time.sleep(0.1)

    def show_job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job -o ID`` parsed into {Key: value}."""
        out = self.run("scontrol", "-o", "show", "job", job_id).stdout
        info = {}
        for token in out.split():
            key, sep, value = token.partition("=")
            if sep and key not in info:
                info[key] = value
        return info

    def sacct(self, job_ids, fields=("jobid", "state", "exitcode", "elapsed")) -> dict[str, dict]:
        """``sacct -c`` (job completion log, no slurmdbd): {job_id: {field: value}}.
        The log line is written when the job ends, so a just-finished job may lag briefly."""
        job_ids = [job_ids] if isinstance(job_ids, str) else list(job_ids)
        out = self.run("sacct", "-c", "-n", "--parsable2", "-j", ",".join(job_ids), "-o", ",".join(fields)).stdout
        result = {}
        for line in out.splitlines():
            row = dict(zip(fields, line.split("|")))
            result[row[fields[0]]] = row
        return result


@pytest.fixture(scope="session")
def slurm_cluster():
    bash = shutil.which("bash") or ("/bin/bash" if os.path.exists("/bin/bash") else None)
    if os.name != "posix" or not bash:
        _unavailable("needs a POSIX system with bash")
    if os.geteuid() != 0:
        _unavailable("needs root (slurmctld/slurmd run as root in the test cluster)")

    env = dict(os.environ)
    env["PATH"] = env.get("PATH", "") + ":/usr/sbin:/sbin"
    state_dir = Path(env.get("PYRULE_SLURM_DIR") or DEFAULT_STATE_DIR)
    sh = [bash, str(CLUSTER_SH)]

    def have_slurm() -> bool:
        return all(shutil.which(c, path=env["PATH"]) for c in ("sbatch", "slurmctld", "slurmd"))

    if not have_slurm():
        if _truthy("PYRULE_SLURM_INSTALL") or _truthy("CI"):
            proc = subprocess.run([*sh, "install"], env=env, capture_output=True, text=True, timeout=600)
            if proc.returncode != 0 or not have_slurm():
                _unavailable(
                    f"'cluster.sh install' failed (exit {proc.returncode}):\n" + _tail(proc.stdout + proc.stderr)
                )
        else:
            _unavailable(
                "Slurm is not installed (no sbatch/slurmctld/slurmd on PATH); run "
                "'tests/slurm/cluster.sh install' or set PYRULE_SLURM_INSTALL=1"
            )

    status = subprocess.run([*sh, "status", str(state_dir)], env=env, capture_output=True, text=True, timeout=60)
    already_running = status.returncode == 0
    if not already_running:
        proc = subprocess.run([*sh, "start", str(state_dir)], env=env, capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            _unavailable(
                f"'cluster.sh start {state_dir}' failed (exit {proc.returncode}):\n" + _tail(proc.stdout + proc.stderr)
            )

    conf = state_dir / "slurm.conf"
    env["SLURM_CONF"] = str(conf)
    mode_file = state_dir / "memory-mode"
    memory_mode = mode_file.read_text().strip() if mode_file.exists() else "unknown"
    cluster = SlurmCluster(
        state_dir=state_dir,
        slurm_conf=conf,
        env=env,
        memory_mode=memory_mode,
        started_here=not already_running,
    )
    try:
        yield cluster
    finally:
        if cluster.started_here:
            subprocess.run([*sh, "stop", str(state_dir)], env=env, capture_output=True, text=True, timeout=120)
