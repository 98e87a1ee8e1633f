"""Issue 22's words through the Python API (pyrule.Workflow, the same Definitions a Pipefile
fills): script=, upto(), touch(), ancient(), multiext(); run in process on real files."""

from __future__ import annotations

from pyrule import Workflow, ancient, multiext, touch, upto


def test_api_script_upto_and_flags(tmp_path):
    (tmp_path / "s.py").write_text("open(snakemake.output.table, 'w').write(str(snakemake.threads))\n")
    (tmp_path / "ref.txt").write_text("ref\n")
    wf = Workflow(tmp_path)
    wf.rule("s", output={"table": "t.txt", "flag": touch("t.done")}, input=ancient("ref.txt"),
            resources={"cores": upto(8)}, script="s.py")
    wf.rule("m", output=multiext("m", ".a", ".b"), shell="touch {output}")
    result = wf.run(["t.done", "m.a"], jobs=3)
    assert result.ok
    assert (tmp_path / "t.txt").read_text() == "3"
    assert (tmp_path / "t.done").exists() and (tmp_path / "m.b").exists()
    (tmp_path / "ref.txt").write_text("another ref\n")
    decisions = wf.run(["t.done", "m.a"], jobs=3, dry_run=True)
    assert [d.reason for d in decisions] == [None, None]
