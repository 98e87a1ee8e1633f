"""Unit tests of temp() clean-up (outputs.Temps), on real files in a temporary directory: a
temp() output is removed once every job of the run that reads it is done, and not before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyrule.graph import Job
from pyrule.outputs import Temps
from pyrule.rules import Rule, temp


def job(name: str, *deps: Job, tmp: bool = False) -> Job:
    out = f"{name}.txt"
    rule = Rule(name, outputs=[("", temp(out) if tmp else out)], shell="true")
    return Job(rule, {}, name, [out], [d.outputs[0] for d in deps], None, {}, {}, deps=list(deps))


@pytest.fixture
def graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """t (temp) read by a and b; k (kept) read by a."""
    monkeypatch.chdir(tmp_path)
    t, k = job("t", tmp=True), job("k")
    a, b = job("a", t, k), job("b", t)
    for j in (t, k):
        Path(j.outputs[0]).write_text("x")
    return t, k, a, b


def consumers_of(*jobs: Job):
    asked: list[int] = []

    def consumers() -> dict[Job, list[Job]]:
        asked.append(1)
        out: dict[Job, list[Job]] = {j: [] for j in jobs}
        for j in jobs:
            for d in j.deps:
                out[d].append(j)
        return out

    return consumers, asked


def test_a_temp_output_goes_once_its_last_consumer_is_done(graph):
    t, k, a, b = graph
    consumers, asked = consumers_of(t, k, a, b)
    removed: list[str] = []
    temps = Temps(consumers, removed.append)
    assert asked == []  # asked only when a job is done
    done = {a}
    temps.drop(a, done.__contains__)
    assert os.path.exists("t.txt") and removed == []  # b still reads it
    done.add(b)
    temps.drop(b, done.__contains__)
    assert not os.path.exists("t.txt") and removed == ["t.txt"]
    assert os.path.exists("k.txt")  # not temp(): kept
    assert asked == [1]  # the graph's consumers, asked once


def test_a_temp_output_already_gone_is_not_said_removed(graph):
    t, k, a, b = graph
    os.remove("t.txt")
    removed: list[str] = []
    Temps(consumers_of(t, k, a, b)[0], removed.append).drop(b, {a, b}.__contains__)
    assert removed == []
