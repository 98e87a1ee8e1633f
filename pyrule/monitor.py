"""Per-job measurements of a whole process tree: peak RSS (summed over the tree) and CPU time.

The executor calls `sample()` from its wait loop (no thread), every ~0.2 s for jobs that have
been running that long, so a job shorter than one interval costs nothing here; its numbers then
come from wait4's rusage alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .record import field, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    import psutil


def _psutil():  # noqa: ANN202
    """psutil, imported on the first sample: its import costs ~13 ms, a run of short jobs never needs it."""
    import psutil

    return psutil

# /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN, on in common distro kernels) lists a
# tree in O(tree size). psutil's children(recursive=True) reads /proc/*/stat of every process
# on the machine per call: ~1 ms per job per tick with 80 processes, far more on a busy node.
_HAVE_CHILDREN_FILE = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


@record
class TreeStats:
    peak_rss_bytes: int = 0  # max over samples of the tree's summed RSS
    cpu_s: float = 0.0  # max over samples of the tree's user+sys time
    samples: int = 0
    # Cached: building a psutil.Process costs a /proc read. pids come from the current tree
    # listing, so a cached object always reads the process that is in the tree now.
    procs: dict[int, psutil.Process] = field(default_factory=dict, repr=False)


def _children_from_proc(pid: int) -> list[int]:
    """Direct children of pid (all its threads); [] when it vanished."""
    kids: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                kids.extend(int(k) for k in f.read().split())
        except OSError:
            continue
    return kids


def _ppid_map() -> dict[int, list[int]]:
    """parent pid -> child pids, from one scan of every process (fallback path)."""
    tree: dict[int, list[int]] = {}
    for p in _psutil().process_iter(["ppid"]):
        ppid = p.info["ppid"]
        if ppid is not None:
            tree.setdefault(ppid, []).append(p.pid)
    return tree


class TreeMonitor:
    """Keeps per-job peak tree RSS and CPU time, keyed by the job's root pid."""

    def __init__(self) -> None:
        self._jobs: dict[int, TreeStats] = {}

    def add(self, pid: int) -> None:
        self._jobs[pid] = TreeStats()

    def remove(self, pid: int) -> TreeStats:
        return self._jobs.pop(pid, None) or TreeStats()

    def stats(self, pid: int) -> TreeStats:
        return self._jobs[pid]

    def sample(self, pids: Iterable[int]) -> None:
        """Sample the trees rooted at pids (the roots must not be reaped yet)."""
        roots = [p for p in pids if p in self._jobs]
        if not roots:
            return
        tree = None if _HAVE_CHILDREN_FILE else _ppid_map()
        for root in roots:
            self._sample_one(root, self._jobs[root], tree)

    @staticmethod
    def _descendants(root: int, tree: dict[int, list[int]] | None) -> list[int]:
        found = [root]
        i = 0
        while i < len(found):
            pid = found[i]
            found.extend(_children_from_proc(pid) if tree is None else tree.get(pid, ()))
            i += 1
        return found

    def _sample_one(self, root: int, st: TreeStats, tree: dict[int, list[int]] | None) -> None:
        ps = _psutil()
        vanished = (ps.NoSuchProcess, ps.ZombieProcess, ps.AccessDenied)
        rss = 0
        cpu = 0.0
        alive: dict[int, psutil.Process] = {}
        for pid in self._descendants(root, tree):
            proc = st.procs.get(pid)
            try:
                if proc is None:
                    proc = ps.Process(pid)
                with proc.oneshot():
                    r = proc.memory_info().rss
                    t = proc.cpu_times()
            except vanished:
                continue
            alive[pid] = proc
            rss += r
            # children_* hold the descendants this process already reaped; they are gone
            # from the tree, so counting them here counts nothing twice.
            cpu += t.user + t.system + t.children_user + t.children_system
        st.procs = alive
        st.samples += 1
        st.peak_rss_bytes = max(st.peak_rss_bytes, rss)
        st.cpu_s = max(st.cpu_s, cpu)
