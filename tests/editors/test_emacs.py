"""The Emacs major mode (editors/emacs/pipefile-mode.el), run by a batch Emacs: it byte-compiles
without warnings, and its ERT tests (emacs/pipefile-mode-test.el) pass, including the faces of
every shared construct and of the examples after `font-lock-ensure'."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import editor_support as es  # noqa: E402


@pytest.fixture(scope="module")
def emacs():
    return es.require_tool("emacs")


def test_byte_compiles_without_warnings(emacs, tmp_path):
    source = tmp_path / "pipefile-mode.el"
    shutil.copy(es.EDITORS / "emacs" / "pipefile-mode.el", source)
    result = es.run(
        [
            emacs,
            "--batch",
            "-Q",
            "--eval",
            "(setq byte-compile-error-on-warn t)",
            "-f",
            "batch-byte-compile",
            str(source),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "pipefile-mode.elc").exists()
    assert "Warning" not in result.stderr, result.stderr


def test_ert(emacs, tmp_path):
    cases: list[tuple[Path, es.Expect]] = []
    samples = es.write_samples(tmp_path / "samples")
    for name, expects in es.sample_expectations().items():
        cases += [(samples[name], e) for e in expects]
    for path in es.example_files():
        cases += [(path, e) for e in es.parser_expectations(path.read_text(), str(path))]
    result = es.emacs_ert(cases, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "unexpected" in output and " 0 unexpected" in output, output
    assert "skipped" not in output.split("Ran ", 1)[-1].split("\n")[0], output
