"""Python bodies in a container (issue 19, docs/environments.md): run by the image's python3 from the
shipped job spec (pyjob.py), with no pyrule in the image. Real podman; the image with python3 is a
copy of this machine's /usr/bin/python3.X and its standard library, made once with `podman import`
(tests/envs/images.py); the busybox image has no python3."""

from __future__ import annotations

import os
import shutil

import pytest
from envs.images import ENV, PYTHON_IMAGE, make_image, make_python_image

NO_PYTHON = "localhost/pyrule-envs-nopython:1"  # (its own tag: other sessions rebuild the shared one)

pytestmark = pytest.mark.skipif(
    not (shutil.which("podman") and os.path.exists("/bin/busybox") and os.path.exists("/usr/bin/python3")),
    reason="needs podman, a static busybox and /usr/bin/python3 (bash tests/envs/install.sh, as root)")


@pytest.fixture(scope="session")
def python_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_python_image(tmp_path_factory.mktemp("python-image"))


PIPEFILE = f"""
import os
STEP = 10
python:
    def scaled(x):
        return x * STEP

rule all:
    input: "a.txt", "b.txt"

rule make:
    output: "{{s}}.txt"
    input: "data.in"
    params: k = 2
    container: "{PYTHON_IMAGE}"
    python:
        release = open("/etc/os-release").read().strip()
        with open(output[0], "w") as f:
            f.write(f"{{release}} {{wildcards.s}} {{scaled(params.k)}} {{threads}}" + os.linesep)
        report("made", wildcards.s)
        shell("cat {{input}} >> {{output}}")

rule bad:
    output: "bad.txt"
    container: "{PYTHON_IMAGE}"
    python:
        x = 1
        raise ValueError("broken on purpose")
"""


def test_python_body_runs_in_the_image(project, python_image):
    project.pipefile(PIPEFILE)
    (project / "data.in").write_text("data\n")
    r = project.run(env=ENV)
    assert r.rc == 0, str(r)
    for s in "ab":  # the image's /etc/os-release, written into the project, as the invoking user
        assert (project / f"{s}.txt").read_text() == f"ID=pyrule-python {s} 20 1\ndata\n"
        assert (project / f"{s}.txt").stat().st_uid == os.getuid()
    header, *rows = [ln.split("\t") for ln in
                     sorted((project / ".pyrule" / "runs").glob("*/stats.tsv"))[-1].read_text().splitlines()]
    assert {row[1]: row[header.index("made")] for row in rows if row[0] == "make"} == {
        "make[s=a]": "a", "make[s=b]": "b"}
    rc, out, err = project.run("-n", "-q", env=ENV)
    assert rc == 0 and out.strip() == "", out + err  # up to date

    rc, out, err = project.run("bad.txt", env=ENV)
    assert rc == 1, err
    line = PIPEFILE.splitlines().index('        raise ValueError("broken on purpose")') + 1
    log = (project / ".pyrule" / "logs" / "bad" / "bad.log").read_text()
    assert f'File "Pipefile", line {line}, in <module>' in log and "ValueError: broken on purpose" in log, log
    assert "run.py\", line" not in log, log  # the runner's own frames are left out


def test_an_image_without_python3_is_an_error_before_any_job(project, python_image, tmp_path):
    make_image(tmp_path, NO_PYTHON, "pyrule-test")
    project.pipefile(f"""
        rule all:
            input: "plain.txt", "x.txt"

        rule plain:
            output: "plain.txt"
            shell: touch {{output}}

        rule x:
            output: "x.txt"
            container: "{NO_PYTHON}"
            python:
                open(output[0], "w").close()
    """)
    rc, out, err = project.run(env=ENV)
    assert rc == 2, err
    assert f"rule 'x': the image {NO_PYTHON} has no python3" in err and "Pipefile:11" in err, err
    assert "install Python 3 in the image" in err and "Traceback" not in err, err
    assert not (project / "plain.txt").exists()
    rc, out, err = project.run("--build-envs", env=ENV)  # checked there too
    assert rc == 2 and f"rule 'x': the image {NO_PYTHON} has no python3" in err, out + err


def test_a_top_level_name_that_cannot_be_shipped_is_an_error_before_any_job(project, python_image):
    project.pipefile(f"""
        python:
            class Box:
                pass

        rule x:
            output: "x.txt"
            container: "{PYTHON_IMAGE}"
            python:
                open(output[0], "w").write(str(Box()))
    """)
    rc, out, err = project.run(env=ENV)
    assert rc == 2, err
    assert "rule 'x': its body uses the top-level name 'Box': the class Box is defined in the Pipefile" in err, err
    assert "Pipefile:10" in err and "params:" in err and "Traceback" not in err, err
    assert not (project / "x.txt").exists()


def test_a_script_body_and_touch_outputs_in_the_image(project, python_image):
    project.write("scripts/s.py", """
import platform
with open(snakemake.output.table, "w") as f:
    f.write(f"{open('/etc/os-release').read().strip()} {snakemake.params.title} {snakemake.config['who']} "
            f"{snakemake.wildcards.s} {platform.python_version_tuple()[0]}\\n")
""")
    project.pipefile(f"""
        config = {{"who": "pipefile"}}

        rule s:
            output: table = "{{s}}.tsv", flag = touch("{{s}}.flag")
            params: title = "T"
            container: "{PYTHON_IMAGE}"
            script: "scripts/s.py"
    """)
    r = project.run("x.tsv", env=ENV)
    assert r.rc == 0, str(r)
    assert (project / "x.tsv").read_text() == "ID=pyrule-python T pipefile x 3\n"
    assert (project / "x.flag").exists()


def test_a_value_returned_in_the_image_flows_to_a_reader_and_is_read_in_its_body(project, python_image):
    """A body in the image returns a value (written by the shipped bodyvalue.py: same bytes as
    locally), a reader's params and its own body (in the image too) read it; an equal value cuts off."""
    project.pipefile(f"""
        rule estimate:
            input: "n.txt"
            container: "{PYTHON_IMAGE}"
            python:
                return {{"n": int(open(input[0]).read()), "image": open("/etc/os-release").read().strip()}}

        rule use:
            output: "use.txt"
            params: n = lambda w: values.estimate.get()["n"]
            container: "{PYTHON_IMAGE}"
            python:
                with open(output[0], "w") as f:
                    f.write(f"{{params.n}} {{values.estimate.get()['image']}}\\n")
    """)
    (project / "n.txt").write_text("3\n")
    r = project.run("use.txt", env=ENV)
    assert r.rc == 0, str(r)
    assert (project / "use.txt").read_text() == "3 ID=pyrule-python\n"
    assert '"n": 3' in project.run("--value", "estimate", env=ENV).out
    (project / "n.txt").write_text("3\n\n")  # the producer reruns, its value is equal: the reader stays
    r = project.run("use.txt", env=ENV)
    assert r.rc == 0 and "done  estimate" in r.err and "use" not in r.err.replace("estimate", ""), str(r)
