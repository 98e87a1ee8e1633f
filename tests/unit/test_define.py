"""The rule checks of define.py on a long list of paths in one section (an `expand()` of
thousands, as a Pipefile gives it): the type and emptiness checks run at C speed first, and must
name the same bad value as before."""

from __future__ import annotations

import pytest

from pyrule.errors import PipefileError
from pyrule.load import load

MANY = 'expand("in/{i}.txt", i=range(1000))'


def _load(project, inputs: str):
    project.pipefile(f'rule r:\n    output: "o/{{s}}.txt"\n    input: {inputs}\n    shell: x\n')
    return load("Pipefile")


@pytest.mark.parametrize(("inputs", "message"), [
    (f'{MANY} + [""]', "rule 'r': input has an empty path"),
    (f'{MANY} + [temp("")]', "rule 'r': input has an empty path"),
    (f"{MANY} + [5, None]", "rule 'r': input must be paths, not int 5"),
    (f"{MANY} + [None, 5]", "rule 'r': input must be paths, not NoneType None"),
    (f'{MANY} + [b"x"]', "rule 'r': input must be paths, not bytes b'x'"),
    (f'{MANY} + ["{{x}}"]', "rule 'r': wildcard '{x}' in input '{x}' is not in the outputs"),
])
def test_a_bad_path_among_many_is_named(project, inputs, message):
    with pytest.raises(PipefileError) as info:
        _load(project, inputs)
    assert info.value.message.startswith(message)


def test_good_paths_of_every_kind_pass(project):
    project.write("name.py", "class Name(str):\n    pass\n")
    rules = _load(project, f'{MANY} + [temp("t/{{s}}"), __import__("name").Name("n/{{s}}"), "{{{{x}}}}"]')
    [(_, paths)] = rules.rules["r"].inputs
    assert len(paths) == 1003 and paths[-1] == "{{x}}"
