"""A project's defaults (issue 22): `pyrule.toml` beside the Pipefile, else `[tool.pyrule]` in
pyproject.toml; the command line wins; mistakes name the file, line and column; `--show-config`.
The real `pyrule` command on real files."""

from __future__ import annotations

from pathlib import Path

from harness import ok, pipefile, pyrule, write

# Each job prints the cores it got: {resources.cores} is min(the rule's cores, the budget).
PIPEFILE = """
    rule all:
        input: "a.txt", "b.txt"

    rule a:
        output: "a.txt"
        shell: exit 1

    rule b:
        output: "b.txt"
        shell: echo b > {output}
"""


def _project(tmp_path: Path) -> Path:
    pipefile(tmp_path, PIPEFILE)
    return tmp_path


def test_keep_going_from_pyrule_toml(tmp_path):
    d = _project(tmp_path)
    write(d / "pyrule.toml", "# defaults of this project\nkeep-going = true\n")
    r = pyrule(d)
    assert r.rc == 1 and (d / "b.txt").exists(), str(r)  # -k: b ran after a failed


def test_tool_pyrule_in_pyproject_and_underscores(tmp_path):
    d = _project(tmp_path)
    write(d / "pyproject.toml", '[project]\nname = "x"\n\n[tool.pyrule]\nkeep_going = true\njobs = 1\n')
    r = pyrule(d)
    assert r.rc == 1 and (d / "b.txt").exists(), str(r)
    out = ok(d, "--show-config").out
    assert "# settings: pyproject.toml [tool.pyrule]" in out
    assert _line(out, "keep-going") == ("keep-going = true", "pyproject.toml:5:1")
    assert _line(out, "jobs") == ("jobs = 1", "pyproject.toml:6:1")


def test_command_line_wins_and_show_config_says_where_each_came_from(tmp_path):
    d = _project(tmp_path)
    write(d / "pyrule.toml", 'jobs = 3\nmem = "2G"\nresources = { gpus = 1, disk = 2 }\n'
                             'slurm-partition = "short"\n')
    out = ok(d, "--show-config", "-j", "5", "--resources", "gpus=4").out
    assert out.splitlines()[0] == "# settings: pyrule.toml"
    assert _line(out, "jobs") == ("jobs = 5", "command line")
    assert _line(out, "mem") == ('mem = "2G"', "pyrule.toml:2:1")
    assert _line(out, "resources") == ('resources = ["disk=2", "gpus=4"]', "pyrule.toml:3:1 and the command line")
    assert _line(out, "keep-going") == ("keep-going = false", "default")
    assert _line(out, "slurm-partition") == ("slurm-partition = (unset)",
                                             "pyrule.toml:4:1 (unused: not --executor slurm)")
    assert _line(out, "executor") == ('executor = "local"', "default")


def test_show_config_without_a_settings_file(tmp_path):
    d = _project(tmp_path)
    out = ok(d, "--show-config", "-k").out
    assert out.splitlines()[0].startswith("# no settings file")
    assert _line(out, "keep-going") == ("keep-going = true", "command line")


def _line(out: str, key: str) -> tuple[str, str]:
    for line in out.splitlines():
        if line.startswith(key + " = "):
            value, _, source = line.partition("  # ")
            return value.strip(), source
    raise AssertionError(f"no {key} in\n{out}")


def test_unknown_key_is_an_error_with_its_place_and_a_suggestion(tmp_path):
    d = _project(tmp_path)
    write(d / "pyrule.toml", "jobs = 2\n  keep-goin = true\n")
    r = pyrule(d, "-n")
    assert r.rc == 2, str(r)
    assert r.err.splitlines()[:3] == [
        "pyrule.toml:2:3: error: unknown setting 'keep-goin'",
        "    2 |   keep-goin = true",
        "      |   ^",
    ]
    assert "hint: did you mean 'keep-going'?" in r.err


