"""`container:` (issue 19, docs/environments.md), with a real podman: the job runs in the image,
its outputs land in the project, a new image reruns exactly its rules, interrupts and a killed
pyrule leave no container running. No registry: the images are made here with `podman import`
from a directory holding a static busybox (tests/envs/install.sh installs podman and busybox)."""

from __future__ import annotations

import os
import shutil
import signal

import pytest
from envs.images import ENV, IMAGE, make_image, podman
from harness import kill_with_watchdog, spawn, wait_for

# (in CI, CI=true: tests/conftest.py makes the skip a failure; tests/envs/install.sh installs them)
pytestmark = pytest.mark.skipif(not (shutil.which("podman") and os.path.exists("/bin/busybox")),
                                reason="needs podman and a static busybox (bash tests/envs/install.sh, as root)")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    make_image(tmp_path_factory.mktemp("image"), IMAGE, "pyrule-test")
    return IMAGE


def ours() -> list[str]:
    """The running containers a pyrule started."""
    return podman("ps", "-q", "--filter", "label=pyrule.job").split()


def test_job_runs_in_the_image_and_writes_the_project(project, image):
    project.pipefile(f"""
        container: "{image}"

        rule all:
            input: "in.txt", "host.txt"

        rule inside:
            output: "in.txt"
            shell: cat /etc/os-release > {{output}}; readlink /bin/sh >> {{output}}

        rule host:
            output: "host.txt"
            container: None
            shell: cat /etc/os-release > {{output}}
    """)
    r = project.run(env=ENV)
    assert r.rc == 0, str(r)
    inside = (project / "in.txt").read_text()
    assert inside == "ID=pyrule-test\nbusybox\n"
    assert "ID=pyrule-test" not in (project / "host.txt").read_text()
    assert (project / "in.txt").stat().st_uid == os.getuid()
    assert not ours()
    assert project.dry() == []  # up to date: the image is the same


def test_a_new_image_reruns_exactly_its_rules(project, image, tmp_path):
    tag = "localhost/pyrule-envs-changing:latest"
    make_image(tmp_path, tag, "one")
    project.pipefile(f"""
        rule all:
            input: "a.txt", "b.txt", "c.txt"

        rule a:
            output: "a.txt"
            container: "{tag}"
            shell: cat /etc/os-release > {{output}}

        rule b:
            output: "b.txt"
            container: "{image}"
            shell: echo b > {{output}}

        rule c:
            output: "c.txt"
            shell: echo c > {{output}}
    """)
    assert project.run(env=ENV).rc == 0
    new = make_image(tmp_path, tag, "two")  # the same name, one file differs
    rc, out, err = project.run("-n", "-q", env=ENV)
    assert rc == 0, err
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("a:"), out
    assert lines[0].startswith(f"a: image {tag} changed (") and new.removeprefix("sha256:")[:12] in lines[0], lines[0]
    r = project.run(env=ENV)
    assert r.rc == 0 and r.ran == {"a"}, str(r)
    assert (project / "a.txt").read_text() == "ID=two\n"


def test_a_missing_image_is_an_error_before_any_job(project, image):
    project.pipefile("""
        rule all:
            input: "plain.txt", "x.txt"

        rule plain:
            output: "plain.txt"
            shell: touch {output}

        rule x:
            output: "x.txt"
            container: "localhost/no-such-image:0"
            shell: touch {output}
    """)
    rc, out, err = project.run(env=ENV)
    assert rc == 2, err
    assert "rule 'x'" in err and "localhost/no-such-image:0" in err and "Pipefile:11" in err, err
    assert "Traceback" not in err
    assert not (project / "plain.txt").exists()


def test_a_missing_image_downstream_is_an_error_before_its_upstream_runs(project, image):
    project.pipefile("""
        rule b:
            output: "b.txt"
            input: "a.txt"
            container: "localhost/no-such-image:0"
            shell: cp {input} {output}

        rule a:
            output: "a.txt"
            shell: touch {output}
    """)
    rc, out, err = project.run(env=ENV)
    assert rc == 2 and "rule 'b'" in err and "Pipefile:5" in err, err
    assert not (project / "a.txt").exists()  # nothing ran


def test_a_missing_engine_is_an_error(project, image):
    project.pipefile(f"""
        rule x:
            output: "x.txt"
            container: "{image}"
            shell: touch {{output}}
    """)
    rc, out, err = project.run(env={**ENV, "PYRULE_CONTAINER_ENGINE": "no-such-engine"})
    assert rc == 2 and "container engine 'no-such-engine' is not on PATH" in err and "rule 'x'" in err, err


def _long_job(project, image) -> None:
    # First run: waits; later runs: finish at once (the marker is in the project, seen from both sides).
    project.pipefile(f"""
        rule slow:
            output: "slow.txt"
            container: "{image}"
            shell: if [ -e started ]; then echo done > {{output}}; else touch started; sleep 60; fi
    """)


def test_ctrl_c_stops_the_container(project, image):
    _long_job(project, image)
    p = spawn(project, env=ENV)
    try:
        wait_for(lambda: ours(), timeout=30, what="the container")
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=60)
        assert not ours()
    finally:
        if p.poll() is None:
            p.kill()


def test_a_killed_pyrules_container_is_stopped_by_the_next_run(project, image):
    _long_job(project, image)
    p = spawn(project, env=ENV)
    try:
        wait_for(lambda: ours(), timeout=30, what="the container")
        kill_with_watchdog(p)
        p.communicate(timeout=30)
        assert ours()  # nothing stopped it: pyrule and its watchdog are gone
        r = project.run(env=ENV, timeout=120)
        assert r.rc == 0, str(r)
        assert not ours()
        assert "was running when pyrule died" in r.err
        assert (project / "slow.txt").read_text() == "done\n"
    finally:
        if p.poll() is None:
            p.kill()


def test_a_failing_body_fails_the_job_with_its_code_and_env_is_passed(project, image):
    project.pipefile(f"""
        container: "{image}"

        rule all:
            input: "env.txt", "pipe.txt"

        rule env:
            output: "env.txt"
            env: GREETING = "hello"
            shell: echo $GREETING > {{output}}

        rule pipe:
            output: "pipe.txt"
            shell: false | true; echo unreachable > {{output}}
    """)
    r = project.run("-k", env=ENV)
    assert r.rc != 0, str(r)
    assert (project / "env.txt").read_text() == "hello\n"
    assert not (project / "pipe.txt").exists()  # pipefail, as bash -euo pipefail runs a shell body
    assert r.jobs()["pipe"]["status"] == "failed", r.jobs()
    assert not ours()
