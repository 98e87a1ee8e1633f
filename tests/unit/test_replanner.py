"""Unit tests of what the stages after planning may ask of the planner (graph.Replanner, which
plan.Planner is): the stat results, who asked which checkpoint, checkpoint_ran, replan. In-process,
on a real Pipefile planned in a temporary directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyrule.load import load
from pyrule.plan import plan

CHECKPOINT = """\
checkpoint split:
    output: "chunks/list.txt"
    input:  "input.txt"
    shell:  true

python:
    import os

    def chunks(wildcards):
        listed = checkpoints.split.get().output[0]
        names = open(listed).read().split() if os.path.exists(listed) else []
        return expand("processed/{part}.txt", part=names)

rule process:
    output: "processed/{part}.txt"
    input:  "input.txt"
    shell:  true

rule merge:
    output: "merged.txt"
    input:  chunks
    shell:  true
"""


@pytest.fixture
def planned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Pipefile").write_text(CHECKPOINT)
    (tmp_path / "input.txt").write_text("x\n")
    graph = plan(load("Pipefile"), ["merged.txt"])
    assert graph.planner is not None
    return graph


def test_the_graph_names_who_asked_which_checkpoint(planned):
    split, merge = planned.jobs
    assert (split.name, merge.name) == ("split", "merge")
    assert dict(planned.planner.asked) == {split: [merge]}
    assert merge.waits_for is split


def test_the_planners_stat_results_are_the_graphs(planned):
    """The runner goes on with them (one stat() per path per invocation)."""
    stats = planned.planner.stats
    assert "input.txt" in stats and stats.stat("input.txt") is not None


def test_replan_before_the_checkpoint_ran_still_waits(planned):
    split, merge = planned.jobs
    assert planned.planner.replan(merge) == [split, merge]
    assert merge.waits_for is split


def test_checkpoint_ran_answers_get_even_before_its_outputs_are_seen(planned):
    """Once the runner says the checkpoint ran, `checkpoints.split.get()` answers (here with an
    output not there: the input function then finds no names); before, the asker waits."""
    split, merge = planned.jobs
    planned.planner.checkpoint_ran(split)
    assert planned.planner.replan(merge) == [split, merge]  # it still runs after the checkpoint
    assert merge.waits_for is None and merge.inputs == []


def test_replan_after_the_checkpoint_wrote_its_list(planned):
    split, merge = planned.jobs
    os.makedirs("chunks")
    Path("chunks/list.txt").write_text("p1 p2\n")
    planned.planner.checkpoint_ran(split)
    order = planned.planner.replan(merge)
    assert [j.name for j in order] == ["process[part=p1]", "process[part=p2]", "split", "merge"]
    assert merge.inputs == ["processed/p1.txt", "processed/p2.txt"]
