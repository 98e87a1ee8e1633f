"""run.log: every decision of a run, one timestamped line each (buffered, flushed at the end
and whenever the scheduler waits, so a crash loses at most the last moments)."""

from __future__ import annotations

import os
import time


class RunLog:
    def __init__(self, run_dir: str):
        self.f = open(os.path.join(run_dir, "run.log"), "a", encoding="utf-8", buffering=1 << 16)

    def write(self, line: str) -> None:
        t = time.time()
        self.f.write(time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d} {line}\n")

    def close(self) -> None:
        self.f.close()
