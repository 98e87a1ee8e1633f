"""Checkpoints: outputs that decide the rest of the graph, re-planned in the same invocation."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from harness import REPO, pyrule

SPLIT = """
import os

default: merged.txt

checkpoint split:
    output: directory("chunks")
    input:  "input.txt"
    shell:
        mkdir -p {output}
        if [ -s {input} ]; then split -l 2 -d -a 3 {input} {output}/part.; fi
        for f in {output}/part.*; do [ -e "$f" ] && mv "$f" "$f.txt"; done; true

rule process:
    output: "processed/{part}.txt"
    input:  "chunks/{part}.txt"
    shell:  tr a-z A-Z < {input} > {output}; echo {wildcards.part} >> ledger.txt

python:
    def chunks(wildcards):
        d = checkpoints.split.get().output[0]
        return expand("processed/{part}.txt", part=glob_wildcards(os.path.join(d, "{part}.txt")).part)

rule merge:
    output: "merged.txt"
    input:  chunks
    shell:  cat {input} /dev/null > {output}
"""


def ran(stats_dir: Path) -> list[str]:
    latest = sorted(stats_dir.glob("*/stats.json"))[-1]
    return sorted(j["job"] for j in json.loads(latest.read_text())["jobs"] if j["status"] == "ran")


def lines(n: int) -> str:
    return "".join(f"line{i}\n" for i in range(n))


def test_dry_run_shows_what_waits_for_the_checkpoint(project):
    project.pipefile(SPLIT)
    project.write("input.txt", lines(5))
    assert project.dry() == ["split: output chunks missing", "merge: waits for checkpoint split"]


def test_split_process_merge_in_one_invocation(project):
    project.pipefile(SPLIT)
    project.write("input.txt", lines(5))
    rc, out, err = project.run("-j", "2")
    assert rc == 0, err
    assert (project / "merged.txt").read_text() == lines(5).upper()
    assert ran(project / ".pyrule/runs") == ["merge", "process[part=part.000]", "process[part=part.001]",
                                             "process[part=part.002]", "split"]
    # A second run plans the full graph at once and finds it up to date.
    assert project.dry() == []


def test_one_more_chunk_runs_exactly_the_new_and_affected_jobs(project):
    project.pipefile(SPLIT)
    project.write("input.txt", lines(4))
    assert project.run()[0] == 0
    (project / "ledger.txt").unlink()
    project.write("input.txt", lines(5))  # a third chunk appears; the first two are unchanged
    rc, out, err = project.run()
    assert rc == 0, err
    assert ran(project / ".pyrule/runs") == ["merge", "process[part=part.002]", "split"]
    assert (project / "ledger.txt").read_text() == "part.002\n"
    assert (project / "merged.txt").read_text() == lines(5).upper()


def test_removed_chunks_are_orphans_and_delete_orphans_removes_them(project):
    project.pipefile(SPLIT)
    project.write("input.txt", lines(6))
    assert project.run()[0] == 0
    project.write("input.txt", lines(3))  # part.002 vanishes
    rc, out, err = project.run()
    assert rc == 0, err
    assert "orphaned: processed/part.002.txt (made by process[part=part.002]" in err
    assert "--delete-orphans" in err
    assert (project / "processed/part.002.txt").exists()
    rc, out, err = project.run("-n")
    assert "orphaned: processed/part.002.txt" in out
    rc, out, err = project.run("--delete-orphans")
    assert rc == 0, err
    assert not (project / "processed/part.002.txt").exists()
    assert (project / "merged.txt").read_text() == lines(3).upper()


def test_zero_chunks(project):
    project.pipefile(SPLIT)
    project.write("input.txt", "")
    rc, out, err = project.run()
    assert rc == 0, err
    assert (project / "merged.txt").read_text() == ""
    assert ran(project / ".pyrule/runs") == ["merge", "split"]


def test_a_failing_checkpoint_stops_what_depends_on_it(project):
    project.pipefile(SPLIT.replace("mkdir -p {output}", "mkdir -p {output}; exit 3"))
    project.write("input.txt", lines(4))
    rc, out, err = project.run()
    assert rc == 1
    assert "FAILED split" in err
    assert not (project / "chunks").exists()  # partial directory output removed
    assert not (project / "merged.txt").exists()
    jobs = json.loads(sorted((project / ".pyrule/runs").glob("*/stats.json"))[-1].read_text())["jobs"]
    assert {j["job"]: j["status"] for j in jobs}["merge"] == "skipped"


def test_until_and_explicit_targets_through_a_checkpoint(project):
    project.pipefile(SPLIT)
    project.write("input.txt", lines(4))
    rc, out, err = project.run("--until", "split")
    assert rc == 0, err
    assert (project / "chunks").is_dir() and not (project / "processed").exists()
    rc, out, err = project.run("merged.txt")
    assert rc == 0, err
    assert ran(project / ".pyrule/runs") == ["merge", "process[part=part.000]", "process[part=part.001]"]


def test_two_levels_of_checkpoints(project):
    project.pipefile("""
        checkpoint groups:
            output: "groups.txt"
            shell:  printf 'g1\\ng2\\n' > {output}

        checkpoint members:
            output: "members/{group}.txt"
            input:  "groups.txt"
            shell:  printf '{wildcards.group}a\\n{wildcards.group}b\\n' > {output}

        rule item:
            output: "items/{group}/{name}.txt"
            shell:  echo {wildcards.name} > {output}

        python:
            def all_groups(wildcards):
                return [line.strip() for line in open(checkpoints.groups.get().output[0])]

            def items_of_group(wildcards):
                names = open(checkpoints.members.get(group=wildcards.group).output[0]).read().split()
                return expand("items/{group}/{name}.txt", group=wildcards.group, name=names)

            def all_items(wildcards):
                return expand("done/{group}.txt", group=all_groups(wildcards))

        rule group_done:
            output: "done/{group}.txt"
            input:  items_of_group
            shell:  cat {input} > {output}

        rule all:
            output: "all.txt"
            input:  all_items
            shell:  cat {input} > {output}
    """)
    assert project.dry("all.txt") == ["groups: output groups.txt missing", "all: waits for checkpoint groups"]
    rc, out, err = project.run("all.txt", "-j", "2")
    assert rc == 0, err
    assert (project / "all.txt").read_text() == "g1a\ng1b\ng2a\ng2b\n"
    assert project.dry("all.txt") == []


def test_python_api_checkpoint_as_a_decorated_function(tmp_path):
    from pyrule import Workflow, expand

    wf = Workflow(tmp_path)

    @wf.checkpoint(output="n.txt")
    def count(output):
        Path(output[0]).write_text("3")

    def numbered(wildcards):
        n = int(Path(wf.checkpoints.count.get().output[0]).read_text())
        return expand("num/{i}.txt", i=range(n))

    wf.rule("num", output="num/{i}.txt", shell="echo {wildcards.i} > {output}")
    wf.rule("total", output="total.txt", input=numbered, shell="cat {input} > {output}")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = wf.run(["total.txt"], jobs=2)
    finally:
        os.chdir(cwd)
    assert result.ok
    assert (tmp_path / "total.txt").read_text() == "0\n1\n2\n"
    assert result.outcomes["num[i=2]"].status == "ran"


@pytest.mark.parametrize("example", ["split-process-merge", "sample-sheet"])
def test_checkpoint_examples_run(tmp_path, example):
    work = tmp_path / example
    shutil.copytree(REPO / "examples" / example, work, ignore=shutil.ignore_patterns(".pyrule"))
    rc, out, err = pyrule(work)
    assert rc == 0, err
    rc, out, err = pyrule(work, "-n")
    assert "nothing to do" in out


# params: and resources: functions may ask a checkpoint too: such a job waits for it like one
# whose input function does, and its values are computed once the checkpoint has run.
PARAMS_ASK = """
default: merged.txt

