"""`resources: mem = "2G" * attempt`: what the Pipefile accepts and refuses (the growth itself is
asked of Slurm: tests/slurm/test_memory_retry.py)."""

from __future__ import annotations

from harness import ok, pipefile, pyrule


def test_a_resource_times_attempt_is_its_value_here(tmp_path):
    pipefile(tmp_path, """
        rule a:
            output: "a.txt"
            retries: 2
            resources: mem = "2M" * attempt, runtime = attempt * "1m", licence = 2 * attempt
            shell: echo {resources.mem} {resources.runtime} {resources.licence} > {output}
        """)
    r = ok(tmp_path)
    # the first attempt's values: budgets and the command see those
    assert (tmp_path / "a.txt").read_text() == f"{2 * 2**20} 60 2\n"
    assert r.jobs()["a"]["resources"]["mem"] == 2 * 2**20


def test_cores_cannot_grow_with_the_attempt(tmp_path):
    pipefile(tmp_path, """
        rule a:
            output: "a.txt"
            resources: cores = 2 * attempt
            shell: touch {output}
        """)
    r = pyrule(tmp_path)
    assert r.rc == 2 and "cores cannot grow with the attempt" in r.err, str(r)
