"""The suite's own options (tests/conftest.py) on a real pytest run: skipping soak tests must go
by the `soak` marker, not by any name that happens to contain "soak"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _pytest(where: Path, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    env.pop("CI", None)
    env.pop("PYRULE_SOAK", None)
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest",
                        "-o", "markers=soak", *args], cwd=where, env=env, capture_output=True, text=True,
                       timeout=120)
    return p.stdout.splitlines()[-1]


def test_a_checkout_in_a_directory_named_soak_runs_its_tests(tmp_path: Path):
    where = tmp_path / "soak"  # e.g. a git worktree named after the soak run it is for
    where.mkdir()
    (where / "test_a.py").write_text(
        "import pytest\n\n"
        "def test_plain():\n    pass\n\n"
        "@pytest.mark.soak\ndef test_long():\n    pass\n")
    assert _pytest(where, "test_a.py").startswith("1 passed, 1 skipped")
    assert _pytest(where, "test_a.py", "--soak").startswith("2 passed")
