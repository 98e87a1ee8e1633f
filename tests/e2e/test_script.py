"""`script:` bodies (issue 22): a Python script file run as the job, with the `snakemake`/`pyrule`
object; its content is part of the job's signature. Real pyrule, real files."""

from __future__ import annotations

from harness import ok, pipefile, pyrule, write

SCRIPT = """\
import helper
assert snakemake is pyrule
with open(snakemake.output[0], "w") as out:
    out.write(f"{snakemake.rule} {snakemake.wildcards.s} {snakemake.params.factor} {snakemake.threads}\\n")
    out.write(open(snakemake.input.data).read())
    out.write(helper.GREETING + " " + snakemake.config["who"] + "\\n")
    out.write(snakemake.input["data"] + " " + str(snakemake.log) + "\\n")
print("to the log")
"""


def _project(tmp_path):
    pipefile(tmp_path, """
        python:
            config["who"] = "world"

        rule make:
            output: "out/{s}.txt"
            input:  data = "in/{s}.txt"
            params: factor = 3
            resources: cores = 2
            log:    "logs/{s}.log"
            script: "scripts/make.py"
    """)
    write(tmp_path / "in/a.txt", "data a\n")
    write(tmp_path / "scripts/make.py", SCRIPT)
    write(tmp_path / "scripts/helper.py", "GREETING = 'hello'\n")


def test_script_runs_with_the_snakemake_object(tmp_path):
    _project(tmp_path)
    ok(tmp_path, "out/a.txt", "-j", "2")
    assert (tmp_path / "out/a.txt").read_text() == "make a 3 2\ndata a\nhello world\nin/a.txt logs/a.log\n"
    assert "to the log" in (tmp_path / "logs/a.log").read_text()


def test_editing_the_script_reruns_the_job_and_n_says_why(tmp_path):
    _project(tmp_path)
    ok(tmp_path, "out/a.txt", "-j", "2")
    r = ok(tmp_path, "-n", "out/a.txt", "-j", "2")
    assert "nothing to do" in r.out + r.err
    script = tmp_path / "scripts/make.py"
    script.write_text(script.read_text() + "# a comment changes the content\n")
    r = ok(tmp_path, "-n", "out/a.txt")
    assert "script scripts/make.py changed" in r.out
    r = ok(tmp_path, "out/a.txt", "-j", "2")
    assert r.ran == {"make[s=a]"}


def test_config_read_by_a_script_counts(tmp_path):
    _project(tmp_path)
    ok(tmp_path, "out/a.txt", "-j", "2")
    text = (tmp_path / "Pipefile").read_text().replace('"world"', '"there"')
    (tmp_path / "Pipefile").write_text(text)
    r = ok(tmp_path, "-n", "out/a.txt")
    assert "top-level config in the script body" in r.out


def test_script_syntax_error_names_the_script_line(tmp_path):
    _project(tmp_path)
    write(tmp_path / "scripts/make.py", "x = 1\nif x\n    pass\n")
    r = pyrule(tmp_path, "-n")
    assert r.rc == 2, str(r)
    assert "scripts/make.py:2:5: error: invalid Python in script 'scripts/make.py'" in r.err


def test_script_failure_shows_the_script_traceback(tmp_path):
    _project(tmp_path)
    write(tmp_path / "scripts/make.py", "x = 1\nraise ValueError('bad sample')\n")
    r = pyrule(tmp_path, "out/a.txt")
    assert r.rc == 1
    log = (tmp_path / "logs/a.log").read_text()
    assert 'File "scripts/make.py", line 2' in log and "ValueError: bad sample" in log


def test_missing_or_non_python_script_is_a_load_error(tmp_path):
    pipefile(tmp_path, """
        rule plot:
            output: "p.png"
            script: "plot.R"
    """)
    r = pyrule(tmp_path, "-n")
    assert r.rc == 2 and "Pipefile:3:5" in r.err and "only Python scripts" in r.err and "Rscript plot.R" in r.err
    pipefile(tmp_path, """
        rule plot:
            output: "p.png"
            script: "nowhere.py"
    """)
    r = pyrule(tmp_path, "-n")
    assert r.rc == 2 and "script 'nowhere.py': No such file or directory" in r.err


def test_script_and_shell_together_are_refused(tmp_path):
    write(tmp_path / "s.py", "pass\n")
    pipefile(tmp_path, """
        rule x:
            output: "x"
            script: "s.py"
            shell: touch {output}
    """)
    r = pyrule(tmp_path, "-n")
    assert r.rc == 2 and "one body" in r.err


def test_script_in_an_included_file_is_relative_to_it(tmp_path):
    write(tmp_path / "sub/s.py", "open(snakemake.output[0], 'w').write('ok')\n")
    write(tmp_path / "sub/rules.pipe", 'rule x:\n    output: "x.txt"\n    script: "s.py"\n')
    pipefile(tmp_path, 'include "sub/rules.pipe"\n')
    ok(tmp_path)
    assert (tmp_path / "x.txt").read_text() == "ok"


def test_snakemake_names_in_scripts_and_python_bodies(tmp_path):
    """What Snakemake's scripts and run: blocks read: snakemake.resources.mem_mb, and `threads`."""
    write(tmp_path / "s.py", "open(snakemake.output[0], 'w').write(f'{snakemake.resources.mem_mb} {snakemake.threads}')\n")
    pipefile(tmp_path, """
        rule s:
            output: "s.txt"
            resources: mem = "1500M", cores = upto(3)
            script: "s.py"
        rule p:
            output: "p.txt"
            resources: cores = 2
            python:
                open(output[0], "w").write(str(threads))
    """)
    ok(tmp_path, "s.txt", "p.txt", "-j", "2")
    assert (tmp_path / "s.txt").read_text() == "1500 2"
    assert (tmp_path / "p.txt").read_text() == "2"
