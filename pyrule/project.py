"""The project: where its Pipefile is, where its directory ends, and where pyrule keeps its own files."""

from __future__ import annotations

import os

STATE_DIR = ".pyrule"  # pyrule's own files (store, locks, logs, runs); no job may write there


def find_pipefile(start: str) -> str | None:
    """./Pipefile, else the nearest Pipefile in a parent directory (like git); `start` is absolute."""
    while True:
        candidate = os.path.join(start, "Pipefile")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(start)
        if parent == start:
            return None
        start = parent


def outside(path: str) -> bool:
    """Whether a path is the project directory itself or reaches out of it."""
    norm = os.path.normpath(path) if path else "."
    return norm in (".", "..") or norm.startswith("../") or os.path.isabs(norm)
