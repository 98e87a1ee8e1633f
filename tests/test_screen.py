"""What the screen says while a run goes on (issue 17): names shown literally, one line per
waiting job, counts that agree, job logs that can be pasted into a shell and start afresh."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from runner_helpers import ok, pipefile, pyrule


def test_job_log_paths_have_no_glob_characters(tmp_path: Path):
    pipefile(tmp_path, """
        build/{name}.o:
            echo compiling {wildcards.name}; exit 1
    """)
    r = pyrule(tmp_path, "build/mul.o")
    assert r.rc == 1, r
    log = ".pyrule/logs/build_name_.o/build_name_.o.name=mul.log"
    assert "FAILED build/{name}.o[name=mul]: exit code 1\n  log: " + f"{log}\n  | compiling mul\n" in r.err, r.err
    assert (tmp_path / log).read_text().endswith("compiling mul\n")
    assert glob.glob(str(tmp_path / log)) == [str(tmp_path / log)]  # the path is its own glob
