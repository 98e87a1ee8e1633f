"""Unit tests of code_identity.rule_identity: what a rule's body contributes to its jobs' outcome,
the one computation both the job signature (decide.py) and the no-op memo key (noop_memo.py)
use. In-process, on real Pipefiles loaded in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import pipefile, write

from pyrule.code_identity import rule_identity
from pyrule.decide import Fingerprints, signature
from pyrule.load import load
from pyrule.noop_memo import memo_key
from pyrule.plan import plan
from pyrule.stat_cache import StatCache

BASE = """
    default: all
    N = 1
    LABEL = "x"

    rule out:
        output: "{s}.out"
        input: "in.txt"
        shell: cat {input} > {output}; echo {N} {s} >> {output}

    rule py:
        output: "py.txt"
        input: "in.txt"
        python:
            open(output[0], "w").write(LABEL * N)  # a comment

    rule all:
        input: "a.out", "py.txt"
"""


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "in.txt", "in\n")
    return tmp_path


def loaded(text: str = BASE):
    pipefile(Path("."), text)
    return load("Pipefile")


def test_a_shell_body_is_its_text_and_the_top_level_names_it_fills():
    rule = loaded().rules["out"]
    assert rule_identity(rule) == ("shell:" + rule.shell, {"{N}": "1"})


def test_a_wildcard_named_like_a_top_level_name_is_the_jobs_not_the_namespaces():
    rules = loaded(BASE.replace("N = 1", "N = 1\n    s = 'top'"))
    rule = rules.rules["out"]
    assert rule_identity(rule)[1] == {"{N}": "1", "{s}": "top"}  # no wildcards known: a superset
    assert rule_identity(rule, {"s": "a"})[1] == {"{N}": "1"}


def test_a_python_body_is_its_code_not_its_comments_and_the_names_it_reads():
    identity, names = rule_identity(loaded().rules["py"])
    assert identity.startswith("python:") and names == {"LABEL": "'x'", "N": "1"}
    assert rule_identity(loaded(BASE.replace("# a comment", "# another")).rules["py"])[0] == identity


def test_a_rule_without_a_body():
    assert rule_identity(loaded().rules["all"]) == ("", {})


def _outcome(text: str) -> tuple[dict[str, tuple], str | None, dict[str, str]]:
    """(each rule's identity, the memo key, each job's signature digest) for a Pipefile."""
    rules = loaded(text)
    graph = plan(rules, [])
    fps = Fingerprints(None, StatCache())
    return ({name: rule_identity(r) for name, r in rules.rules.items()}, memo_key(rules, [], []),
            {j.name: signature(j, fps)[0] for j in graph.jobs})


@pytest.mark.parametrize(("old", "new", "rule", "rerun"), [
    ("N = 1", "N = 2", "out", {"out[s=a]", "py"}),  # a top-level name a shell body fills (py reads it too)
    ('LABEL = "x"', 'LABEL = "y"', "py", {"py"}),  # a top-level name a Python body reads
    ("echo {N} {s}", "echo {s} {N}", "out", {"out[s=a]"}),  # the shell text
    ("LABEL * N)", "N * LABEL)", "py", {"py"}),  # the Python code
], ids=["shell-name", "python-name", "shell-text", "python-code"])
def test_what_changes_a_rules_identity_changes_its_signatures_and_the_memo_key(old: str, new: str, rule: str,
                                                                              rerun: set[str]):
    identities, key, sigs = _outcome(BASE)
    identities2, key2, sigs2 = _outcome(BASE.replace(old, new))
    assert identities2[rule] != identities[rule]
    assert key is not None and key2 is not None and key2 != key
    assert sigs2.keys() == sigs.keys() == {"out[s=a]", "py", "all"}
    assert {j for j in sigs if sigs2[j] != sigs[j]} == rerun


def test_a_comment_in_a_python_body_changes_no_signature():
    _, _, sigs = _outcome(BASE)
    assert _outcome(BASE.replace("# a comment", "# another"))[2] == sigs
