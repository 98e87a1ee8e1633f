"""The reason a value-only job (a `python:` body with a `return`, no outputs) runs before it
has a value: "no value recorded yet", not the phony rule's "runs whenever requested" (which it
is not: once it has a value it is judged by its signature like any other job). A body without a
`return` of its own (one only in a function it defines) stays a phony rule."""

from __future__ import annotations

PIPEFILE = '''
rule estimate:
    input: "n.txt"
    python:
        return int(open(input[0]).read())

rule hello:
    python:
        def inner():
            return "return"
        print(inner())
'''


def test_a_value_job_without_a_value_says_so(project):
    project.pipefile(PIPEFILE)
    (project / "n.txt").write_text("3\n")
    assert project.dry("estimate") == ["estimate: no value recorded yet"]
    assert project.dry("hello") == ["hello: phony rule: runs whenever requested"]
    r = project.run("estimate")
    assert r.rc == 0 and r.ran == {"estimate"}, r
    assert r.jobs()["estimate"]["reason"] == "no value recorded yet"
    assert project.dry("estimate") == []  # judged by its signature now
    (project / "n.txt").write_text("4\n")
    assert project.dry("estimate")[0].startswith("estimate: "), project.dry("estimate")
    assert project.run("hello").rc == 0
    assert project.dry("hello") == ["hello: phony rule: runs whenever requested"]
