"""run.log: every decision of a run, one timestamped line each.

Lines are kept in memory until the run turns out to have work (`keep()`): a run with nothing to
do leaves no run directory behind, so a no-op costs no writes and `--stats` shows the last run
that did something.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import TextIO


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


class RunLog:
    def __init__(self, run_dir: str):
        self.run_dir = run_dir
        self.f: TextIO | None = None
        self.pending: list[tuple[float, str]] = []
        self.error: OSError | None = None  # the log could not be written (full disk...): the run goes on

    def write(self, line: str) -> None:
        if self.f is None:
            if self.error is None:
                self.pending.append((time.time(), line))
        else:
            try:
                self.f.write(f"{_stamp(time.time())} {line}\n")
            except OSError as e:
                self._failed(e)

    def _failed(self, e: OSError) -> None:
        self.error = self.error or e
        f, self.f = self.f, None
        self.pending = []
        if f is not None:
            try:
                f.close()
            except OSError:
                pass

    def keep(self) -> None:
        """Create the run directory and write everything logged so far."""
        if self.f is not None:
            return
        if self.error is not None:
            return
        try:
            os.makedirs(self.run_dir, exist_ok=True)
            self.f = open(os.path.join(self.run_dir, "run.log"), "a", encoding="utf-8", errors="backslashreplace",
                          buffering=1 << 16)
            self.f.writelines(f"{_stamp(t)} {line}\n" for t, line in self.pending)
        except OSError as e:
            self._failed(e)
        self.pending = []

    @property
    def kept(self) -> bool:
        return self.f is not None

    def flush(self) -> None:
        if self.f is not None:
            try:
                self.f.flush()
            except OSError as e:
                self._failed(e)

    def close(self) -> None:
        if self.f is not None:
            try:
                self.f.close()
            except OSError as e:
                self.f = None
                self._failed(e)
