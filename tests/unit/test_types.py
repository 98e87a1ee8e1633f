"""mypy on pyrule/ (docs/testing.md, "Type checking"): no error, and `@record` classes are checked
like dataclasses (record.py declares the decorator with `dataclass_transform` for checkers)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("mypy", reason="mypy is in the [test] extra")


def _mypy(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    # MYPYPATH: the pyrule beside these tests, not an installed copy elsewhere
    env = dict(os.environ, MYPYPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_pyrule_passes_mypy():
    # The configuration (files, strictness) is pyproject.toml's [tool.mypy]; the cache
    # (.mypy_cache, git-ignored) makes a second run take seconds.
    p = _mypy(cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Success: no issues found" in p.stdout


# Each line marked `# E` must be reported, and no other: a record's constructor is known
# (fields, defaults, default factories), also inside a function without annotations.
_CHECKED = '''
from __future__ import annotations

from pyrule.errors import Location
from pyrule.record import field, record


@record(frozen=True, slots=True)
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)


@record
class Named:
    name: str


def build() -> None:
    Point(1)
    Point(1, 2, ["a"])
    Point(x=1, tags=[])
    Named("n")
    Location("Pipefile", 3, 1)
    Point(1, z=2)  # E
    Point(1, 2, [], 4)  # E
    Point()  # E
    Point("1")  # E
    Named(name=3)  # E
    Location("Pipefile", 3, 1, 2, 5)  # E


def unannotated():
    Named("a", "b")  # E
'''


@pytest.mark.slow
def test_mypy_reports_a_record_built_with_wrong_arguments(tmp_path: Path):
    src = tmp_path / "uses_records.py"
    src.write_text(textwrap.dedent(_CHECKED))
    expected = {i for i, line in enumerate(src.read_text().splitlines(), 1) if line.endswith("# E")}
    p = _mypy("--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache"), str(src),
              cwd=tmp_path)
    reported = {int(m) for m in re.findall(r"^uses_records\.py:(\d+): error:", p.stdout, re.M)}
    assert reported == expected, p.stdout + p.stderr
    assert p.returncode == 1
