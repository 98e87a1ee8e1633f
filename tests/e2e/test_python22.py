"""Python around the rules (issue 22): the Pipefile's directory on sys.path, `workflow.basedir`,
and rules made in a loop with `workflow.rule(...)`, the Python API's call. Real pyrule."""

from __future__ import annotations

from harness import ok, pipefile, pyrule, write


def test_a_module_beside_the_pipefile_imports(tmp_path):
    proj = tmp_path / "proj"
    write(proj / "helpers.py", "def double(x):\n    return 2 * x\n")
    pipefile(proj, """
        from helpers import double
        N = double(21)
        rule x:
            output: "x.txt"
            python:
                import helpers
                open(output[0], "w").write(f"{N} {helpers.double(1)} {workflow.basedir}")
    """)
    # started elsewhere, with -f: the Pipefile's directory is not the current one
    ok(tmp_path, "-f", "proj/Pipefile", "x.txt")
    assert (tmp_path / "x.txt").read_text() == f"42 2 {proj}"


def test_rules_made_in_a_loop_from_a_json_list(tmp_path):
    write(tmp_path / "stages.json", """[
        {"name": "clean", "input": "raw.txt", "output": "clean.txt", "cmd": "tr a-z A-Z < {input} > {output}"},
        {"name": "count", "input": "clean.txt", "output": "count.txt", "cmd": "wc -c < {input} > {output}"}
    ]""")
    write(tmp_path / "raw.txt", "abc\n")
    pipefile(tmp_path, """
        import json

        python:
            for stage in json.load(open("stages.json")):
                workflow.rule(stage["name"], input=stage["input"], output=stage["output"], shell=stage["cmd"])

            @workflow.rule(output="report.txt", input="count.txt")
            def report(input, output):
                open(output[0], "w").write("count " + open(input[0]).read())

        default: report.txt
    """)
    r = ok(tmp_path)
    assert r.ran == {"clean", "count", "report"}
    assert (tmp_path / "report.txt").read_text().split() == ["count", "4"]
    r = ok(tmp_path, "--list")
    assert "clean" in r.out and "count" in r.out


def test_a_mistake_in_workflow_rule_names_the_line_that_made_it(tmp_path):
    pipefile(tmp_path, """
        python:
            for i in range(2):
                workflow.rule(f"r{i}", output=f"out/{i}.txt", input="{nope}.txt", shell="touch {output}")
    """)
    r = pyrule(tmp_path, "-n")
    assert r.rc == 2 and "Pipefile:3:9" in r.err and "wildcard '{nope}'" in r.err, str(r)
