"""In process, for mutation testing: where a pyrule.toml key is written (settings._locate), which
option words a setting's value becomes (settings._tokens), which options the command line gave
(settings._given), and which paths an output line offers to shell completion (completion._literals)."""

from __future__ import annotations

import pytest

from pyrule.cli import _prepare, build_parser
from pyrule.completion import _literals, targets
from pyrule.errors import Location, UsageError
from pyrule.settings import _given, _locate, _tokens, settable

TOML = """\
# top
jobs = 2
  "mem" = "1G"

[tool.pyrule]
keep-going = true
resources.gpus = 1

[tool.pyrule.env]
x = 1
"""


@pytest.mark.parametrize("table, key, where", [
    ("", "jobs", (2, 1)),
    ("", "mem", (3, 3)),
    ("tool.pyrule", "keep-going", (6, 1)),
    ("tool.pyrule", "resources", (7, 1)),
    ("tool.pyrule", "env", (9, 1)),
    ("tool.pyrule", "jobs", (1, 1)),  # not in that table: the file's start
])
def test_locate(table, key, where):
    assert _locate("f.toml", TOML, table, key) == Location("f.toml", *where)


def test_tokens():
    options = settable(build_parser())
    assert _tokens("--keep-going", options["keep-going"], True, "w") == ["--keep-going"]
    assert _tokens("--keep-going", options["keep-going"], False, "w") == []
    assert _tokens("--verbose", options["verbose"], 2, "w") == ["--verbose", "--verbose"]
    assert _tokens("--jobs", options["jobs"], 4, "w") == ["--jobs=4"]
    assert _tokens("--resources", options["resources"], {"gpus": 1, "io": 2}, "w") == \
        ["--resources=gpus=1", "--resources=io=2"]
    assert _tokens("--resources", options["resources"], ["gpus=1"], "w") == ["--resources=gpus=1"]
    for flag, value, message in [("--keep-going", "yes", "write true or false"),
                                 ("--verbose", True, "write a count"), ("--jobs", [1], "write a value"),
                                 ("--mem", True, "write a value")]:
        with pytest.raises(UsageError, match=message):
            _tokens(flag, options[flag[2:]], value, "w")


def test_settable_leaves_out_commands():
    names = set(settable(build_parser()))
    assert {"jobs", "mem", "resources", "keep-going", "executor", "slurm-partition", "print-commands"} <= names
    assert not names & {"dry-run", "touch", "summary", "dag", "why", "file", "help", "set", "complete-targets"}


def test_given():
    parser = build_parser()
    assert _given(parser, _prepare(["-kj4", "t", "--mem=2G", "--exec", "slurm", "--", "-n"])) == \
        {"keep_going", "jobs", "mem", "executor"}
    assert _given(parser, ["-nB", "x=1", "--resources=gpus=1"]) == {"dry_run", "force_all", "resources"}


def test_literals():
    assert _literals('"a.txt", "b/{x}.txt", name = protected("c.txt")') == ["a.txt", "c.txt"]
    assert _literals('directory("d"), temp("t"), expand("e/{s}", s=["x"])') == ["d", "t"]
    assert _literals("f(") == [] and _literals("OUT") == []


def test_targets_follow_includes(tmp_path):
    (tmp_path / "Pipefile").write_text('include "more.pf"\ndefault: all\nrule all:\n    input: "x"\n')
    (tmp_path / "more.pf").write_text('rule x:\n    output: "x"\n    shell: touch {output}\n')
    assert targets(str(tmp_path / "Pipefile")) == ["x", "all"]


def test_table_is_tsv_or_aligned():
    from pyrule.commands import table

    rows = [("output", "job", "state"), ("a/long/path.txt", "j", "ok"), ("b", "job[x=1]", "stale: why")]
    assert table(rows, aligned=False) == "output\tjob\tstate\na/long/path.txt\tj\tok\nb\tjob[x=1]\tstale: why"
    assert table(rows, aligned=True).splitlines() == [
        "output           job       state",
        "a/long/path.txt  j         ok",
        "b                job[x=1]  stale: why",
    ]


def test_inside_the_project(tmp_path, monkeypatch):
    import os

    from pyrule.commands import _inside

    (tmp_path / "proj" / "sub").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    os.symlink(tmp_path / "out", tmp_path / "proj" / "link")
    monkeypatch.chdir(tmp_path / "proj")
    root = os.path.realpath(".")
    assert _inside("a.txt", root) and _inside("sub/a.txt", root) and _inside("new/dir/a.txt", root)
    assert not _inside("link/a.txt", root) and not _inside("../out/a.txt", root)
    assert not _inside(str(tmp_path / "out" / "a.txt"), root) and not _inside(".", root)
    assert _inside(str(tmp_path / "proj" / "sub" / "a.txt"), root)  # absolute, but in the project
