"""The package as pip builds it: a wheel with the code's version and the grammar inside. (A moved
`__version__` once made `pip install` fail while every other test passed.)"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from harness import REPO

from pyrule.version import __version__


@pytest.mark.slow
def test_the_wheel_has_the_codes_version_and_the_grammar(tmp_path: Path):
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-q", "-w",
                        str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    wheels = list(tmp_path.glob("pyrule-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as whl:
        names = set(whl.namelist())
        metadata = whl.read(f"pyrule-{__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {__version__}\n" in metadata
    assert {"pyrule/version.py", "pyrule/grammar/pipefile.lark", "pyrule/cli.py"} <= names
