"""pyrule/pyjob.py and its runner pyrule/pyjob_run.py, in process: values go through JSON and come back
equal (and of the same types), a body's top-level names are found and shipped (functions by source,
modules by name), and what cannot be shipped is refused naming the name."""

from __future__ import annotations

import json
import math
import os
from collections import OrderedDict
from pathlib import PurePosixPath

import pytest

from pyrule import Workflow
from pyrule.errors import PipefileError
from pyrule.load import load
from pyrule.paths import Namespace, Paths
from pyrule.plan import plan
from pyrule.pyjob import Unshippable, encode, shared, ship
from pyrule.pyjob_run import decode
from pyrule.substitute import context


def round_trip(value, foreign=False):
    return decode(json.loads(json.dumps(encode(value, foreign))))


@pytest.mark.parametrize("value", [
    None, True, 3, 2.5, "x", [1, [2, "a"]], (1, (2,)), {"a": 1, 2: (3,)}, {1, 2}, frozenset({"a"}),
    Namespace(k=2, name="n"), Paths(["a", "b", "c"], {"first": "a", "rest": Paths(["b", "c"])}),
    OrderedDict(a=1), PurePosixPath("/x/y"), math.inf,
])
def test_values_come_back_equal_and_of_their_type(value):
    back = round_trip(value)
    assert back == value and type(back) is type(value)
    if isinstance(value, Paths):
        assert back.first == "a" and back.rest == ["b", "c"] and type(back.rest) is Paths


def test_a_module_goes_by_its_name_and_nan_comes_back():
    assert round_trip(os) is os
    assert math.isnan(round_trip(float("nan")))


def test_what_needs_pyrule_is_refused_for_a_foreign_python_only():
    from pyrule.builtins import expand

    assert round_trip(expand) is expand  # the same Python with pyrule: a pickle by reference
    with pytest.raises(Unshippable, match="needs pyrule"):
        encode(expand, foreign=True)
    with pytest.raises(Unshippable, match="cannot be pickled"):
        encode(open(os.devnull), foreign=False)


def job_of(project, text, target):
    project.pipefile(text)
    rules = load("Pipefile")
    graph = plan(rules, [target])
    job = next(j for j in graph.jobs if j.outputs and j.outputs[0] == target)
    return job, rules.namespace


def test_a_body_ships_what_it_uses_and_nothing_else(project):
    job, ns = job_of(project, """
        import os
        STEP = 10
        UNUSED = 5
        MESSAGE = "hello"
        python:
            def scaled(x):
                return x * STEP + helper()

            def helper():
                return 1

        rule make:
            output: "{s}.txt"
            params: k = 2
            python:
                f = open(output[0], "w")
                f.write(str(scaled(params.k)) + os.sep)
                shell("echo {MESSAGE} > /dev/null")
    """, "a.txt")
    spec = ship(job, ns, context(job, ns), [], "r.json", foreign=True)
    values = shared(spec)  # in a file the rule's jobs share, encoded once
    assert sorted(values["globals"]) == ["MESSAGE", "STEP", "os"]  # (a {NAME} in a string: for shell())
    assert [(f["name"], f["line"]) for f in values["functions"]] == [("scaled", 7), ("helper", 10)]
    assert spec["source"].startswith("f = open(") and (spec["file"], spec["line"]) == ("Pipefile", 17)
    assert decode(spec["context"]["params"]) == {"k": 2} and decode(spec["context"]["wildcards"]) == {"s": "a"}
    json.dumps(spec)  # JSON all through
    other = next(j for j in plan(load("Pipefile"), ["b.txt"]).jobs if j.outputs[0] == "b.txt")
    assert ship(other, ns, context(other, ns), [], "r.json", True)["shared"] == spec["shared"]  # one file


def test_what_cannot_be_shipped_is_named(project):
    job, ns = job_of(project, """
        python:
            class Box:
                pass
            f = None

        rule make:
            output: "x.txt"
            python:
                with open(output[0], "w") as f:  # assigns `f` itself: the top level's is not needed
                    f.write(str(Box()))
    """, "x.txt")
    ns["f"] = open(os.devnull)  # noqa: SIM115 - a value that does not pickle, assigned by the body
    with pytest.raises(Unshippable, match="top-level name 'Box': the class Box is defined in the Pipefile"):
        ship(job, ns, context(job, ns), [], "r.json", foreign=False)
    ns["f"].close()


def test_a_function_body_of_the_api_has_no_container():
    w = Workflow()
    with pytest.raises(PipefileError, match="container: runs shell:, python: and script: bodies"):
        w.rule("x", output="x", container="img", python=lambda: None)


def test_the_runner_is_python_3_6_and_needs_only_the_standard_library():
    import ast
    import sys

    from pyrule.pyjob import runner_source

    tree = ast.parse(runner_source(), feature_version=(3, 6))
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    modules = {a.name.split(".")[0] for n in top if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module.split(".")[0] for n in top if isinstance(n, ast.ImportFrom) and n.module}
    assert modules <= set(sys.stdlib_module_names), modules  # (pyrule's own: only inside try, below)
    guarded = [n for n in tree.body if isinstance(n, ast.Try)]
    assert guarded and all(isinstance(h.type, ast.Name) and h.type.id == "Exception" for h in guarded[0].handlers)
