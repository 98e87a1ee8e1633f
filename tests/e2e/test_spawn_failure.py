"""A shell job whose spawn fails (here: exec refuses a 140 KiB environment variable, E2BIG) fails
with a clear message, once, not retried; a job running beside it (a Python body, forked by the
runner, never exec'd) runs on and succeeds; the run says which failed."""

from __future__ import annotations

from pathlib import Path

from harness import pipefile, pyrule


def test_a_spawn_that_fails_fails_its_job_and_the_running_one_goes_on(tmp_path: Path):
    pipefile(tmp_path, """
        # exec takes no string over 128 KiB (MAX_ARG_STRLEN): a job exec'd with it fails to start
        _BIG = __import__("os").environ.setdefault("BIG", "x" * 140_000)
        default: all

        rule slow:
            output: "slow.txt"
            python:
                import time
                time.sleep(1.5)  # running while the shell job is spawned, and fails to
                open(output[0], "w").write("done\\n")

        rule shell:
            output: "shell.txt"
            retries: 2
            shell: echo never > {output}

        rule all:
            input: "slow.txt", "shell.txt"
    """)
    r = pyrule(tmp_path, "-j", "2", "-k")
    assert r.rc == 1, str(r)
    assert "cannot start: Argument list too long" in r.err, r.err
    assert r.err.count("Argument list too long") == 1, r.err  # not retried: it would fail the same way
    assert (tmp_path / "slow.txt").read_text() == "done\n"
    assert not (tmp_path / "shell.txt").exists()
    assert "shell" in r.err.partition("Argument list too long")[0].rsplit("\n", 1)[-1], r.err  # which job
