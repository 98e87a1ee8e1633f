"""`configfile:`, `config`, `--configfile` and `--config` (issue 22). Real pyrule, real files."""

from __future__ import annotations

import pytest
from harness import ok, pipefile, pyrule, write

PIPEFILE = """
    configfile: "config.yaml"

    rule all:
        input: expand("out/{s}.txt", s=config["samples"])

    rule one:
        output: "out/{s}.txt"
        params: n = config["n"]
        shell: echo {wildcards.s} {params.n} {config[label]} > {output}
"""


def _project(tmp_path, config="samples: [a, b]\nn: 3\nlabel: first\n"):
    pipefile(tmp_path, PIPEFILE)
    write(tmp_path / "config.yaml", config)


def test_yaml_config_drives_the_rules(tmp_path):
    _project(tmp_path)
    ok(tmp_path)
    assert (tmp_path / "out/a.txt").read_text() == "a 3 first\n"
    assert (tmp_path / "out/b.txt").exists()


def test_a_config_value_a_rule_uses_is_in_its_signature(tmp_path):
    _project(tmp_path)
    ok(tmp_path)
    write(tmp_path / "config.yaml", "samples: [a, b]\nn: 4\nlabel: first\n")
    r = ok(tmp_path, "-n")
    assert "params.n: 3 → 4" in r.out
    write(tmp_path / "config.yaml", "samples: [a, b]\nn: 3\nlabel: second\n")
    r = ok(tmp_path, "-n")
    assert "top-level {config[label]} in the shell body: first → second" in r.out
    write(tmp_path / "config.yaml", "samples: [a, b]\nn: 3\nlabel: first\nunused: 1\n")
    r = ok(tmp_path, "-n")
    assert "nothing to do" in r.out + r.err


def test_command_line_config_wins(tmp_path):
    _project(tmp_path)
    write(tmp_path / "other.json", '{"samples": ["c"], "label": "json"}')
    ok(tmp_path, "--configfile", "other.json", "--config", "n=7", "label=cli")
    assert (tmp_path / "out/c.txt").read_text() == "c 7 cli\n"
    assert not (tmp_path / "out/a.txt").exists()


def test_toml_and_several_configfiles_merge(tmp_path):
    pipefile(tmp_path, """
        configfile: "a.toml"
        configfile: "b.json"
        rule x:
            output: "x.txt"
            shell: echo {config[a]} {config[b]} > {output}
    """)
    write(tmp_path / "a.toml", 'a = "from-toml"\nb = 1\n')
    write(tmp_path / "b.json", '{"b": 2}')
    ok(tmp_path)
    assert (tmp_path / "x.txt").read_text() == "from-toml 2\n"


def test_config_is_empty_without_configfile(tmp_path):
    pipefile(tmp_path, """
        N = config.get("n", 1)
        rule x:
            output: "x.txt"
            shell: echo {N} > {output}
    """)
    ok(tmp_path)
    assert (tmp_path / "x.txt").read_text() == "1\n"
    ok(tmp_path, "--config", "n=5")
    assert (tmp_path / "x.txt").read_text() == "5\n"


@pytest.mark.parametrize("name, text, where, what", [
    ("config.yaml", "samples: [a, b\nn: 3\n", "config.yaml:2:", "invalid YAML in configfile"),
    ("config.json", '{"samples": ["a",\n  ]}', "config.json:2:3", "invalid JSON in configfile"),
    ("config.toml", 'a = 1\nb = = 2\n', "config.toml:2:", "invalid TOML in configfile"),
])
def test_config_errors_name_the_config_file_line_and_column(tmp_path, name, text, where, what):
    pipefile(tmp_path, f'configfile: "{name}"\nrule x:\n    output: "x"\n    shell: touch x\n')
    write(tmp_path / name, text)
    r = pyrule(tmp_path, "-n")
    assert r.rc == 2, str(r)
    assert where in r.err and what in r.err


def test_missing_configfile_points_at_the_statement(tmp_path):
    pipefile(tmp_path, 'configfile: "nope.yaml"\n')
    r = pyrule(tmp_path, "-n")
    assert r.rc == 2 and "Pipefile:1:13" in r.err and "no such file" in r.err


def test_config_word_after_config_options_stays_a_target(tmp_path):
    pipefile(tmp_path, """
        rule x:
            output: "x.txt"
            shell: echo {config[k]} > {output}
        rule y:
            output: "y.txt"
            shell: echo y > {output}
    """)
    ok(tmp_path, "--config", "k=1", "y.txt", "x.txt")
    assert (tmp_path / "x.txt").read_text() == "1\n" and (tmp_path / "y.txt").exists()


def test_a_slurm_node_loads_the_pipefile_with_the_runs_config(tmp_path):
    """What the Slurm executor's job script runs (`pyrule --run-job NAME -f PIPEFILE -- WORDS TARGET`,
    executors/slurm.py) with the words cli.config_args() gives it: the node sees the run's config."""
    pipefile(tmp_path, """
        configfile: "config.yaml"
        rule x:
            output: "x.txt"
            python:
                open(output[0], "w").write(f"{config['a']} {config['b']}")
    """)
    write(tmp_path / "config.yaml", "a: 1\nb: 2\n")
    write(tmp_path / "over.json", '{"a": "file"}')
    ok(tmp_path, "--run-job", "x", "-f", "Pipefile", "-q", "--",
       f"--configfile={tmp_path / 'over.json'}", "--config=b=cli", "x.txt")
    assert (tmp_path / "x.txt").read_text() == "file cli"


def test_a_config_key_that_does_not_exist_is_an_error_before_anything_runs(tmp_path):
    pipefile(tmp_path, """
        configfile: "config.yaml"
        rule x:
            output: "x.txt"
            input: table = "t.txt"
            shell: echo {input[table]} {config[label]} > {output}
    """)
    write(tmp_path / "config.yaml", "lable: 1\n")
    write(tmp_path / "t.txt", "")
    r = pyrule(tmp_path, "-n")
    assert r.rc == 2, str(r)
    assert "Pipefile:5:32: error: rule 'x': {config[label]} does not resolve: config has no 'label'" in r.err
    assert "did you mean '{config[lable]}'?" in r.err
    write(tmp_path / "config.yaml", "label: 1\n")
    ok(tmp_path)
    assert (tmp_path / "x.txt").read_text() == "t.txt 1\n"


def test_a_missing_configfile_is_skipped_when_the_command_line_gives_one(tmp_path):
    pipefile(tmp_path, """
        configfile: "config/config.yaml"
        rule x:
            output: "x.txt"
            shell: echo {config[k]} > {output}
    """)
    write(tmp_path / "test.yaml", "k: test\n")
    ok(tmp_path, "--configfile", "test.yaml")
    assert (tmp_path / "x.txt").read_text() == "test\n"
