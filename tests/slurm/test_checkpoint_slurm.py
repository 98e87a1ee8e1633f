"""Checkpoints with `--executor slurm`: the checkpoint runs on the cluster, pyrule re-plans its
dependents in the same invocation and submits them (real single-node cluster, fixture slurm_cluster)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_executor import pyrule

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # over 5 s on a loaded 2-core machine
def test_split_process_merge_on_slurm(slurm_cluster, tmp_path):
    work = tmp_path / "spm"
    shutil.copytree(REPO / "examples" / "split-process-merge", work, ignore=shutil.ignore_patterns(".pyrule"))
    p = pyrule(slurm_cluster, work, "--executor", "slurm", "-j", "4", timeout=180)
    assert p.returncode == 0, p.stderr
    expected = (work / "input.txt").read_text().upper()
    assert (work / "merged.txt").read_text() == expected
    stats = sorted((work / ".pyrule" / "runs").glob("*/stats.json"))[-1]
    ran = sorted(j["job"] for j in json.loads(stats.read_text())["jobs"] if j["status"] == "ran")
    assert ran == ["merge", "process[part=part.000]", "process[part=part.001]", "process[part=part.002]", "split"]
    # The second run plans the full graph at once and submits nothing.
    p = pyrule(slurm_cluster, work, "--executor", "slurm", "-n")
    assert "nothing to do" in p.stdout, p.stdout + p.stderr
