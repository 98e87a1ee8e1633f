"""`container:` and `venv:` as the loader sees them (issue 19, docs/environments.md): the
top-level default, opting out, and the mistakes refused at load time with their lines."""

from __future__ import annotations

import pytest

from pyrule.errors import Location, PipefileError
from pyrule.load import load


def load_text(project, text: str):
    project.pipefile(text)
    return load("Pipefile")


def error(project, text: str) -> PipefileError:
    with pytest.raises(PipefileError) as info:
        load_text(project, text)
    return info.value


def test_the_top_level_container_is_the_default_of_shell_rules(project):
    project.write("envs/p.txt", "tabulate\n")
    rules = load_text(project, """
        rule early:
            output: "e"
            shell: touch e

        container: "localhost/tools:1"

        rule own:
            output: "o"
            container: "localhost/other:2"
            shell: touch o

        rule out:
            output: "x"
            container: None
            shell: touch x

        rule py:
            output: "p"
            python: pass

        rule env:
            output: "v"
            venv: "envs/p.txt"
            shell: touch v

        short: in
            touch short
    """).rules
    assert {n: r.container for n, r in rules.items()} == {
        "early": "localhost/tools:1", "own": "localhost/other:2", "out": None, "py": None, "env": None,
        "short": "localhost/tools:1"}
    assert rules["env"].venv == "envs/p.txt"
    assert rules["early"].where("container") == Location("Pipefile", 6, 1)  # errors point at the default


@pytest.mark.parametrize("text, message, line", [
    ('rule x:\n    output: "x"\n    container: "img"\n',
     "rule 'x': container: runs shell:, python: and script: bodies", 3),
    ('rule x:\n    output: "x"\n    container: 3\n    shell: true\n', "rule 'x': container: must be an image name", 3),
    ('rule x:\n    output: "x"\n    venv: "envs/none.txt"\n    shell: true\n',
     "rule 'x': venv: no such requirements file 'envs/none.txt'", 3),
    ('container: "a"\ncontainer: "b"\n', "the default container is given twice", 2),
    ('container: ["a"]\n', "container: must be an image name, not list", 1),
])
def test_mistakes_are_located(project, text, message, line):
    e = error(project, "\n" + text)
    assert message in e.message and e.loc is not None and e.loc.line == line + 1, (e.message, e.loc)
