"""`--detach` on the command line, without a cluster: only with an executor whose jobs outlive
pyrule (Slurm); with the local one a usage error that names the option and what to write."""

from __future__ import annotations

from harness import pipefile, pyrule, write


def one_rule(d) -> None:
    pipefile(d, '''
        rule a:
            output: "a.txt"
            shell: echo a > {output}
        ''')


def test_detach_with_the_local_executor_is_a_usage_error(tmp_path):
    one_rule(tmp_path)
    r = pyrule(tmp_path, "--detach")
    assert r.rc == 2, r
    assert "--detach: not with --executor local" in r.err and "hint: write pyrule --executor slurm --detach" in r.err
    assert "Traceback" not in r.err
    assert not (tmp_path / "a.txt").exists() and r.run_dir is None
    # also when the executor comes from pyrule.toml
    write(tmp_path / "pyrule.toml", 'executor = "local"\n')
    assert pyrule(tmp_path, "--detach").rc == 2


def test_help_and_completion_know_detach(tmp_path):
    assert "--detach" in pyrule(tmp_path, "--help").out
    assert "--detach" in pyrule(tmp_path, "--completion", "bash").out


def test_detach_is_no_project_default(tmp_path):
    """In pyrule.toml it would detach the run meant to collect as well: refused."""
    one_rule(tmp_path)
    write(tmp_path / "pyrule.toml", "detach = true\n")
    r = pyrule(tmp_path)
    assert r.rc == 2 and "detach" in r.err and "one-off choice" in r.err, r
