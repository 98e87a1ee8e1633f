"""values.py (issue 20, part 1): how a value is stored (JSON, else pickle, content-hashed), a
`python:` body's `return`, the store's table of values, and the Python API's side of values
(`wf.values.NAME.get()` in params, `result.values`), in process with real jobs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pyrule import Workflow
from pyrule.state import State
from pyrule.values import JobValues, Return, Unstorable, body_code, encode, read, write


def test_json_when_it_round_trips_else_pickle():
    a = encode({"b": [1, 2.5, None, True], "a": "x"})
    assert a.kind == "json" and a.data == b'{"a":"x","b":[1,2.5,null,true]}' and a.load() == {"a": "x", "b": [1, 2.5, None, True]}
    assert encode({"a": "x", "b": [1, 2.5, None, True]}).hash == a.hash  # key order does not matter
    assert encode({"a": "x", "b": [1, 2.5, None, False]}).hash != a.hash
    for value in ({1, 2}, (1, 2), {1: "int key"}, [1, (2, 3)], float("nan")):
        stored = encode(value)
        assert stored.kind == "pickle", value
        loaded = stored.load()
        assert loaded == value or (loaded != loaded and value != value)  # (nan)
    assert encode(1).kind == "json" and encode(1.0).load() == 1.0 and isinstance(encode(1.0).load(), float)
    assert encode("x" * 100).short.endswith("…") and len(encode("x" * 100).short) == 40


def test_an_unstorable_value_says_what_to_return():
    with pytest.raises(Unstorable, match="lock.*cannot be stored: it is neither JSON nor picklable.*return plain data"):
        encode(threading.Lock())


def test_written_and_read_back(tmp_path: Path):
    path = str(tmp_path / "v" / "job.val")
    write(path, None)  # no value: nothing written
    assert read(path) is None
    write(path, {"n": 3})
    stored = read(path)
    assert stored is not None and stored == encode({"n": 3})


def run_body(text: str, **names) -> object:
    g = {"__pyrule_return__": Return, **names}
    try:
        exec(body_code(text, "<test>", 1) or compile(text, "<test>", "exec"), g)
    except Return as r:
        return r.value
    return None


def test_a_top_level_return_ends_the_body_with_its_value():
    assert run_body("x = 2\nif x:\n    return x * 3\nraise AssertionError") == 6
    assert run_body("for i in range(5):\n    if i == 3:\n        return i\n") == 3
    assert run_body("return\n") is None
    # A function's and a class's own returns stay theirs; a lambda's too
    assert run_body("def f():\n    return 1\nclass C:\n    def m(self):\n        return 2\n"
                    "g = lambda: 3\nreturn f() + C().m() + g()\n") == 6
    # `except Exception:` in the body does not swallow it
    assert run_body("try:\n    return 'out'\nexcept Exception:\n    pass\nreturn 'caught'\n") == "out"
    # A body without `return` is compiled as before
    assert body_code("y = 1\n", "<test>", 1) is None


def test_a_returning_body_keeps_its_line_numbers():
    code = body_code("x = 1\nreturn 1 / 0\n", "Pipefile", 10)
    with pytest.raises(ZeroDivisionError) as e:
        exec(code, {"__pyrule_return__": Return})
    assert e.traceback[-1].lineno + 1 == 11  # (pytest counts from 0)


def test_a_body_reads_only_what_its_job_read():
    class J:
        name = "use[s=a]"

    values = JobValues(J(), [("estimate", {"s": "a"}, 5), ("other", {}, "x")])
    assert values.estimate.get(s="a") == 5 and values.other.get() == "x"
    assert values.estimate.get() == 5  # the one value of that rule it read
    with pytest.raises(LookupError, match=r"use\[s=a\] did not read the value of estimate\[s=b\].*params:"):
        values.estimate.get(s="b")


def test_the_store_keeps_values_with_the_records(tmp_path: Path):
    root = str(tmp_path / ".pyrule")
    state = State(root)
    assert state.value_of("a") is None and state.valued() == set()
    state.set_value("a", encode([1, 2]))
    state.set_value("b", encode("x"))
    assert state.valued() == {"a", "b"}
    state.close()
    state = State(root)
    assert state.value_of("a") == encode([1, 2]) and state.valued() == {"a", "b"}
    generation = state.generation()
    state.set_value("b", None)
    state.flush()
    assert state.generation() > generation  # a no-op memo made before no longer holds
    state.close()
    ro = State(root, readonly=True)
    assert ro.valued() == {"a"} and ro.value_of("b") is None
    ro.close()


def test_api_values_flow_and_come_back(tmp_path: Path):
    wf = Workflow(str(tmp_path))
    calls = []

    @wf.rule
    def estimate(wildcards):
        calls.append(1)
        return {"threads": 2, "sample": wildcards.sample}

    wf.rule("use", output="{sample}.txt",
            params={"v": lambda w: wf.values.estimate.get(sample=w.sample)},
            resources={"cores": lambda w: wf.values.estimate.get(**w)["threads"]},
            shell="echo {params.v[sample]} {resources.cores} > {output}\n")
    result = wf.run(["a.txt"], jobs=2)
    assert result.ok, result
    assert (tmp_path / "a.txt").read_text() == "a 2\n"
    assert result.values == {"estimate[sample=a]": {"threads": 2, "sample": "a"}}
    again = wf.run(["a.txt"], jobs=2)
    assert again.ok and again.count("ran") == 0
    assert again.values == {"estimate[sample=a]": {"threads": 2, "sample": "a"}}  # kept, not re-made


def test_a_cache_entrys_value_is_verified_against_its_hash():
    import base64

    from pyrule.cache import Refused, entry_value

    stored = encode({"n": 1})
    item = {"kind": stored.kind, "hash": stored.hash, "short": stored.short,
            "data": base64.b64encode(stored.data).decode()}
    assert entry_value(item, "k") == stored
    with pytest.raises(Refused, match="its value does not match its hash"):
        entry_value({**item, "data": base64.b64encode(b'{"n":2}').decode()}, "k")
    with pytest.raises(Refused, match="its value is damaged"):
        entry_value({**item, "data": "not base64!"}, "k")


def test_no_op_memo_is_never_made_for_a_workflow_that_reads_values(tmp_path: Path):
    # A job reads a value only through a function (params, resources, env, input): such rules
    # retire the memo, so the memo can never call a reader up to date after its value changed.
    from pyrule.load import load
    from pyrule.noop_memo import memo_key

    producer = 'rule estimate:\n    python:\n        return 3\n'
    reader = 'rule use:\n    output: "u.txt"\n    params: n = lambda w: values.estimate.get()\n    shell: echo > {output}\n'
    (tmp_path / "Pipefile").write_text(producer)
    assert memo_key(load(tmp_path / "Pipefile"), ["estimate"], []) is not None  # a value-only job alone: memo
    (tmp_path / "Pipefile").write_text(producer + "\n" + reader)
    assert memo_key(load(tmp_path / "Pipefile"), ["u.txt"], []) is None