def test_commands_are_not_settings(tmp_path):
    d = _project(tmp_path)
    write(d / "pyrule.toml", "dry-run = true\n")
    r = pyrule(d)
    assert r.rc == 2 and "pyrule.toml:1:1: error: unknown setting 'dry-run'" in r.err
    assert "not a project default" in r.err


def test_config_is_not_a_setting_it_would_be_read_too_late(tmp_path):
    # (Config is read before pyrule.toml: a `configfile` key there would be silently ignored.)
    d = _project(tmp_path)
    write(d / "pyrule.toml", 'configfile = "c.yaml"\n')
    r = pyrule(d)
    assert r.rc == 2 and "pyrule.toml:1:1: error: unknown setting 'configfile'" in r.err
    assert 'configfile: "config.yaml"' in r.err


def test_bad_values_name_their_line(tmp_path):
    d = _project(tmp_path)
    for text, message in [
        ('jobs = 0\n', "pyrule.toml:1:1: error: jobs = 0: argument -j/--jobs: must be at least 1, not 0"),
        ('\nmem = "1Q"\n', "pyrule.toml:2:1: error: mem = '1Q': --mem 1Q: not a size"),
        ('keep-going = "yes"\n', "pyrule.toml:1:1: error: keep-going = 'yes': write true or false"),
        ('executor = "slurmm"\n', "pyrule.toml:1:1: error: executor = 'slurmm': argument --executor: invalid choice"),
        ('jobs = \n', "pyrule.toml:1:8: error: not valid TOML: Invalid value"),
    ]:
        write(d / "pyrule.toml", text)
        r = pyrule(d, "-n")
        assert r.rc == 2 and message in r.err, (text, str(r))
        assert "Traceback" not in r.err


def test_settings_beside_the_pipefile_found_from_a_subdirectory(tmp_path):
    d = _project(tmp_path)
    write(d / "pyrule.toml", "keep-going = true\n")
    (d / "sub").mkdir()
    r = pyrule(d / "sub")
    assert r.rc == 1 and (d / "b.txt").exists(), str(r)


def test_slurm_options_on_the_command_line_with_the_executor_from_the_file(tmp_path):
    d = _project(tmp_path)
    write(d / "pyrule.toml", 'executor = "slurm"\n')
    out = ok(d, "--show-config", "--slurm-partition", "gpu").out
    assert _line(out, "slurm-partition") == ('slurm-partition = "gpu"', "command line")
    assert _line(out, "executor") == ('executor = "slurm"', "pyrule.toml:1:1")
    (d / "pyrule.toml").unlink()
    r = pyrule(d, "-n", "--slurm-partition", "gpu")
    assert r.rc == 2 and r.err.startswith("error: --slurm-partition gpu: only with --executor slurm"), str(r)


def test_settings_beside_the_pipefile_named_by_f(tmp_path):
    (tmp_path / "proj").mkdir()
    _project(tmp_path / "proj")
    write(tmp_path / "proj" / "pyrule.toml", "jobs = 3\n")
    write(tmp_path / "pyrule.toml", "jobs = 5\n")  # the current directory's: not this Pipefile's
    out = ok(tmp_path, "-f", "proj/Pipefile", "--show-config").out
    assert out.splitlines()[0] == "# settings: proj/pyrule.toml"
    assert _line(out, "jobs") == ("jobs = 3", "proj/pyrule.toml:1:1")


def test_what_snakemake_and_make_users_type(tmp_path):
    d = _project(tmp_path)
    for args, hint in [(["--profile", "slurm"], "a project's defaults go in pyrule.toml beside the Pipefile"),
                       (["-t"], "marking outputs up to date without running is --touch"),
                       (["--detailed-summary"], "every output's job, date and state is --summary"),
                       (["--list-code-changes"], "the outputs whose code changed are --list-changes code")]:
        r = pyrule(d, *args)
        assert r.rc == 2 and f"hint: {hint}" in r.err, str(r)
