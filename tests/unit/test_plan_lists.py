"""A rule's long input list (an expand() of thousands, a gather's): normalised and checked as
path by path (issue 23, W4a: planning tests such a list at once, at C speed, and goes path by
path only when the list holds a path to normalise or refuse)."""

from __future__ import annotations

import os

import pytest

from pyrule.errors import PipefileError
from pyrule.load import load
from pyrule.plan import normpath, plan

GATHER = 'rule all:\n    input: "in/0.txt"\n    shell: x\n'  # (its inputs set below: paths no Pipefile could hold)


def gather(project, paths):
    project.pipefile(GATHER)
    for p in paths:
        if not p.endswith("/"):
            project.touch(normpath(p))
    rules = load("Pipefile")
    rules.rules["all"].inputs = [(None, paths)]
    return plan(rules, ["all"]).jobs[-1]


def test_a_clean_list_is_kept_as_it_is(project):
    paths = [f"in/{i}.txt" for i in range(50)]
    job = gather(project, paths)
    assert list(job.inputs) == paths and all(a is b for a, b in zip(job.inputs, paths))


@pytest.mark.parametrize("odd", ["./in/x.txt", "in//x.txt", "in/./x.txt", "in/sub/../x.txt", "in/.hidden", "in/d/"])
@pytest.mark.parametrize("where", [0, 25, 49])
def test_a_list_with_a_path_to_normalise_is_normalised_path_by_path(project, odd, where):
    os.makedirs(project / "in/d", exist_ok=True)
    paths = [f"in/{i}.txt" for i in range(49)]
    paths.insert(where, odd)
    job = gather(project, paths)
    assert list(job.inputs) == [normpath(p) for p in paths]
    assert all(a is b for i, (a, b) in enumerate(zip(job.inputs, paths)) if i != where)


def refused(project, bad, where):
    paths = [f"in/{i}.txt" for i in range(49)]
    paths.insert(where, bad)
    project.pipefile(GATHER)
    for p in paths:
        if p is not bad:
            project.touch(p)
    rules = load("Pipefile")
    rules.rules["all"].inputs = [(None, paths)]
    with pytest.raises(PipefileError) as info:
        plan(rules, ["all"])
    return info.value.message


@pytest.mark.parametrize("where", [0, 25, 49])
def test_a_nul_or_a_name_not_utf8_anywhere_in_a_long_list_is_refused(project, where):
    assert refused(project, "in/a\0b.txt", where) == "rule 'all': the input 'in/a\\x00b.txt' contains a NUL character"
    bad = os.fsdecode(b"in/\xff.txt")
    assert refused(project, bad, where) == "rule 'all': the input 'in/\\xff.txt' is not a UTF-8 file name"


def test_non_ascii_utf8_names_in_a_long_list_are_fine(project):
    paths = [f"in/{i}-é.txt" for i in range(50)]
    assert list(gather(project, paths).inputs) == paths
