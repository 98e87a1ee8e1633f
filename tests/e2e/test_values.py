"""Values (issue 20, part 1; docs/language.md "Values"): a Python body's `return` is its job's
value; other jobs read it with `values.NAME.get(**wildcards)` in params, resources, env, input
functions and Python bodies. Real `pyrule` runs on real files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

PIPEFILE = '''
N ?= 3

rule estimate:
    python:
        return {"mem": 100 * (N // 2), "n": N // 2, "sample": wildcards.sample}

rule use:
    output: "out/{sample}.txt"
    params: n = lambda w: values.estimate.get(sample=w.sample)["n"]
    resources: mem = lambda w: f"{values.estimate.get(**w)['mem']}M"
    env: SAMPLE_N = lambda w: values.estimate.get(**w)["n"]
    shell: echo "n={params.n} mem={resources.mem} env=$SAMPLE_N" > {output}
'''


# A value-only job whose value is the number in n.txt
ESTIMATE = '''
rule estimate:
    input: "n.txt"
    python:
        return int(open(input[0]).read())
'''


def test_a_value_flows_to_a_param_a_resource_and_env(project):
    project.pipefile(PIPEFILE)
    # Not known yet: the consumer waits for it, as for a checkpoint
    assert "use[sample=a]: waits for the value of estimate[sample=a]" in project.dry("out/a.txt")
    r = project.run("out/a.txt")
    assert r.rc == 0, r
    assert r.ran == {"estimate[sample=a]", "use[sample=a]"}
    # mem: a Slurm-style resource, "100M" read as the literal would be (bytes)
    assert (project / "out/a.txt").read_text() == f"n=1 mem={100 * 2**20} env=1\n"
    # The value-only job and its consumer are up to date the second time
    r = project.run("out/a.txt")
    assert r.rc == 0 and r.ran == set(), r
    assert "nothing to do" in r.err


def test_a_changed_value_reruns_its_consumer_with_old_and_new(project):
    project.pipefile(PIPEFILE)
    assert project.run("out/a.txt").rc == 0
    r = project.run("out/a.txt", "N=4")
    assert r.rc == 0, r
    assert r.ran == {"estimate[sample=a]", "use[sample=a]"}
    reason = r.jobs()["use[sample=a]"]["reason"]
    assert reason.startswith("value of estimate[sample=a]: {\"mem\":100,\"n\":1"), reason
    assert "→ {\"mem\":200,\"n\":2" in reason, reason
    assert (project / "out/a.txt").read_text() == f"n=2 mem={200 * 2**20} env=2\n"


def test_an_equal_value_cuts_off(project):
    project.pipefile(PIPEFILE)
    assert project.run("out/a.txt").rc == 0  # N=3: n = 1
    before = (project / "out/a.txt").stat().st_mtime_ns
    r = project.run("out/a.txt", "N=2")  # the producer reruns (N changed) but returns n = 1 again
    assert r.rc == 0, r
    assert r.ran == {"estimate[sample=a]"}
    assert r.jobs()["use[sample=a]"]["status"] == "up-to-date"
    assert (project / "out/a.txt").stat().st_mtime_ns == before
    log = (Path(r.run_dir) / "run.log").read_text()
    assert "replan use[sample=a] after the value of estimate[sample=a]: 0 new job(s)" in log
    assert "skip use[sample=a]: up to date after all (signature unchanged since its last success)" in log


def test_value_cli_prints_json_and_explains_what_it_cannot(project):
    project.pipefile('''
        rule estimate:
            python:
                return {"n": 3, "name": "x"}

        rule setty:
            python:
                return {1, 2}

        rule plain:
            output: "p.txt"
            shell: echo > {output}
        ''')
    assert project.run("estimate").rc == 0
    r = project.run("--value", "estimate")
    assert r.rc == 0, r
    assert json.loads(r.out) == {"n": 3, "name": "x"}
    err = project.error("--value", "estimat")
    assert "--value estimat: no rule or job is named 'estimat'" in err and "did you mean 'estimate'" in err
    err = project.error("--value", "plain")
    assert "rule 'plain' has no Python body" in err
    err = project.error("--value", "setty")
    assert "job setty has no value recorded" in err and "pyrule 'setty'" in err
    assert project.run("setty").rc == 0
    err = project.error("--value", "setty")
    assert "is not JSON: it is stored with pickle" in err and ".values['setty']" in err


def test_a_value_job_is_named_by_its_job_name_and_fails_like_any_job(project):
    project.pipefile('''
        OK ?= True

        rule estimate:
            python:
                if not OK:
                    raise SystemExit(3)
                return len(wildcards.sample)
        ''')
    r = project.run("estimate[sample=abc]")
    assert r.rc == 0 and r.ran == {"estimate[sample=abc]"}, r
    assert project.run("--value", "estimate[sample=abc]").out.strip() == "3"
    assert project.run("estimate[sample=abc]").ran == set()
    r = project.run("estimate[sample=abc]", "OK=False")
    assert r.rc == 1 and r.jobs()["estimate[sample=abc]"]["status"] == "failed"
    # A failed job has no value: asked again, it runs again (not "up to date")
    assert "job estimate[sample=abc] has no value recorded" in project.error("--value", "estimate[sample=abc]")
    assert project.run("estimate[sample=abc]").ran == {"estimate[sample=abc]"}


def test_an_unstorable_value_fails_the_job_saying_why(project):
    project.pipefile('''
        rule lock:
            python:
                import threading
                return threading.Lock()
        ''')
    r = project.run("lock")
    assert r.rc == 1, r
    log = (project / r.jobs()["lock"]["log"]).read_text()
    assert "cannot be stored: it is neither JSON nor picklable" in log, log
    assert "Traceback" not in log


def test_errors_name_the_rule_and_say_what_to_do(project):
    project.pipefile('''
        rule sh:
            shell: echo
        rule use:
            output: "u.txt"
            params: n = lambda w: values.estimat.get()
            shell: echo > {output}
        rule use2:
            output: "u2.txt"
            params: n = lambda w: values.sh.get()
            shell: echo > {output}
        ''')
    err = project.error("u.txt")
    assert "values.estimat: no rule 'estimat'" in err and "Pipefile:6" in err, err
    err = project.error("u2.txt")
    assert "values.sh: rule 'sh' has no Python body" in err and "Pipefile:10" in err, err
    project.pipefile('''
        rule estimate:
            python:
                return 1
        rule top:
            output: "t.txt"
            params: n = values.estimate.get()
            shell: echo > {output}
        ''')
    err = project.error("t.txt")
    assert "Pipefile:7:" in err and "values.estimate.get() is called as the Pipefile is read" in err, err
    assert "`params: x = lambda w: values.estimate.get(**w)`" in err


def test_a_python_body_reads_the_values_its_job_read(project):
    project.pipefile('''
        rule estimate:
            python:
                def helper():
                    return "not the value"   # a function's own return stays its own
                helper()
                return [1, 2, wildcards.s]

        rule use:
            output: "{s}.txt"
            params: v = lambda w: values.estimate.get(s=w.s)
            python:
                open(output[0], "w").write(repr(values.estimate.get(s=wildcards.s)))

        rule stray:
            output: "stray.txt"
            python:
                values.estimate.get(s="q")
        ''')
    assert project.run("a.txt").rc == 0
    assert (project / "a.txt").read_text() == "[1, 2, 'a']"
    r = project.run("stray.txt")
    assert r.rc == 1
    log = (project / r.jobs()["stray"]["log"]).read_text()
    assert "did not read the value of estimate[s=q] while it was planned; read it in params:" in log, log


def test_the_noop_memo_never_hides_a_changed_value(project):
    # The producer has no function (a memo could be made for it); the consumer's functions
    # retire the memo; either way a changed value must rerun the consumer.
    project.pipefile(ESTIMATE + textwrap.dedent('''
        rule use:
            output: "u.txt"
            params: n = lambda w: values.estimate.get()
            shell: echo {params.n} > {output}
        '''))
    project.write("n.txt", "5")
    assert project.run("u.txt").rc == 0
    assert project.run("u.txt").ran == set()
    assert project.run("u.txt").ran == set()
    project.write("n.txt", "6")
    r = project.run("u.txt")
    assert r.ran == {"estimate", "use"}, r
    assert r.jobs()["use"]["reason"] == "value of estimate: 5 → 6"
    assert (project / "u.txt").read_text() == "6\n"


def test_the_value_itself_is_in_the_readers_signature(project):
    # The param computed from it stays the same; the value it read changed: the job reruns
    # (its Python body may use the value itself), and says which value changed.
    project.pipefile(ESTIMATE + textwrap.dedent('''
        rule use:
            output: "u.txt"
            params: capped = lambda w: min(values.estimate.get(), 10)
            python:
                open(output[0], "w").write(f"{params.capped} {values.estimate.get()}")
        '''))
    project.write("n.txt", "20")
    assert project.run("u.txt").rc == 0
    project.write("n.txt", "30")
    r = project.run("u.txt")
    assert r.ran == {"estimate", "use"}, r
    assert r.jobs()["use"]["reason"] == "value of estimate: 20 → 30"
    assert (project / "u.txt").read_text() == "10 30"


def test_a_reader_of_a_job_that_returned_nothing_is_told(project):
    project.pipefile('''
        rule estimate:
            python:
                print("no value")

        rule use:
            output: "u.txt"
            params: n = lambda w: values.estimate.get()
            shell: echo {params.n} > {output}
        ''')
    r = project.run("u.txt")
    assert r.rc == 1, r
    assert "job estimate ran but returned no value (None), which use needs" in r.err
    assert "Pipefile:4:" in r.err and "end its Python body with `return VALUE`" in r.err
    assert r.jobs()["use"]["status"] == "skipped"


CACHED = '''
rule est:
    input: "n.txt"
    output: "est.txt"
    python:
        import os
        with open(os.environ["MARK"], "a") as f:
            f.write("est\\n")
        n = int(open(input[0]).read())
        open(output[0], "w").write(str(n))
        return {"n": n}

rule use:
    output: "u.txt"
    params: positive = lambda w: values.est.get()["n"] > 0   # the same for every n here
    python:
        import os
        n = values.est.get()["n"]
        with open(os.environ["MARK"], "a") as f:
            f.write(f"{n}\\n")
        open(output[0], "w").write(f"{n}\\n")
'''


def test_the_cache_restores_a_value_with_the_outputs(project, tmp_path):
    cache, mark = tmp_path / "cache", tmp_path / "mark.txt"
    env = {"MARK": str(mark)}
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        (d / "Pipefile").write_text(CACHED)
        (d / "n.txt").write_text("5")
    r = project.run("--cache", str(cache), "u.txt", cwd=tmp_path / "a", env=env)
    assert r.rc == 0 and r.ran == {"est", "use"}, r
    # A second project: both jobs restored, their bodies never run; the value is there too
    r = project.run("--cache", str(cache), "u.txt", cwd=tmp_path / "b", env=env)
    assert r.rc == 0 and r.ran == set(), r
    assert "est: restored from cache" in r.err and "use: restored from cache" in r.err
    assert mark.read_text() == "est\n5\n"
    assert json.loads(project.run("--value", "est", cwd=tmp_path / "b").out) == {"n": 5}
    assert (tmp_path / "b" / "u.txt").read_text() == "5\n"


def test_the_values_a_job_reads_are_in_its_cache_key(project, tmp_path):
    cache, mark = tmp_path / "cache", tmp_path / "mark.txt"
    project.pipefile(CACHED)
    for n in ("1", "2", "1"):
        project.write("n.txt", n)
        r = project.run("--cache", str(cache), "u.txt", env={"MARK": str(mark)})
        assert r.rc == 0, r
    # each body ran twice, not three times: the third run restored both, value and all
    assert mark.read_text() == "est\n1\nest\n2\n"
    assert (project / "u.txt").read_text() == "1\n"
    assert json.loads(project.run("--value", "est").out) == {"n": 1}


def test_a_pipefile_may_keep_its_own_name_values(project):
    # A Pipefile that binds `values` to its own data (before values existed) keeps it, in its
    # Python bodies too, and it counts in their signatures as any top-level name does.
    project.pipefile('''
        values ?= [1, 2]

        rule total:
            output: "t.txt"
            python:
                open(output[0], "w").write(str(sum(values)))
        ''')
    assert project.run("t.txt").rc == 0
    assert (project / "t.txt").read_text() == "3"
    r = project.run("t.txt", "values=[1, 2, 3]")
    assert r.ran == {"total"} and (project / "t.txt").read_text() == "6", r


def test_an_input_function_reads_a_value(project):
    project.pipefile('''
        rule pick:
            input: "choice.txt"
            python:
                return open(input[0]).read().split()

        rule part:
            output: "parts/{x}.txt"
            shell: echo {wildcards.x} > {output}

        rule merge:
            output: "merged.txt"
            input: lambda w: [f"parts/{x}.txt" for x in values.pick.get()]
            shell: cat {input} > {output}
        ''')
    project.write("choice.txt", "a b")
    assert "merge: waits for the value of pick" in project.dry("merged.txt")
    r = project.run("merged.txt")
    assert r.rc == 0, r
    assert r.ran == {"pick", "part[x=a]", "part[x=b]", "merge"}
    assert (project / "merged.txt").read_text() == "a\nb\n"
    project.write("choice.txt", "b c")
    r = project.run("merged.txt")
    assert r.ran == {"pick", "part[x=c]", "merge"}, r
    assert (project / "merged.txt").read_text() == "b\nc\n"


def test_a_value_only_job_is_restored_from_the_cache(project, tmp_path):
    cache, mark = tmp_path / "cache", tmp_path / "mark.txt"
    text = '''
rule count:
    input: "n.txt"
    python:
        import os
        with open(os.environ["MARK"], "a") as f:
            f.write("count\\n")
        return int(open(input[0]).read()) * 2

rule clean:
    python:
        print("returns nothing: never published")
'''
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Pipefile").write_text(text)
        (tmp_path / name / "n.txt").write_text("21")
    env = {"MARK": str(mark)}
    assert project.run("--cache", str(cache), "count", "clean", cwd=tmp_path / "a", env=env).rc == 0
    r = project.run("--cache", str(cache), "count", "clean", cwd=tmp_path / "b", env=env)
    assert r.rc == 0 and r.ran == {"clean"}, r
    assert "count: restored from cache" in r.err
    assert mark.read_text() == "count\n"  # its body ran once, in project a
    assert project.run("--value", "count", cwd=tmp_path / "b").out.strip() == "42"
    assert project.run("count", cwd=tmp_path / "b").ran == set()  # a normal job there now


def test_a_value_only_rule_uses_the_wildcards_it_is_asked_with(project):
    project.pipefile('''
        rule estimate:
            input: "reads/{sample}.txt"
            python:
                return len(open(input[0]).read().split())

        rule align:
            output: "aligned/{sample}.txt"
            params: reads = lambda w: values.estimate.get(sample=w.sample)
            shell: echo {params.reads} > {output}

        rule bad:
            output: "bad.txt"
            params: n = lambda w: values.estimate.get()
            shell: echo > {output}
        ''')
    project.write("reads/a.txt", "x y z")
    r = project.run("aligned/a.txt")
    assert r.rc == 0 and r.ran == {"estimate[sample=a]", "align[sample=a]"}, r
    assert (project / "aligned/a.txt").read_text() == "3\n"
    project.write("reads/a.txt", "x y")  # its input changed: the value job reruns, and its reader
    r = project.run("aligned/a.txt")
    assert r.ran == {"estimate[sample=a]", "align[sample=a]"}, r
    assert r.jobs()["estimate[sample=a]"]["reason"] == "input reads/a.txt changed (content)"
    assert r.jobs()["align[sample=a]"]["reason"] == "value of estimate[sample=a]: 3 → 2"
    err = project.error("estimate")
    assert "rule 'estimate' has wildcards: name one of its jobs, like 'estimate[sample=...]'" in err
    err = project.error("bad.txt")
    assert "values.estimate.get(): no value for wildcard 'sample' (rule 'estimate' uses it)" in err
    assert "Pipefile:3:" in err


def test_a_request_planned_from_an_old_value_is_checked_with_the_new_one(project):
    # cores came from the old value (9: over -j 4), but the producer reruns first and returns 2:
    # the run is not refused for the old request; a new value over the budget fails the reader.
    project.pipefile('''
        N ?= 9

        rule estimate:
            python:
                return N

        rule use:
            output: "u.txt"
            resources: cores = lambda w: values.estimate.get()
            shell: echo {resources.cores} > {output}
        ''')
    assert project.run("-j", "16", "u.txt").rc == 0
    r = project.run("-j", "4", "u.txt", "N=2")
    assert r.rc == 0 and r.ran == {"estimate", "use"}, r
    assert (project / "u.txt").read_text() == "2\n"
    r = project.run("-j", "4", "u.txt", "N=6")
    assert r.rc == 1 and r.jobs()["use"]["status"] == "skipped", r
    assert "error: job use needs cores=6 but the budget is 4" in r.err, r.err