checkpoint split:
    output: "n.txt"
    shell:  echo 3 > {output}

python:
    def count(wildcards):
        return open(checkpoints.split.get().output[0]).read().strip()

    def mem(wildcards):
        return int(open(checkpoints.split.get().output[0]).read()) * 10

rule merge:
    output: "merged.txt"
    params: n = count
    resources: tokens = mem
    shell:  echo {params.n} {resources.tokens} > {output}
"""


def test_params_and_resources_functions_that_ask_a_checkpoint(project):
    project.pipefile(PARAMS_ASK)
    assert project.dry() == ["split: output n.txt missing", "merge: waits for checkpoint split"]
    rc, out, err = project.run()
    assert rc == 0, err
    assert (project / "merged.txt").read_text() == "3 30\n"
    assert ran(project / ".pyrule/runs") == ["merge", "split"]
    assert project.dry() == []
    # the value is part of the signature as usual: a new count reruns merge
    project.pipefile(PARAMS_ASK.replace("echo 3", "echo 4"))
    rc, out, err = project.run()
    assert rc == 0, err
    assert (project / "merged.txt").read_text() == "4 40\n"


def test_resources_from_a_checkpoint_over_the_budget_fail_the_job(project):
    project.pipefile(PARAMS_ASK.replace("    params: n = count\n", "").replace("{params.n} ", ""))
    rc, out, err = project.run("--resources", "tokens=5")
    assert rc == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert "merge needs tokens=30 but the budget is 5" in err, err
    assert not (project / "merged.txt").exists()


def test_delete_orphans_keeps_protected_outputs_unless_overwrite_protected(project):
    project.pipefile(SPLIT.replace('output: "processed/{part}.txt"', 'output: protected("processed/{part}.txt")'))
    project.write("input.txt", lines(6))
    assert project.run()[0] == 0
    project.write("input.txt", lines(4))  # part.002 vanishes (the others unchanged): an orphan
    # (the split reruns, and before it a protected output downstream counts as to be rewritten)
    assert project.run("--overwrite-protected")[0] == 0
    orphan = project / "processed/part.002.txt"
    rc, out, err = project.run("--delete-orphans")
    assert rc == 0, err
    assert orphan.exists(), "a protected() output is never deleted without --overwrite-protected"
    assert "kept processed/part.002.txt (made by process[part=part.002], no longer in the graph): it is protected" in err
    assert "--overwrite-protected" in err
    assert "orphaned: processed/part.002.txt" in project.run("-n")[1]  # still reported
    rc, out, err = project.run("--delete-orphans", "--overwrite-protected")
    assert rc == 0, err
    assert not orphan.exists()
