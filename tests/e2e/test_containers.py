"""`container:` (issue 19, docs/environments.md), with a real podman and a real docker (each test
runs with both): the job runs in the image, its outputs land in the project, a new image reruns
exactly its rules, interrupts and a killed pyrule leave no container running. No registry: the
images are made here with `podman import` / `docker import` from a directory holding a static
busybox (tests/envs/install.sh installs podman, docker.io and busybox; tests/envs/dockerd.sh runs a
test dockerd of its own, started here when it does not run and then stopped at the end)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from envs.images import ENVS, IMAGE, cli, make_image, start_docker, stop_docker
from harness import kill_with_watchdog, spawn, wait_for


@dataclass
class Engine:
    name: str  # podman or docker
    image: str  # the test image, made in this engine's store
    made: list[str] = field(default_factory=list)  # the ids of the images the tests made besides

    @property
    def env(self) -> dict[str, str]:
        """For pyrule: the engine named (--container-engine's variable) and what its client needs."""
        return ENVS[self.name]

    def make_image(self, tmp: Path, tag: str, release: str, user: str = "") -> str:
        self.made.append(make_image(tmp, tag, release, self.name, user))
        return self.made[-1]

    def forget(self) -> None:
        """Remove the images the tests made (the store may be shared, and outlive the tests)."""
        subprocess.run([self.name, "rmi", "-f", *self.made], env={**os.environ, **self.env}, capture_output=True)

    def ours(self) -> list[str]:
        """The running containers a pyrule started."""
        return cli(self.name, "ps", "-q", "--filter", "label=pyrule.job").split()

    def stopped(self, since: float) -> bool:
        """Whether a pyrule's container was stopped by the engine's `stop` since then (docker's
        events; podman records none with the tests' settings: True). A container's processes carry
        the job's marker and die with the job's anyway: this tells that `stop` was run."""
        if self.name != "docker":
            return True
        return bool(cli("docker", "events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
                        "--filter", "event=stop", "--filter", "label=pyrule.job", "--format", "{{.ID}}").split())


@pytest.fixture(scope="module", params=["podman", "docker"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    # (in CI, CI=true: tests/conftest.py makes a skip a failure; tests/envs/install.sh installs them)
    if not os.path.exists("/bin/busybox"):
        pytest.skip("needs a static busybox (bash tests/envs/install.sh, as root)")
    if request.param == "docker" and start_docker():
        request.addfinalizer(stop_docker)
    elif not shutil.which(request.param):
        pytest.skip(f"needs {request.param} (bash tests/envs/install.sh, as root)")
    found = Engine(request.param, IMAGE)
    make_image(tmp_path_factory.mktemp("image"), IMAGE, "pyrule-test", found.name)
    request.addfinalizer(found.forget)
    return found


def test_job_runs_in_the_image_and_writes_the_project(project, engine):
    project.pipefile(f"""
        container: "{engine.image}"

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
    r = project.run(env=engine.env)
    assert r.rc == 0, str(r)
    inside = (project / "in.txt").read_text()
    assert inside == "ID=pyrule-test\nbusybox\n"
    assert "ID=pyrule-test" not in (project / "host.txt").read_text()
    assert (project / "in.txt").stat().st_uid == os.getuid()
    assert not engine.ours()
    r = project.run("-n", "-q", env=engine.env)
    assert r.rc == 0 and r.out == "", str(r)  # up to date: the image is the same


def test_a_new_image_reruns_exactly_its_rules(project, engine, tmp_path):
    tag = f"localhost/pyrule-envs-changing-{os.getpid()}:latest"  # not another session's, in a shared store
    engine.make_image(tmp_path, tag, "one")
    project.pipefile(f"""
        rule all:
            input: "a.txt", "b.txt", "c.txt"

        rule a:
            output: "a.txt"
            container: "{tag}"
            shell: cat /etc/os-release > {{output}}

        rule b:
            output: "b.txt"
            container: "{engine.image}"
            shell: echo b > {{output}}

        rule c:
            output: "c.txt"
            shell: echo c > {{output}}
    """)
    assert project.run(env=engine.env).rc == 0
    new = engine.make_image(tmp_path, tag, "two")  # the same name, one file differs
    rc, out, err = project.run("-n", "-q", env=engine.env)
    assert rc == 0, err
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("a:"), out
    assert lines[0].startswith(f"a: image {tag} changed (") and new.removeprefix("sha256:")[:12] in lines[0], lines[0]
    r = project.run(env=engine.env)
    assert r.rc == 0 and r.ran == {"a"}, str(r)
    assert (project / "a.txt").read_text() == "ID=two\n"


def test_a_missing_image_is_an_error_before_any_job(project, engine):
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
    rc, out, err = project.run(env=engine.env)
    assert rc == 2, err
    assert "rule 'x'" in err and "localhost/no-such-image:0" in err and "Pipefile:11" in err, err
    assert "Traceback" not in err
    assert not (project / "plain.txt").exists()


def test_a_missing_image_downstream_is_an_error_before_its_upstream_runs(project, engine):
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
    rc, out, err = project.run(env=engine.env)
    assert rc == 2 and "rule 'b'" in err and "Pipefile:5" in err, err
    assert not (project / "a.txt").exists()  # nothing ran


def test_a_missing_engine_is_an_error(project, engine):
    project.pipefile(f"""
        rule x:
            output: "x.txt"
            container: "{engine.image}"
            shell: touch {{output}}
    """)
    rc, out, err = project.run(env={**engine.env, "PYRULE_CONTAINER_ENGINE": "no-such-engine"})
    assert rc == 2 and "container engine 'no-such-engine' is not on PATH" in err and "rule 'x'" in err, err


def _long_job(project, image) -> None:
    # First run: waits, deaf to the signals the engine's client passes on (so only a stop of the
    # container ends it); later runs: finish at once (the marker is in the project, seen from both sides).
    project.pipefile(f"""
        rule slow:
            output: "slow.txt"
            container: "{image}"
            shell: if [ -e started ]; then echo done > {{output}}; else trap '' INT TERM HUP; touch started; sleep 60; fi
    """)


def test_ctrl_c_stops_the_container(project, engine):
    _long_job(project, engine.image)
    since = time.time()
    p = spawn(project, env=engine.env)
    try:
        wait_for(lambda: engine.ours(), timeout=30, what="the container")
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=60)
        assert not engine.ours()
        assert engine.stopped(since)
    finally:
        if p.poll() is None:
            p.kill()


def test_a_killed_pyrules_container_is_stopped_by_the_next_run(project, engine):
    _long_job(project, engine.image)
    p = spawn(project, env=engine.env)
    try:
        wait_for(lambda: engine.ours(), timeout=30, what="the container")
        kill_with_watchdog(p)
        p.communicate(timeout=30)
        assert engine.ours()  # nothing stopped it: pyrule and its watchdog are gone
        r = project.run(env=engine.env, timeout=120)
        assert r.rc == 0, str(r)
        assert not engine.ours()  # (recovery kills the dead job's marked processes, the container's too, then stops it)
        assert "was running when pyrule died" in r.err
        assert (project / "slow.txt").read_text() == "done\n"
    finally:
        if p.poll() is None:
            p.kill()


def test_a_failing_body_fails_the_job_with_its_code_and_env_is_passed(project, engine):
    project.pipefile(f"""
        container: "{engine.image}"

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
    r = project.run("-k", env=engine.env)
    assert r.rc != 0, str(r)
    assert (project / "env.txt").read_text() == "hello\n"
    assert not (project / "pipe.txt").exists()  # pipefail, as bash -euo pipefail runs a shell body
    assert r.jobs()["pipe"]["status"] == "failed", r.jobs()
    assert not engine.ours()


def test_outputs_belong_to_the_invoking_user_whatever_the_images_user(project, engine, tmp_path):
    tag = f"localhost/pyrule-envs-user-{os.getpid()}:1"
    engine.make_image(tmp_path, tag, "user", user="1234:1234")  # as images that name a USER
    project.pipefile(f"""
        rule x:
            output: "x.txt"
            container: "{tag}"
            shell: id -u > {{output}}
    """)
    r = project.run(env=engine.env)
    assert r.rc == 0, str(r)
    assert (project / "x.txt").read_text() == f"{os.getuid()}\n"
    assert (project / "x.txt").stat().st_uid == os.getuid()
