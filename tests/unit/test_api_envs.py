"""The Python API (pyrule/api.py) checks the rules' software environments before any job starts,
as the command does (issue 19): a missing container engine is a clear pyrule error naming the
rule, and no job of the run has run. In process, with real files and the real environment."""

from __future__ import annotations

import pytest

from pyrule import Workflow
from pyrule.errors import PyruleError


def _workflow(directory) -> Workflow:
    wf = Workflow(directory)

    @wf.rule(output="first.txt")
    def first(output):  # no container: it would run first, were nothing checked before
        open(output[0], "w").write("made\n")

    wf.rule("boxed", output="second.txt", input="first.txt", container="localhost/tools:1",
            shell="cp {input} {output}")
    return wf


def test_a_named_engine_that_does_not_exist_stops_the_run_before_any_job(tmp_path, monkeypatch):
    monkeypatch.setenv("PYRULE_CONTAINER_ENGINE", "no-such-engine")
    with pytest.raises(PyruleError) as e:
        _workflow(tmp_path).run(["second.txt"])
    assert "container engine 'no-such-engine' is not on PATH" in e.value.message
    assert "rule 'boxed'" in e.value.message
    assert not (tmp_path / "first.txt").exists()
    assert not (tmp_path / ".pyrule" / "runs").exists() or not list((tmp_path / ".pyrule" / "runs").iterdir())


def test_no_engine_on_path_stops_the_run_before_any_job(tmp_path, monkeypatch):
    monkeypatch.delenv("PYRULE_CONTAINER_ENGINE", raising=False)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(PyruleError) as e:
        _workflow(tmp_path).run(["second.txt"])
    assert "no container engine on PATH" in e.value.message and "rule 'boxed'" in e.value.message
    assert not (tmp_path / "first.txt").exists()


def test_a_dry_run_checks_too(tmp_path, monkeypatch):
    """As `pyrule -n` does: the check comes before deciding."""
    monkeypatch.setenv("PYRULE_CONTAINER_ENGINE", "no-such-engine")
    with pytest.raises(PyruleError, match="rule 'boxed'"):
        _workflow(tmp_path).run(["second.txt"], dry_run=True)
