"""Run a pack of jobs in one Slurm allocation (standard library only: pyrule's Slurm executor
copies this file to `.pyrule/slurm/pyrule_pack.py`, and a pack's script execs it on the node).

usage: python pyrule_pack.py PACK.json

PACK.json: {"cores": C, "mem_mb": M or null, "shell": "/bin/bash",
            "jobs": [{"name", "script", "log", "usage", "cores", "mem_mb"}, ...]}

Each job runs its own job script (the one it would run alone: it execs pyrule_measure.py, which
writes the job's own start, end, exit code, CPU time and peak memory to its usage file), its
output appended to its log, as many at once as the allocation's cores and memory allow, in the
pack's order. A job that fails fails only itself: the others go on. A job whose script ended
without a usage file (it could not cd to the project, no Python) gets one written here with its
exit status. SIGTERM/SIGINT/SIGHUP (scancel, the time limit) are passed to the running jobs and
no further job starts. Exits 0 once every job it started has ended (each job's own exit code is
in its usage file); 2 if PACK.json cannot be read.
"""

import json
import os
import signal
import subprocess
import sys
import time


def write(path, data):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def fits(job, free_cores, free_mem):
    return job["cores"] <= free_cores and (free_mem is None or (job.get("mem_mb") or 0) <= free_mem)


def main():
    try:
        with open(sys.argv[1]) as f:
            pack = json.load(f)
    except (IndexError, OSError, ValueError) as e:
        print(f"pyrule: cannot read the pack: {e}", file=sys.stderr)
        return 2
    free_cores, free_mem = pack["cores"], pack.get("mem_mb")
    waiting = list(pack["jobs"])
    running: dict = {}  # pid -> (job, Popen, start)
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)
        for _job, proc, _start in running.values():
            try:
                proc.send_signal(signum)
            except OSError:
                pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    while waiting or running:
        # start what fits, in order; with nothing running, the first starts whatever it needs
        for job in list(waiting):
            if stopping:
                break
            if not (fits(job, free_cores, free_mem) or not running):
                continue
            waiting.remove(job)
            try:
                os.unlink(job["usage"])
            except OSError:
                pass
            with open(job["log"], "ab") as log:
                proc = subprocess.Popen([pack.get("shell", "/bin/bash"), job["script"]], stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT)
            running[proc.pid] = (job, proc, time.time())
            free_cores -= job["cores"]
            if free_mem is not None:
                free_mem -= job.get("mem_mb") or 0
        if not running:
            break
        try:
            pid, status = os.wait()
        except InterruptedError:
            continue
        except ChildProcessError:
            break
        if pid not in running:
            continue
        job, proc, start = running.pop(pid)
        proc.returncode = os.waitstatus_to_exitcode(status)
        free_cores += job["cores"]
        if free_mem is not None:
            free_mem += job.get("mem_mb") or 0
        if not os.path.exists(job["usage"]):  # the script ended before its measuring wrapper ran
            end = time.time()
            write(job["usage"], {"exit_code": proc.returncode, "start": start, "end": end, "wall_s": end - start,
                                 "cpu_s": 0.0, "peak_rss_bytes": 0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
