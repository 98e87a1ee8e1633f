"""The `group:` rule section (packing short jobs on Slurm, docs/slurm.md): what the Pipefile
accepts, `--fmt` keeps it, `--convert` maps Snakemake's `group:`, and it changes nothing locally."""

from __future__ import annotations

from harness import ok, pipefile, pyrule, write


def test_group_is_accepted_and_changes_nothing_locally(tmp_path):
    pipefile(tmp_path, """
        rule all:
            input: "a.txt", "b.txt", "c.txt"

        rule a:
            output: "a.txt"
            group: "short"
            shell: echo a > {output}

        rule b:
            output: "b.txt"
            group: False
            shell: echo b > {output}

        rule c:
            output: "c.txt"
            group: True
            shell: echo c > {output}
        """)
    r = ok(tmp_path)
    assert r.ran >= {"a", "b", "c"}, r.ran


def test_a_bad_group_says_where_and_what_to_write(tmp_path):
    pipefile(tmp_path, """
        rule a:
            output: "a.txt"
            group: "two words"
            shell: touch {output}
        """)
    r = pyrule(tmp_path, "-n")
    assert r.rc == 2
    assert "Pipefile:3:5: error: rule 'a': group: must be a name" in r.err, r.err
    assert "group: False" in r.err and "Traceback" not in r.err


def test_fmt_keeps_group(tmp_path):
    pipefile(tmp_path, 'rule a:\n    group:   "short"\n    output: "a.txt"\n    shell: touch {output}\n', dedent=False)
    ok(tmp_path, "--fmt")
    assert (tmp_path / "Pipefile").read_text() == 'rule a:\n    output: "a.txt"\n    group: "short"\n    shell: touch {output}\n'


def test_convert_maps_snakemakes_group(tmp_path):
    write(tmp_path / "Snakefile", 'rule a:\n    output: "a/{i}.txt"\n    group: "short"\n    shell: "touch {output}"\n\n'
                                  'rule b:\n    output: "b.txt"\n    group: lambda wc: "x"\n    shell: "touch {output}"\n')
    r = pyrule(tmp_path, "--convert", "Snakefile")
    assert r.rc == 0, r.err
    assert '    group: "short"\n' in r.out
    assert '    # group: lambda wc: "x"' in r.out
    assert "Snakefile:8: not converted: rule 'b': group:" in r.err


def test_the_language_server_offers_group_with_its_documentation(tmp_path):
    import pytest

    pytest.importorskip("pygls")
    from pyrule.lsp.complete import complete
    from pyrule.lsp.model import Model

    text = 'rule a:\n    output: "a.txt"\n    \n    shell: touch {output}\n'
    path = write(tmp_path / "Pipefile", text)
    model = Model()
    items = {i.label: i for i in complete(model, model.update(str(path), text), 2, 4)}
    assert "group" in items, sorted(items)
    doc = items["group"].documentation
    assert "pack" in str(getattr(doc, "value", doc))
