"""A job's wildcards (graph.Wildcards): read as the dict they were before (issue 23 made them a
compact mapping, the names shared by a rule's jobs), wherever pyrule and its users read them."""

from __future__ import annotations

import json
import pickle

from pyrule.graph import Wildcards
from pyrule.load import load
from pyrule.paths import Namespace
from pyrule.plan import plan


def test_one_and_several_wildcards_read_as_a_dict():
    one = Wildcards(("i",), "7")
    two = Wildcards(("a", "b"), ("x", "yy"))
    for w, d in ((one, {"i": "7"}), (two, {"a": "x", "b": "yy"})):
        assert w == d and d == w and not (w != d)
        assert dict(w) == d and {**w} == d and Namespace(w) == d
        assert list(w) == list(d) and len(w) == len(d) and list(w.keys()) == list(d)
        assert list(w.items()) == list(d.items()) and list(w.values()) == list(d.values())
        assert all(k in w and w[k] == v and w.get(k) == v for k, v in d.items())
        assert "z" not in w and w.get("z") is None and w.get("z", "-") == "-"
        assert repr(w) == repr(d) and w.copy() == d
        assert pickle.loads(pickle.dumps(w)) == d
    assert "{a}-{b}".format_map(two) == "x-yy"
    assert Wildcards((), ()) == {} and not Wildcards((), ())
    assert Wildcards(("i",), "7") != {"i": "8"} and Wildcards(("i",), "7") != {"j": "7"}


def test_a_missing_name_is_a_key_error():
    for w in (Wildcards(("i",), "7"), Wildcards(("a", "b"), ("x", "y")), Wildcards((), ())):
        try:
            w["z"]
        except KeyError as e:
            assert e.args == ("z",)
        else:
            raise AssertionError("no KeyError")


def test_planned_jobs_share_their_rules_names_and_read_as_before(project):
    project.pipefile("""
        rule all:
            input: expand("out/{a}-{b}.txt", a=["x", "y"], b=["1"]), "one/5.txt"

        rule pair:
            output: "out/{a}-{b}.txt"
            shell: echo {wildcards.a} > {output}

        rule one:
            output: "one/{i}.txt"
            shell: echo {wildcards.i} > {output}
    """)
    graph = plan(load("Pipefile"), [])
    by_name = {j.name: j for j in graph.jobs}
    x, y, one = by_name["pair[a=x,b=1]"], by_name["pair[a=y,b=1]"], by_name["one[i=5]"]
    assert x.wildcards == {"a": "x", "b": "1"} and y.wildcards == {"a": "y", "b": "1"}
    assert one.wildcards == {"i": "5"} and by_name["all"].wildcards == {}
    assert x.wildcards._names is y.wildcards._names  # one names tuple for the rule's jobs
    assert json.loads(json.dumps(dict(x.wildcards))) == {"a": "x", "b": "1"}
    assert graph.to_networkx().nodes["one[i=5]"]["wildcards"] == {"i": "5"}
